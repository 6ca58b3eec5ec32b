"""The :class:`PreviewEngine` (and its :class:`PreviewConfig`): reads a render request and the images
it references, draws the shot's layers once, then each frame through the camera."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from PIL import Image

from engine.base import EngineError, ProgressFn
from engine.preview.camera import (
    _camera_path,
    _CameraPath,
    _continue_camera,
    _continue_motion,
    _estimate_motion,
    _smoothstep,
    _view,
)
from engine.preview import continuity
from engine.preview.colour import RGB, _hash_bytes, _lit, _mix
from engine.preview.drawing import WorldSpec, _draw_layers, _Layers, _particles
from engine.preview.figures import Placed
from engine.preview.fonts import coverage_notice, face
from engine.preview.legend import overlay_areas, read_legend, sample_reference
from engine.preview.looks import Look, resolve_look
from engine.preview.palette import (
    GROUND_COLOURS,
    INTERIOR_COLOURS,
    PLACE_GROUND,
    TIME_PALETTES,
    _grade,
    _region_mean,
)
from engine.preview.prompt import ShotLook
from engine.video import load_image
from schemas.bible import Character
from schemas.render import MemoryImage, RenderRequest, SceneRecord


@dataclass(frozen=True)
class PreviewConfig:
    """Knobs of the preview renderer (defaults are what docs/memory.md describes)."""

    world_margin: float = 0.3
    """The world canvas is this much larger than the frame, room for camera moves."""
    memory_pull: float = 0.3
    """How far the palette moves towards the memory images' colours (0 = ignore memory)."""
    continuation_pull: float = 0.5
    """MI2V/MM2V: how far the palette moves towards the previous shot's frame."""
    blend_seconds: float = 1.0
    """MI2V/MM2V: how long the continuation blends into the new shot."""
    caption: bool = True
    """Draw the prompt as a caption."""
    threads: int = 1
    """Frames drawn at once by a thread pool (the frames of a shot are independent; Pillow and numpy
    release the GIL). The frames are the same whatever the count. 1 by default: on the shared 2-core
    machine two threads gave no gain (docs/BENCHMARKS.md)."""


def _prepare_overlays(overlays):
    """The overlays ``(x, y, rgb (h, w, 3) float, alpha (h, w, 1) float)`` as integers for
    :func:`_blend_overlays`: ``(x, y, rgb * alpha * 256, (1 - alpha) * 256)`` (uint32)."""
    return [(x, y, (rgb * alpha * 256 + 0.5).astype(np.uint32), ((1 - alpha) * 256 + 0.5).astype(np.uint32))
            for x, y, rgb, alpha in overlays]


def _blend_overlays(frame: np.ndarray, prepared) -> None:
    """Alpha-blend prepared overlays onto ``frame`` ``(H, W, 3)`` in place (integer arithmetic)."""
    for x, y, pre, keep in prepared:
        h, w = pre.shape[:2]
        region = frame[y:y + h, x:x + w]
        region[...] = ((region * keep + pre) >> 8).astype(np.uint8)


