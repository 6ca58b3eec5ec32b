"""Video I/O, film assembly, PNG helpers and the contact sheet (engine/video.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.video import (
    ContactRow,
    SheetLayout,
    assemble_film,
    contact_sheet,
    load_image,
    read_video,
    save_png,
    label_lines,
    sub_label,
    video_format,
    video_info,
    wrap_text,
    write_video,
)


def gradient_frames(n: int, h: int = 48, w: int = 64, shift: int = 0) -> np.ndarray:
    """Smooth, moving content (H.264-friendly): (n, h, w, 3) uint8."""
    y, x = np.mgrid[0:h, 0:w]
    frames = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        frames[t, ..., 0] = (x * 3 + t * 4 + shift) % 256
        frames[t, ..., 1] = (y * 4 + t * 2) % 256
        frames[t, ..., 2] = 90 + shift % 120
    return frames


def test_write_read_roundtrip_count_size_format(tmp_path):
    frames = gradient_frames(17)
    path = tmp_path / "shot.mp4"
    write_video(frames, path, fps=16)
    info = video_info(path)
    assert (info.frames, info.width, info.height, info.fps) == (17, 64, 48, 16.0)
    frames_, width, height, fps = info  # unpacks as a plain tuple too
    assert video_format(path) == ("h264", "yuv420p")
    back = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    # Lossy but close (crf 18): mean absolute error of a few levels.
    assert np.abs(back.astype(int) - frames.astype(int)).mean() < 4.0
    # No temporary files left beside the target.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.mp4"]


def test_write_video_is_byte_deterministic(tmp_path):
    frames = gradient_frames(9, 96, 160)
    write_video(frames, tmp_path / "a.mp4", fps=16)
    write_video(frames, tmp_path / "b.mp4", fps=16)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    other = frames.copy()
    other[4, 10:20, 10:20] = 255
    write_video(other, tmp_path / "c.mp4", fps=16)
    assert (tmp_path / "c.mp4").read_bytes() != (tmp_path / "a.mp4").read_bytes()


def test_faststart_puts_the_index_first(tmp_path):
    path = tmp_path / "s.mp4"
    write_video(gradient_frames(5), path, fps=8)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_write_video_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_video(np.zeros((3, 47, 64, 3), np.uint8), tmp_path / "odd.mp4", fps=16)
    with pytest.raises(ValueError, match="uint8"):
        write_video(np.zeros((3, 48, 64, 3), np.float32), tmp_path / "f.mp4", fps=16)
    with pytest.raises(ValueError, match="does not exist"):
        video_info(tmp_path / "missing.mp4")
    assert not list(tmp_path.iterdir())


def test_assemble_film_keeps_every_frame_in_order(tmp_path):
    paths, marks = [], []
    for s, n in enumerate((9, 5, 13)):
        frames = np.zeros((n, 48, 64, 3), np.uint8)
        for t in range(n):
            level = 20 + 8 * len(marks)  # a distinct grey per frame of the film
            frames[t] = level
            marks.append(level)
        paths.append(tmp_path / f"s{s}.mp4")
        write_video(frames, paths[-1], fps=16)
    film = tmp_path / "film.mp4"
    assemble_film(paths, film, fps=16)
    info = video_info(film)
    assert (info.frames, info.width, info.height) == (27, 64, 48)
    assert video_format(film) == ("h264", "yuv420p")
    got = read_video(film)[:, 8:40, 8:56].reshape(27, -1).mean(axis=1)
    assert np.abs(got - np.array(marks)).max() < 3.0
    # Deterministic bytes.
    assemble_film(paths, tmp_path / "film2.mp4", fps=16)
    assert film.read_bytes() == (tmp_path / "film2.mp4").read_bytes()


def test_assemble_film_rejects_mixed_sizes_and_rates(tmp_path):
    write_video(gradient_frames(5), tmp_path / "a.mp4", fps=16)
    write_video(gradient_frames(5, 64, 96), tmp_path / "b.mp4", fps=16)
    with pytest.raises(ValueError, match="different frame sizes"):
        assemble_film([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "film.mp4", fps=16)
    write_video(gradient_frames(5), tmp_path / "c.mp4", fps=24)
    with pytest.raises(ValueError, match="fps"):
        assemble_film([tmp_path / "a.mp4", tmp_path / "c.mp4"], tmp_path / "film.mp4", fps=16)
    assert not (tmp_path / "film.mp4").exists()


def test_png_roundtrip_and_resize(tmp_path):
    frame = gradient_frames(1, 48, 64)[0]
    save_png(frame, tmp_path / "f.png")
    assert np.array_equal(load_image(tmp_path / "f.png"), frame)
    assert np.array_equal(load_image(tmp_path / "f.png", (64, 48)), frame)  # same size: untouched
    small = load_image(tmp_path / "f.png", (32, 24))
    assert small.shape == (24, 32, 3)
    # An RGBA or greyscale file comes back as RGB.
    Image.fromarray(np.ascontiguousarray(frame[..., 0])).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").shape == (48, 64, 3)
    with pytest.raises(ValueError, match="cannot read image"):
        load_image(tmp_path / "nope.png")


def test_contact_sheet_layout(tmp_path):
    colours = {"red": (220, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 220)}
    paths = {}
    for name, c in colours.items():
        paths[name] = tmp_path / f"{name}.png"
        save_png(np.full((48, 64, 3), c, np.uint8), paths[name])
    rows = [
        ContactRow("01-01", "t2v, 1 attempt", [paths["red"]] * 3, []),
        ContactRow("01-02", "mi2v, 2 attempts", [], [paths["green"]] * 10),
        ContactRow("02-01", "m2v, 1 attempt", [paths["blue"]], [paths["red"], paths["green"]] * 5 + [paths["blue"]] * 3),
    ]
    layout = SheetLayout()
    out = tmp_path / "sheet.png"
    contact_sheet(rows, out, layout)
    img = np.asarray(Image.open(out).convert("RGB"))
    w, h = layout.size(rows)
    assert img.shape == (h, w, 3)
    assert w == layout.pad + layout.label_w + 3 * (layout.thumb_w + layout.gap) + layout.separator_w \
        + 13 * (layout.thumb_w + layout.gap) - layout.gap + layout.pad
    assert h == layout.pad + layout.header_h + 3 * (layout.thumb_h + layout.gap) - layout.gap + layout.pad

    def centre(row: int, col: int, memory: bool) -> np.ndarray:
        x0 = layout.memory_x(rows) if memory else layout.pad + layout.label_w
        x = x0 + col * (layout.thumb_w + layout.gap) + layout.thumb_w // 2
        y = layout.row_y(row) + layout.thumb_h // 2
        return img[y, x].astype(int)

    assert np.abs(centre(0, 2, False) - colours["red"]).max() < 4
    assert np.abs(centre(1, 9, True) - colours["green"]).max() < 4
    assert np.abs(centre(2, 0, False) - colours["blue"]).max() < 4
    assert np.abs(centre(2, 12, True) - colours["blue"]).max() < 4
    assert np.abs(centre(2, 1, True) - colours["green"]).max() < 4
    # Row 1 has no keyframes: its first keyframe cell is not a thumbnail of any colour.
    assert all(np.abs(centre(1, 0, False) - c).max() > 60 for c in colours.values())


def test_contact_sheet_sub_label_drops_the_repeated_id_and_keeps_its_spacing(tmp_path):
    """A user's report: the sub-label of ``01-01  t2v  x1`` read "01-01t2v x1": the id drawn again
    under the big id, and the double spaces between the label's fields squeezed to one narrow space."""
    sheets = {}
    for name, label in (("with_id", "01-01  t2v  x1"), ("without_id", "t2v  x1"), ("one_space", "t2v x1")):
        out = tmp_path / f"{name}.png"
        contact_sheet([ContactRow("01-01", label)], out)
        sheets[name] = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(sheets["with_id"], sheets["without_id"])  # the id is drawn once, large
    assert not np.array_equal(sheets["without_id"], sheets["one_space"])  # the label's spacing is kept
    # A label that merely starts with the id's characters keeps them.
    assert sub_label(ContactRow("01-01", "01-01b  t2v")) == "01-01b  t2v"
    assert sub_label(ContactRow("01-01", "01-01")) == ""


