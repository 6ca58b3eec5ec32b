"""PreviewEngine: a deterministic CPU animatic renderer, dailies' default engine.

It draws each shot from its prompt so a user can watch a film's structure (framing, camera moves,
time of day, who is in which shot, continuity) before spending GPU hours:

1. The prompt is read into a :class:`ShotLook` (framing, camera move, time of day, setting, moods
   and weather; English words plus a few Chinese ones; unknown words give a neutral look).
2. Each character's :class:`Look` (figure kind, hair/skin/top/bottom/accent/eye colours,
   accessories) is resolved per colour slot: the bible's colour words first, then the memory bank,
   then a hash of the name. Every shot draws a *cast legend* (top left): per character two ID
   chips (a hash of the name) and six colour chips. Memory keyframes of earlier preview shots are
   read back through that legend; a memory image without a legend that lists exactly one character
   (a reference photo) is sampled at the centre (body) and top centre (hair).
3. The scene palette is pulled towards the memory images' colours (sky/wall from their upper part,
   ground/floor from their lower part), as a memory-conditioned model keeps the look of earlier
   shots; MI2V/MM2V pull harder towards the previous shot's frame.
4. Static layers (background world, figure sprite, caption, legend) are drawn once per shot; each
   frame is then a camera transform of the world (pan/tilt/dolly/zoom/track/handheld/drift), the
   figure sprite with parallax, weather particles and the overlays.
5. MI2V starts exactly on ``first_frame`` and MM2V exactly on the five ``motion_frames``; the next
   frames continue the camera (MI2V) or the measured motion (MM2V) on that image while blending
   into the new shot over about a second. The new shot's world is the previous shot's, redrawn
   from the scene record the request carries (``previous_scene``, reported by
   :meth:`PreviewEngine.scene_record` after that shot's render), its camera starting where the
   previous one stopped.

Everything is a function of the request and the bytes of the images it references.

Modules: ``prompt`` (:class:`ShotLook`), ``palette`` (scene colours), ``colour`` (colour helpers),
``looks`` (character looks), ``legend`` (the cast legend), ``captions`` (caption, header, overlays),
``figures`` (characters), ``drawing`` (the static layers and particles), ``camera`` (camera paths
and continuation), ``continuity`` (scene records), ``scene`` (the scene grammar), ``props``,
``fonts`` (text in any script), ``engine`` (:class:`PreviewEngine`, :class:`PreviewConfig`).
"""

from engine.preview.camera import ZOOM_MARGIN
from engine.preview.colour import RGB, snap
from engine.preview.engine import PreviewConfig, PreviewEngine
from engine.preview.legend import MAX_LEGEND, PLATE, LegendGeometry, legend_id, read_legend, sample_reference
from engine.preview.looks import (
    ACCESSORY_NOUNS,
    ANIMAL_WORDS,
    BALD,
    COLOUR_WORDS,
    IMPLIED_COLOURS,
    LONG_HAIR,
    ROBOT_WORDS,
    SKIN_WORDS,
    SLOT_NOUNS,
    SLOTS,
    Look,
    bible_colours,
    character_kind,
    name_colours,
    resolve_look,
)
from engine.preview.palette import FLOOR, GROUND_COLOURS, MOOD_GRADES, TIME_PALETTES, WALL, TimePalette
from engine.preview.prompt import (
    CAMERA_WORDS,
    FRAMING_WORDS,
    MOOD_WORDS,
    SETTING_WORDS,
    SPACE_VIEW,
    TIME_WORDS,
    ShotLook,
    first_match,
)

__all__ = [
    # the engine
    "PreviewConfig", "PreviewEngine",
    # reading prompts
    "CAMERA_WORDS", "FRAMING_WORDS", "MOOD_WORDS", "SETTING_WORDS", "SPACE_VIEW", "TIME_WORDS", "ShotLook",
    "first_match",
    # palettes and colours
    "FLOOR", "GROUND_COLOURS", "MOOD_GRADES", "RGB", "TIME_PALETTES", "WALL", "TimePalette", "snap",
    # character looks
    "ACCESSORY_NOUNS", "ANIMAL_WORDS", "BALD", "COLOUR_WORDS", "IMPLIED_COLOURS", "LONG_HAIR", "ROBOT_WORDS",
    "SKIN_WORDS", "SLOT_NOUNS", "SLOTS", "Look", "bible_colours", "character_kind", "name_colours", "resolve_look",
    # the cast legend
    "MAX_LEGEND", "PLATE", "LegendGeometry", "legend_id", "read_legend", "sample_reference",
    # the camera
    "ZOOM_MARGIN",
]