class PreviewEngine:
    """Deterministic CPU animatic renderer (implements ``engine.base.Engine``)."""

    name = "preview"
    version = "5"
    """Bumped whenever the same request would draw different frames (part of the input hash)."""

    def __init__(self, config: PreviewConfig | None = None) -> None:
        self.config = config or PreviewConfig()
        self._last_record: tuple[str, SceneRecord] | None = None  # (request JSON, its record)

    def describe(self) -> str:
        """One line for the run summary."""
        c = self.config
        return (f"preview: deterministic CPU animatic (PIL/numpy, no model weights; memory pull {c.memory_pull}, "
                f"continuation pull {c.continuation_pull}, blend {c.blend_seconds}s; text: {face(12).describe()})")

    def fingerprint(self) -> str:
        """Version and the fonts text is drawn with (another font draws other pixels): part of the
        input hash of every shot."""
        return f"preview:{self.version}:{face(12).describe()}"

    def notices(self, texts: Sequence[str] = ()) -> list[str]:
        """One-line notices for a run that draws ``texts`` (its prompts, character names and
        details): the scripts among them that no installed font covers, in one line; none when
        every character of the film's text can be drawn."""
        line = coverage_notice(text="\n".join(texts)) if texts else None
        return [line] if line else []

    # -- public -------------------------------------------------------------------------------

    def render_shot(self, request: RenderRequest, progress: ProgressFn | None = None) -> np.ndarray:
        """All frames ``(num_frames, height, width, 3)`` uint8 of the shot, including the leading
        repeated frames of MI2V (1) and MM2V (5)."""
        W, H, F = request.width, request.height, request.num_frames
        layers, path, lead = self._prepare(request)

        frames = np.empty((F, H, W, 3), np.uint8)  # (F, H, W, 3)
        n_lead = len(lead)
        for t in range(n_lead):
            frames[t] = lead[t]
            if progress:
                progress(t + 1, F)
        motion = _estimate_motion(np.stack(lead)) if n_lead >= 2 else None
        # Blend for about a second, at most half of a short shot (no double exposure all along).
        blend_n = max(1, min(F - n_lead, round(request.fps * self.config.blend_seconds), (F - n_lead) // 2))
        areas = overlay_areas(lead[-1]) if n_lead else None  # (H, W): the previous shot's legend, header, caption
        overlays = _prepare_overlays(layers.overlays)
        layers.premultiplied = {id(sp): sp.convert("RGBa") for sp in (layers.sprite, layers.sprite2) if sp is not None}
        still = None
        if path.start == path.end and not np.any(path.shake) and layers.sprite is None and not layers.particles:
            still = self._picture(layers, path, 0, W, H)  # a locked-off camera: every picture is the same

        def frame_at(t: int) -> np.ndarray:
            """Frame ``t`` (a function of the layers, the path and the lead frames alone)."""
            frame = still.copy() if still is not None else self._picture(layers, path, t, W, H)  # (H, W, 3)
            k = t - n_lead + 1
            if n_lead and k <= blend_n:
                w = _smoothstep(k / (blend_n + 1))
                move = ((lambda im: _continue_motion(im, motion, k)) if motion is not None
                        else (lambda im: _continue_camera(im, path, 0, k)))
                cont = move(lead[-1])
                # Where the continued picture would show the previous shot's overlays (moved into
                # the picture by the camera), the new shot shows instead.
                wk = np.maximum(w, move(areas).astype(np.float32)[..., None] / 255.0)  # (H, W, 1)
                frame = (cont.astype(np.float32) * (1 - wk) + frame.astype(np.float32) * wk + 0.5).astype(np.uint8)
            _blend_overlays(frame, overlays)  # the new shot's caption and legend from its first new frame on
            return frame

        ts = range(n_lead, F)
        workers = min(self.config.threads, len(ts) // 8)
        if workers > 1:
            # Frames are independent; Pillow and numpy release the GIL while they resample and blend.
            with ThreadPoolExecutor(workers, thread_name_prefix="preview") as pool:
                made = pool.map(frame_at, ts)
                for t, frame in zip(ts, made):
                    frames[t] = frame
                    if progress:
                        progress(t + 1, F)
        else:
            for t in ts:
                frames[t] = frame_at(t)
                if progress:
                    progress(t + 1, F)
        return frames

    def figures(self, request: RenderRequest) -> list[Placed]:
        """Where each figure of the shot stands and where its label is, in frame pixels of the
        shot's base view (boxes ``(x0, y0, x1, y1)``); for tests and tools."""
        layers, _, _ = self._prepare(request)
        W, H, m = request.width, request.height, self.config.world_margin
        ox, oy = (round(W * (1 + m)) - W) / 2.0 - layers.sprite_xy[0], (round(H * (1 + m)) - H) / 2.0 - layers.sprite_xy[1]
        move = lambda b: (b[0] - ox, b[1] - oy, b[2] - ox, b[3] - oy) if b else None  # noqa: E731
        return [Placed(p.name, move(p.box), move(p.label_box), None) for p in layers.placed]

    @property
    def record_id(self) -> str:
        """What this engine writes into the scene records it reports (``preview:5``)."""
        return f"{self.name}:{self.version}"

    def scene_record(self, request: RenderRequest) -> SceneRecord:
        """The world ``request``'s shot is drawn in and where its camera stops (place, framing, time,
        weather, world seed, palette, camera end), for the director to hand to a continuation
        (``previous_scene``) and to keep with the shot's memory keyframes (``MemoryImage.scene``).
        The same request always gives the same record; cheap after :meth:`render_shot` of it."""
        key = request.model_dump_json()
        if self._last_record is not None and self._last_record[0] == key:
            return self._last_record[1]
        memory, lead = self._images(request)
        look, spec, bright, rng, path = self._plan(request, memory, lead)
        return self._remember(key, spec, path, request)

    def _remember(self, key: str, spec: WorldSpec, path: "_CameraPath", request: RenderRequest) -> SceneRecord:
        W, H, F = request.width, request.height, request.num_frames
        WW, WH = W * (1 + self.config.world_margin), H * (1 + self.config.world_margin)
        ex, ey, es = path.background(F - 1)
        record = continuity.to_record(spec, ((ex - WW / 2) / W, (ey - WH / 2) / H, es), self.record_id)
        self._last_record = (key, record)
        return record

    def _images(self, request: RenderRequest):
        """The memory images ``[(MemoryImage, (h, w, 3))]`` and the lead frames (MI2V: 1, MM2V: 5)."""
        W, H = request.width, request.height
        memory = [(m, self._load(m.path, request)) for m in request.memory]
        lead: list[np.ndarray] = []
        if request.mode == "mi2v":
            lead = [self._load(request.first_frame or "", request, (W, H))]
        elif request.mode == "mm2v":
            lead = [self._load(p, request, (W, H)) for p in request.motion_frames]
        return memory, lead

    def _plan(self, request: RenderRequest, memory, lead):
        """The shot's look, world, light level, generator and camera path (no drawing yet).

        A continuation with the previous shot's scene record redraws that world, its camera
        starting where the previous one stopped; otherwise the prompt's place (or, when it names
        none, the place of the latest memory keyframe's record), with the palette pulled towards
        the memory images and the previous frame."""
        W, H, F = request.width, request.height, request.num_frames
        look = ShotLook.from_prompt(request.prompt, request.characters)
        rng = np.random.default_rng(int.from_bytes(_hash_bytes("preview-seed", str(request.seed))[:8], "little"))
        prev = request.previous_scene if continuity.usable(request.previous_scene, self.record_id) else None
        if prev is not None and look.scene.enters and look.place not in ("stage", prev.place):
            # The continuation goes somewhere new ("Harry enters the library"): it blends from the
            # previous frame into the new place, keeping the previous framing and light.
            look = replace(look, framing=prev.framing, time=look.time if look.time != "neutral" else prev.time)
            prev = None
        if prev is None and look.place == "stage":
            # A shot that names no place stays where the latest remembered shot was (the memory
            # bank carries the setting, as it does for a memory-conditioned model).
            kept = next((m.scene for m, _ in reversed(memory)
                         if not m.id.startswith("ref-") and continuity.usable(m.scene, self.record_id)), None)
            if kept is not None:
                look = look.at_place(kept.place)
        start_view = None
        if prev is not None:  # cut=false: the previous shot's place, framing and world, its camera's end
            look = look.continuing(prev.place, prev.framing, prev.time, {k: True for k in prev.flags})
            spec = continuity.to_spec(prev)
            bright = self._brightness(look)
            start_view = prev.camera_end
        else:
            palette, bright = self._palette(look, [img for m, img in memory if not m.id.startswith("ref-")], lead[-1:])
            seed = int.from_bytes(_hash_bytes("preview-world", str(request.seed))[:3], "little")
            flags = tuple(k for k in continuity.FLAG_KEYS if k in look.moods or (k == "space_view" and look.space_view))
            spec = WorldSpec(look.place, look.interior, look.framing, look.time, flags, seed,
                             continuity.whole_palette(palette))
        path = _camera_path(look, F, W, H, self.config.world_margin, rng, start_view)
        return look, spec, bright, rng, path

    def _prepare(self, request: RenderRequest):
        """Read the request and draw the shot's layers: (layers, camera path, lead frames)."""
        memory, lead = self._images(request)
        look, spec, bright, rng, path = self._plan(request, memory, lead)
        self._remember(request.model_dump_json(), spec, path, request)
        looks = self._looks(request.characters, memory, lead, request.prompt)
        details = {c.name: ", ".join(d for d in (c.appearance, c.attire) if d) for c in request.characters}
        layers = _draw_layers(request, look, looks, spec, bright, rng, self.config.world_margin, self.config.caption,
                              details)
        return layers, path, lead

    # -- inputs -------------------------------------------------------------------------------

    @staticmethod
    def _load(path: str, request: RenderRequest, size: tuple[int, int] | None = None) -> np.ndarray:
        try:
            return load_image(path, size)
        except ValueError as exc:
            raise EngineError(f"shot {request.shot_id}: {exc}; check the paths in the render request") from None

    @staticmethod
    def _looks(characters: Sequence[Character], memory: Sequence[tuple[MemoryImage, np.ndarray]],
               lead: Sequence[np.ndarray], prompt: str = "") -> list[Look]:
        """Resolve each character's look; memory colours come from the oldest memory image that
        shows the character (legend chips, or a single-character reference sampled at the centre),
        then from the previous shot's frame (MI2V/MM2V); each kind from the bible, else from how the
        prompt introduces the character (``Bolt, a rusty robot,``)."""
        names = [c.name for c in characters]
        from_memory: dict[str, dict[str, RGB]] = {}
        for mem, img in memory:
            legend = read_legend(img, [n for n in names if n not in from_memory])
            for name, cols in legend.items():
                from_memory[name] = cols
            listed = [n for n in names if n.casefold() in {c.casefold() for c in mem.characters}]
            if not legend and len(mem.characters) == 1 and listed and listed[0] not in from_memory:
                from_memory[listed[0]] = sample_reference(img)
        for img in lead[-1:]:
            for name, cols in read_legend(img, [n for n in names if n not in from_memory]).items():
                from_memory[name] = cols
        return [resolve_look(c, from_memory.get(c.name), prompt) for c in characters]

    def _palette(self, look: ShotLook, memory: Sequence[np.ndarray],
                 lead: Sequence[np.ndarray]) -> tuple[dict[str, RGB], float]:
        """Scene colours and light level: time of day, setting, moods, then pulled towards memory
        (and the previous frame for MI2V/MM2V)."""
        tp = TIME_PALETTES[look.time]
        far, near = PLACE_GROUND.get(look.place) or GROUND_COLOURS.get(look.setting, GROUND_COLOURS["stage"])
        wall, floor = INTERIOR_COLOURS.get(look.place, INTERIOR_COLOURS["room"])
        light, bright = tp.light, tp.brightness
        sky_top, sky_hor = tp.sky_top, tp.sky_horizon
        if look.setting == "underwater":
            sky_top, sky_hor = _mix((8, 40, 80), sky_top, 0.15), _mix((40, 140, 160), sky_hor, 0.15)
        if look.setting == "space":
            sky_top, sky_hor = (2, 2, 10), (12, 12, 34)
        if look.interior and bright < 0.6:
            light, bright = _mix(light, (255, 196, 140), 0.6), 0.62  # lamps indoors at night
        pal = {
            "sky_top": sky_top, "sky_horizon": sky_hor,
            "ground_far": _lit(far, light, bright), "ground_near": _lit(near, light, bright),
            "wall": _lit(wall, light, bright), "floor": _lit(floor, light, bright),
            "light": light, "prop": _lit((90, 70, 60), light, bright),
        }
        pal = {k: _grade(v, look.moods) if k != "light" else v for k, v in pal.items()}
        for sources, amount in ((memory, self.config.memory_pull), (lead, self.config.continuation_pull)):
            if not sources or amount <= 0:
                continue
            upper = np.mean([_region_mean(img, 0.05, 0.4) for img in sources], axis=0)
            lower = np.mean([_region_mean(img, 0.55, 0.78) for img in sources], axis=0)
            for key in ("sky_top", "sky_horizon", "wall"):
                pal[key] = _mix(pal[key], upper, amount)
            for key in ("ground_far", "ground_near", "floor", "prop"):
                pal[key] = _mix(pal[key], lower, amount)
        return pal, bright

    @staticmethod
    def _brightness(look: ShotLook) -> float:
        bright = TIME_PALETTES[look.time].brightness
        return 0.62 if look.interior and bright < 0.6 else bright

    # -- per frame ------------------------------------------------------------------------------

    def _picture(self, layers: _Layers, path: "_CameraPath", t: int, W: int, H: int) -> np.ndarray:
        """One frame without overlays: the camera's view of the world, the figures (own view when
        they have parallax) and particles. ``(H, W, 3)`` uint8."""
        cx, cy, s = path.background(t)
        img = _view(layers.world, cx, cy, s, W, H)
        if layers.sprite is not None:
            fx, fy, fs = path.figures(t)
            if layers.travel:
                fx -= layers.travel * (t / max(1, path.frames - 1) - 0.5)
            sprite = layers.sprite2 if layers.sprite2 is not None and (t // 4) % 2 else layers.sprite
            # Output rectangle of the sprite: (world - view origin) / scale, clipped to the frame.
            sx0 = (layers.sprite_xy[0] - (fx - fs * W / 2)) / fs
            sy0 = (layers.sprite_xy[1] - (fy - fs * H / 2)) / fs
            sx1, sy1 = sx0 + sprite.width / fs, sy0 + sprite.height / fs
            ox0, oy0 = max(0, int(math.floor(sx0))), max(0, int(math.floor(sy0)))
            ox1, oy1 = min(W, int(math.ceil(sx1))), min(H, int(math.ceil(sy1)))
            if ox1 > ox0 and oy1 > oy0:
                # The matching sprite region (sub-pixel), clamped to the sprite.
                box = (max(0.0, (ox0 - sx0) * fs), max(0.0, (oy0 - sy0) * fs),
                       min(float(sprite.width), (ox1 - sx0) * fs),
                       min(float(sprite.height), (oy1 - sy0) * fs))
                # Resampled premultiplied, as Pillow does for RGBA (converted once per shot, not per frame).
                premultiplied = layers.premultiplied.get(id(sprite)) or sprite.convert("RGBa")
                spr = premultiplied.resize((ox1 - ox0, oy1 - oy0), Image.Resampling.BILINEAR, box=box).convert("RGBA")
                img.paste(spr, (ox0, oy0), spr)
        frame = np.asarray(img).copy()  # (H, W, 3)
        if layers.particles:
            _particles(frame, layers.particles, layers.particle_colour, t, W, H)
        return frame
