"""Continuity as data: the world a preview shot was drawn in, as a :class:`schemas.render.SceneRecord`.

After a render the director asks the engine for the shot's record (:meth:`PreviewEngine.scene_record`)
and keeps it with the shot's outputs and its memory keyframes. A continuation (cut=false: MI2V/MM2V)
gets the previous shot's record as ``previous_scene`` and redraws that very world (place, framing,
time, weather, world seed, palette) with its camera starting where the previous one stopped; a cut
shot that names no place takes the place of its latest memory keyframe's record. The records are
part of the request, so they are part of the input hash; nothing is hidden in the frames.

Earlier versions (preview 4) carried the same facts in a strip of colour chips in every frame;
see docs/preview.md for why they became data.
"""

from __future__ import annotations

from engine.preview.colour import RGB, _clamp
from engine.preview.drawing import WorldSpec
from engine.preview.palette import TIME_PALETTES
from engine.preview.scene import PLACE_BY_KEY
from schemas.render import SceneRecord

PALETTE_KEYS = ("sky_top", "sky_horizon", "ground_far", "ground_near", "wall", "floor", "prop", "light")
"""The scene colours a world is drawn with (keys of the palette)."""
FLAG_KEYS = ("neon", "fog", "space_view", "rain", "snow")
"""Moods and weather that shape the drawn world."""
FRAMINGS = ("wide", "medium", "close")


def whole_palette(palette: dict[str, RGB]) -> dict[str, RGB]:
    """The palette in whole RGB values (what a record carries, so a continuation draws the same)."""
    return {k: _clamp(palette[k]) for k in PALETTE_KEYS}


def to_record(spec: WorldSpec, camera_end: tuple[float, float, float], engine: str) -> SceneRecord:
    """The record of a shot drawn from ``spec`` whose camera stopped at ``camera_end`` (centre offset
    from the world centre in frame widths/heights, scale)."""
    return SceneRecord(engine=engine, place=spec.place, framing=spec.framing, time=spec.time, flags=list(spec.flags),
                       world_seed=spec.seed, palette=whole_palette(spec.palette),
                       camera_end=tuple(round(float(v), 6) for v in camera_end))


def usable(record: SceneRecord | None, engine: str) -> bool:
    """True when ``record`` was written by this engine version and names what it can draw."""
    return (record is not None and record.engine == engine and record.framing in FRAMINGS
            and record.time in TIME_PALETTES and (record.place == "stage" or record.place in PLACE_BY_KEY)
            and all(k in record.palette for k in PALETTE_KEYS) and all(f in FLAG_KEYS for f in record.flags))


def to_spec(record: SceneRecord) -> WorldSpec:
    """The world a (usable) record describes."""
    place = PLACE_BY_KEY.get(record.place)
    return WorldSpec(record.place, place.interior if place else False, record.framing, record.time,
                     tuple(record.flags), record.world_seed, {k: tuple(record.palette[k]) for k in PALETTE_KEYS})