def test_label_fields_are_laid_out_a_gap_apart_and_long_text_wraps():
    def measure(s):
        return len(s)

    assert label_lines("t2v  x1", 20, measure, gap=3) == [[(0.0, "t2v"), (6.0, "x1")]]
    assert label_lines("mi2v   x2  done", 9, measure, gap=2) == [[(0.0, "mi2v"), (6.0, "x2")], [(0.0, "done")]]
    assert label_lines("alpha beta gamma", 11, measure, gap=2) == [[(0.0, "alpha beta")], [(0.0, "gamma")]]
    assert label_lines("   ", 10, measure, gap=2) == []
    assert wrap_text("averyveryverylongword next", 5, measure) == ["averyveryverylongword", "next"]


def test_assemble_film_joins_h264_shots_without_re_encoding(tmp_path):
    """The film decodes to exactly the frames its shots decode to (a stream copy, no generation
    loss), whatever characters the folder's name holds; shots in another codec are re-encoded."""
    folder = tmp_path / "it's a film"
    shots = []
    for s, n in enumerate((9, 5, 13)):
        shots.append(folder / f"s'{s}.mp4")
        write_video(gradient_frames(n, shift=s * 7), shots[-1], fps=16)
    assemble_film(shots, folder / "film.mp4", fps=16)
    assert np.array_equal(read_video(folder / "film.mp4"), np.concatenate([read_video(p) for p in shots]))
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in shots] + ["film.mp4"])  # no leftovers
    import subprocess

    import imageio_ffmpeg

    other = folder / "mpeg4.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(shots[1]), "-c:v", "mpeg4",
                    str(other)], check=True)
    assert video_format(other)[0] == "mpeg4"
    assemble_film([shots[0], other], folder / "mixed.mp4", fps=16)
    assert video_info(folder / "mixed.mp4").frames == 14 and video_format(folder / "mixed.mp4") == ("h264", "yuv420p")
