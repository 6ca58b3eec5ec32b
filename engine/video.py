"""Video and image I/O: shot files, the assembled film, keyframe PNGs and the contact sheet.

Encoding settings (one place, so every shot and the film match):

* H.264 (libx264), ``yuv420p``, ``-preset veryfast -crf 18``: fast on a 2-core CPU, visually clean.
* RGB -> YUV with the BT.709 matrix (bit-exact swscale), limited range, and the stream is tagged BT.709, so browsers
  and ffmpeg decode the colours back the same way (untagged streams are guessed differently).
* ``+faststart`` (the index sits before the data, so browsers start playing at once).
* Byte-deterministic: x264 runs single-threaded (with 2 frame threads its bitstream was seen to
  differ between identical runs on a loaded machine, though the decoded frames were equal; one thread
  costs ~12% more encode time), global metadata is stripped and the muxer runs in bitexact mode (no
  creation time, no version string).

All writers are atomic: they write a temporary file beside the target and rename it over the target.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from story.files import atomic_replace, temp_path_for

PRESET = "veryfast"
"""x264 preset: about 3x faster than ``medium`` at a slightly larger file for the same quality."""
CRF = 18
"""x264 constant rate factor: visually near-lossless for animatics and diffusion output."""
ENCODER_THREADS = 1
"""x264 thread count: one thread is the only setting whose bitstream is repeatable run to run."""

_COLOUR_TAGS = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
_TO_YUV = "scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int+bitexact,format=yuv420p"
RESIZE_FILTER = Image.Resampling.LANCZOS
"""Filter :func:`load_image` resizes with (Lanczos: sharp, no ringing worth noting on photos)."""


class VideoInfo(NamedTuple):
    """What :func:`video_info` reports (unpacks as ``frames, width, height, fps``)."""

    frames: int
    width: int
    height: int
    fps: float


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def check_tools() -> None:
    """Raise ``ValueError`` (one line, with the fix) unless every tool the writers use works: an ffmpeg
    that runs and has the libx264 encoder (shots, film), and Pillow with FreeType (the preview's captions
    and the contact sheet's labels use its bundled TrueType font). Takes ~0.1 s (one ``ffmpeg -encoders``)."""
    try:
        exe = _ffmpeg()
    except RuntimeError:
        raise ValueError("ffmpeg was not found: pip install imageio-ffmpeg (it ships one), or set "
                         "IMAGEIO_FFMPEG_EXE to an ffmpeg with libx264") from None
    try:
        proc = subprocess.run([exe, "-hide_banner", "-nostdin", "-encoders"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ValueError(f"ffmpeg {exe} does not run ({exc}); pip install imageio-ffmpeg, or set IMAGEIO_FFMPEG_EXE "
                         "to a working ffmpeg") from None
    if proc.returncode != 0 or not re.search(r"^\s*V\S*\s+libx264\s", proc.stdout, flags=re.M):
        raise ValueError(f"ffmpeg {exe} has no libx264 encoder (H.264 is what shots and films are written in); "
                         "use the ffmpeg imageio-ffmpeg ships, or set IMAGEIO_FFMPEG_EXE to one built with libx264")
    from PIL import features

    if not features.check("freetype2"):
        raise ValueError("Pillow was built without FreeType, which the captions and the contact sheet need; "
                         "pip install --force-reinstall pillow (the PyPI wheels have it)")


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise ValueError(f"frames must be a uint8 array (F, H, W, 3), got {dtype} {shape}")
    if frames.shape[0] < 1:
        raise ValueError("frames is empty: a video needs at least one frame")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(
            f"frame size {frames.shape[2]}x{frames.shape[1]} is odd: H.264 yuv420p needs even width and height"
        )


def _encoder_cmd(width: int, height: int, fps: int, out: Path) -> list[str]:
    """ffmpeg command reading raw RGB frames on stdin and writing the H.264 MP4 ``out``."""
    return [
        # One filter thread: the RGB -> YUV conversion in slices on several threads is the one part of this
        # command not known to be repeatable (a shot of identical frames once encoded differently under
        # heavy load, from the slice boundary down); one thread gives the same bytes at no measured cost.
        _ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-filter_threads", "1",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps),
        "-i", "pipe:0", "-an",
        "-vf", f"{_TO_YUV},{_COLOUR_TAGS}",
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-threads", str(ENCODER_THREADS),
        "-movflags", "+faststart", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-f", "mp4", str(out),
    ]


class _Encoder:
    """A running ffmpeg encoder fed frame by frame; finishes into ``path`` atomically."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: int) -> None:
        if fps < 1:
            raise ValueError(f"fps must be a positive integer, got {fps}")
        self.path = Path(path)
        self.size = (height, width)
        self.tmp = temp_path_for(self.path)
        self.proc = subprocess.Popen(
            _encoder_cmd(width, height, fps, self.tmp),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def write(self, frames: np.ndarray) -> None:
        """Append frames ``(F, H, W, 3)`` uint8 of the encoder's size."""
        if frames.shape[1:3] != self.size:
            self.abort()
            raise ValueError(
                f"frame size {frames.shape[2]}x{frames.shape[1]} differs from the video's "
                f"{self.size[1]}x{self.size[0]}: all frames of a video must have one size"
            )
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            self.finish()  # raises with ffmpeg's message

    def finish(self) -> None:
        """Close the input, wait for ffmpeg, and move the file into place."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        err = self.proc.stderr.read().decode("utf-8", "replace").strip()
        self.proc.stderr.close()
        if self.proc.wait() != 0:
            self.tmp.unlink(missing_ok=True)
            last = err.splitlines()[-1] if err else "no message"
            raise ValueError(f"ffmpeg could not encode {self.path}: {last}")
        atomic_replace(self.tmp, self.path)

    def abort(self) -> None:
        """Stop ffmpeg and remove the temporary file."""
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        self.tmp.unlink(missing_ok=True)


def write_video(frames: np.ndarray, path: str | os.PathLike, fps: int) -> None:
    """Encode ``frames`` ``(F, H, W, 3)`` uint8 RGB as an H.264 yuv420p MP4 at ``fps``, atomically.

    Same frames in, same bytes out (see the module docstring)."""
    _check_frames(frames)
    enc = _Encoder(path, frames.shape[2], frames.shape[1], fps)
    try:
        enc.write(frames)  # (F, H, W, 3)
    except BaseException:
        if enc.proc.poll() is None:
            enc.abort()
        raise
    enc.finish()


_VIDEO_LINE = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+).*?, (?P<pix>\w+)(?:\(|,).*?(?P<w>\d{2,5})x(?P<h>\d{2,5})")
_FPS = re.compile(r"([\d.]+) fps")


def _probe(path: str | os.PathLike) -> tuple[VideoInfo, str, str]:
    """(info, codec, pixel format) of the first video stream, from a stream copy (no decoding)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video {path} does not exist")
    proc = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-map", "0:v:0",
         "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no message"
        raise ValueError(f"cannot read video {path}: {last}")
    stream = next((l for l in proc.stderr.splitlines() if " Video: " in l), None)
    counts = re.findall(r"^frame=(\d+)$", proc.stdout, flags=re.M)
    m = _VIDEO_LINE.search(stream or "")
    fps = _FPS.search(stream or "")
    if not (m and counts and fps):
        raise ValueError(f"cannot read video {path}: no video stream information found")
    info = VideoInfo(int(counts[-1]), int(m["w"]), int(m["h"]), float(fps.group(1)))
    return info, m["codec"], m["pix"]


def video_info(path: str | os.PathLike) -> VideoInfo:
    """``(frames, width, height, fps)`` of a video file without decoding it (a stream copy)."""
    return _probe(path)[0]


def video_format(path: str | os.PathLike) -> tuple[str, str]:
    """``(codec, pixel_format)`` of a video's first stream, e.g. ``("h264", "yuv420p")``."""
    _, codec, pix = _probe(path)
    return codec, pix


def read_video(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video, ``(F, H, W, 3)`` uint8 RGB, exactly as many as the stream holds
    (decoded straight into one preallocated array)."""
    info = video_info(path)
    out = np.empty((info.frames, info.height, info.width, 3), np.uint8)  # (F, H, W, 3)
    proc = subprocess.Popen(
        [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path), "-map", "0:v:0",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-fps_mode", "passthrough", "pipe:1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    view = memoryview(out).cast("B")
    got = 0
    while got < len(view):
        n = proc.stdout.readinto(view[got:])
        if not n:
            break
        got += n
    extra = proc.stdout.read(1)
    err = proc.stderr.read().decode("utf-8", "replace").strip()
    proc.stdout.close()
    proc.stderr.close()
    if proc.wait() != 0:
        raise ValueError(f"cannot decode video {path}: {err.splitlines()[-1] if err else 'no message'}")
    per_frame = info.width * info.height * 3
    if got != len(view) or extra:
        raise ValueError(f"decoding {path} gave {got // per_frame}{'+' if extra else ''} frames, the stream holds {info.frames}")
    return out


def assemble_film(shot_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike, fps: int) -> None:
    """Concatenate the shot files into one H.264 yuv420p MP4 at ``fps``, atomically.

    Every frame of every shot appears exactly once, in order. The shots must share one frame size
    and rate. Shots that are all H.264 yuv420p (what :func:`write_video` writes) are joined without
    re-encoding (ffmpeg's concat demuxer, stream copy: no generation loss, a fraction of a second);
    the result is checked to hold every frame. Otherwise moviepy decodes and chains the clips and
    the frames are fed to the same encoder as :func:`write_video` (moviepy's own writer forces
    ``yuva420p`` for libx264 in moviepy 2.1, which we don't want).
    """
    if not shot_paths:
        raise ValueError("assemble_film needs at least one shot file")
    probes = [_probe(p) for p in shot_paths]
    infos = [i for i, _, _ in probes]
    sizes = {(i.width, i.height) for i in infos}
    if len(sizes) != 1:
        raise ValueError(f"shots have different frame sizes {sorted(sizes)}: render every shot at one size")
    width, height = sizes.pop()
    rates = sorted({i.fps for i in infos})
    if rates != [float(fps)]:
        raise ValueError(f"shots play at {rates} fps, the film at {fps}: render every shot at the film's rate")
    if all((codec, pix) == ("h264", "yuv420p") for _, codec, pix in probes) and _concat_copy(
            shot_paths, out_path, sum(i.frames for i in infos)):
        return
    _assemble_reencode(shot_paths, out_path, fps, infos, width, height)


def _concat_copy(shot_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike, frames: int) -> bool:
    """Join H.264 shot files by stream copy into ``out_path`` (atomically); False, leaving nothing,
    when ffmpeg fails or the result does not hold exactly ``frames`` frames."""
    out = Path(out_path)
    tmp, listing = temp_path_for(out), temp_path_for(out.with_suffix(".txt"))
    quote = lambda p: "'" + str(Path(p).resolve()).replace("'", "'\\''") + "'"  # noqa: E731 - concat list syntax
    listing.write_text("ffconcat version 1.0\n" + "".join(f"file {quote(p)}\n" for p in shot_paths))
    try:
        proc = subprocess.run(
            [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0",
             "-i", str(listing), "-map", "0:v:0", "-c", "copy", "-movflags", "+faststart", "-map_metadata", "-1",
             "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "mp4", str(tmp)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0 or video_info(tmp).frames != frames:
            tmp.unlink(missing_ok=True)
            return False
        atomic_replace(tmp, out)
        return True
    except ValueError:
        tmp.unlink(missing_ok=True)
        return False
    finally:
        listing.unlink(missing_ok=True)


def _assemble_reencode(shot_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike, fps: int,
                       infos: Sequence[VideoInfo], width: int, height: int) -> None:
    """:func:`assemble_film` by decoding every shot (moviepy) and encoding the film again."""
    from moviepy import VideoFileClip, concatenate_videoclips

    clips = [VideoFileClip(str(p), audio=False).with_fps(fps) for p in shot_paths]
    try:
        # Each clip lasts exactly its frame count / fps, so frame i of the chain is shot frame i.
        clips = [c.with_duration(info.frames / fps) for c, info in zip(clips, infos)]
        film = concatenate_videoclips(clips, method="chain")
        total = sum(i.frames for i in infos)
        enc = _Encoder(out_path, width, height, fps)
        try:
            for i in range(total):
                # Sample mid-frame so float rounding of i / fps never lands on the previous frame.
                frame = film.get_frame((i + 0.5) / fps)  # (H, W, 3)
                enc.write(np.asarray(frame, dtype=np.uint8)[None])
        except BaseException:
            enc.abort()
            raise
        enc.finish()
    finally:
        for c in clips:
            c.close()


def save_png(frame: np.ndarray, path: str | os.PathLike, *, durable: bool = True) -> None:
    """Write one ``(H, W, 3)`` uint8 RGB frame as a PNG, atomically (fixed compression level).

    ``durable=False`` skips the fsyncs (still atomic, and safe against a killed process; only an OS
    crash could lose it) for derived files that are recomputed when missing."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"save_png needs a uint8 (H, W, 3) frame, got {frame.dtype} {frame.shape}")
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        Image.fromarray(frame).save(tmp, format="PNG", compress_level=4)
        if durable:
            atomic_replace(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_image(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB; resized to ``size`` = (width, height) with
    :data:`RESIZE_FILTER` when given and different (an image already of that size is untouched)."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None
    if size is not None and rgb.size != tuple(size):
        if size[0] < 1 or size[1] < 1:
            raise ValueError(f"image size must be positive (width, height), got {size}")
        rgb = rgb.resize(tuple(size), RESIZE_FILTER)
    return np.asarray(rgb, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------------------------
# Contact sheet


@dataclass(frozen=True)
class ContactRow:
    """One shot's row of the contact sheet."""

    shot_id: str
    label: str
    """Free text under the id, e.g. ``m2v, 2 attempts``."""
    keyframes: list[str | os.PathLike] = field(default_factory=list)
    """The shot's own keyframes (image paths)."""
    memory: list[str | os.PathLike] = field(default_factory=list)
    """The memory keyframes the shot was conditioned on (image paths), oldest first."""


@dataclass(frozen=True)
class SheetLayout:
    """Geometry of a contact sheet (pixels)."""

    thumb_w: int = 160
    thumb_h: int = 92
    label_w: int = 200
    gap: int = 6
    separator_w: int = 30
    pad: int = 12
    header_h: int = 22

    def columns(self, rows: Sequence[ContactRow]) -> tuple[int, int]:
        """(keyframe columns, memory columns): the widest row of each section (at least 1)."""
        keys = max([len(r.keyframes) for r in rows] + [1])
        mems = max([len(r.memory) for r in rows] + [1])
        return keys, mems

    def memory_x(self, rows: Sequence[ContactRow]) -> int:
        """Left edge of the memory section (the same for every row)."""
        keys, _ = self.columns(rows)
        return self.pad + self.label_w + keys * (self.thumb_w + self.gap) + self.separator_w

    def row_y(self, index: int) -> int:
        """Top edge of row ``index``'s thumbnails."""
        return self.pad + self.header_h + index * (self.thumb_h + self.gap)

    def size(self, rows: Sequence[ContactRow]) -> tuple[int, int]:
        """(width, height) of the sheet for ``rows``."""
        _, mems = self.columns(rows)
        width = self.memory_x(rows) + mems * (self.thumb_w + self.gap) - self.gap + self.pad
        height = self.row_y(len(rows)) - self.gap + self.pad
        return width, height


def _thumb(path: str | os.PathLike, w: int, h: int) -> Image.Image:
    """The image fitted inside ``w x h`` (aspect kept), centred on a dark cell."""
    img = Image.fromarray(load_image(path))
    scale = min(w / img.width, h / img.height)
    fit = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BILINEAR)
    cell = Image.new("RGB", (w, h), (24, 24, 28))
    cell.paste(fit, ((w - fit.width) // 2, (h - fit.height) // 2))
    return cell


def contact_sheet(rows: Sequence[ContactRow], out_path: str | os.PathLike, layout: SheetLayout = SheetLayout()) -> None:
    """Write a PNG with one row per shot: label, the shot's keyframes, a separator, then the memory
    keyframes it was conditioned on. Columns line up across rows; size is ``layout.size(rows)``."""
    if not rows:
        raise ValueError("contact_sheet needs at least one row")
    width, height = layout.size(rows)
    sheet = Image.new("RGB", (width, height), (12, 12, 14))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    mem_x = layout.memory_x(rows)
    key_x = layout.pad + layout.label_w
    draw.text((key_x, layout.pad), "shot keyframes", fill=(200, 200, 200), font=font)
    draw.text((mem_x, layout.pad), "conditioned on (memory, oldest first)", fill=(150, 180, 230), font=font)
    for r, row in enumerate(rows):
        y = layout.row_y(r)
        draw.text((layout.pad, y + 4), row.shot_id, fill=(255, 255, 255), font=ImageFont.load_default(size=18))
        _draw_wrapped(draw, sub_label(row), (layout.pad, y + 28), layout.label_w - 10, small, (190, 190, 190), lines=4)
        if not row.keyframes:
            draw.rectangle([key_x, y, key_x + layout.thumb_w - 1, y + layout.thumb_h - 1], outline=(90, 90, 90))
            draw.text((key_x + 10, y + layout.thumb_h // 2 - 7), "no keyframes", fill=(150, 150, 150), font=small)
        for k, p in enumerate(row.keyframes):
            sheet.paste(_thumb(p, layout.thumb_w, layout.thumb_h), (key_x + k * (layout.thumb_w + layout.gap), y))
        sep_x = mem_x - layout.separator_w // 2 - 1
        draw.line([sep_x, y, sep_x, y + layout.thumb_h], fill=(110, 140, 200), width=3)
        if not row.memory:
            draw.text((mem_x + 4, y + layout.thumb_h // 2 - 7), "no memory", fill=(120, 140, 170), font=small)
        for k, p in enumerate(row.memory):
            sheet.paste(_thumb(p, layout.thumb_w, layout.thumb_h), (mem_x + k * (layout.thumb_w + layout.gap), y))
    save_png(np.asarray(sheet), out_path)


def sub_label(row: ContactRow) -> str:
    """The text drawn under a row's shot id: its label without a leading copy of the id (the id is
    already drawn above it, large)."""
    label = " ".join(row.label.splitlines()).strip()
    if label == row.shot_id:
        return ""
    if label.startswith(row.shot_id) and label[len(row.shot_id):len(row.shot_id) + 1].isspace():
        label = label[len(row.shot_id):].strip()
    return label


def wrap_text(text: str, width: float, measure) -> list[str]:
    """``text`` word-wrapped into lines at most ``width`` wide by ``measure(line)`` (a word wider than
    that gets a line of its own); words are joined by one space."""
    out: list[str] = []
    line = ""
    for word in text.split():
        cand = f"{line} {word}" if line else word
        if measure(cand) <= width or not line:
            line = cand
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    return out


def label_lines(text: str, width: float, measure, gap: float) -> list[list[tuple[float, str]]]:
    """A label laid out in lines of ``(x offset, piece)``: its fields (parts separated by two or more
    spaces, as in ``t2v  x1``) left to right, ``gap`` pixels apart, so they read as separate fields
    whatever width the font gives a space (the sheet's small font draws one 2 px wide, which made
    ``t2v  x1`` read "t2v x1" and ``01-01  t2v`` read "01-01t2v"). A field that does not fit on the
    line starts the next one; one wider than ``width`` is word-wrapped (:func:`wrap_text`)."""
    lines: list[list[tuple[float, str]]] = [[]]
    end = 0.0
    for field in re.split(r"\s{2,}", text.strip()):
        for k, piece in enumerate(wrap_text(field, width, measure)):
            w = measure(piece)
            if lines[-1] and (k > 0 or end + gap + w > width):
                lines.append([])
            x = end + gap if lines[-1] else 0.0
            lines[-1].append((x, piece))
            end = x + w
    return [line for line in lines if line]


def _draw_wrapped(draw: ImageDraw.ImageDraw, text: str, xy: tuple[int, int], width: int,
                  font: ImageFont.FreeTypeFont, fill: tuple[int, int, int], lines: int) -> None:
    """Draw a label in at most ``lines`` lines of ``width`` pixels (:func:`label_lines`, fields an em apart)."""
    step = int(font.size * 1.3)
    for i, line in enumerate(label_lines(text, width, font.getlength, gap=font.size)[:lines]):
        for x, piece in line:
            draw.text((xy[0] + x, xy[1] + i * step), piece, fill=fill, font=font)
