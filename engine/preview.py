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
   into the new shot over about a second.

Everything is a function of the request and the bytes of the images it references.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from engine.base import EngineError, ProgressFn
from engine.video import load_image
from schemas.bible import Character
from schemas.render import MemoryImage, RenderRequest

RGB = tuple[int, int, int]

# ----------------------------------------------------------------------------------------------
# Prompt vocabulary. Each table maps a regular expression (matched case-insensitively; CJK words
# as plain substrings) to a value. When several entries match, the earliest mention wins and, at
# the same position, the longest match.

FRAMING_WORDS: list[tuple[str, str]] = [
    (r"\b(?:extreme |medium |tight )?close[\s-]?ups?\b", "close"),
    (r"\bmacro\b", "close"),
    (r"特写|近景", "close"),
    (r"\bmedium(?:[\s-]+[a-z'-]+){0,2}?[\s-]+(?:shot|framing|frame|view)\b", "medium"),
    (r"\bmid[\s-]?shot\b|\bwaist[\s-]up\b|\btwo[\s-]shot\b|\bcowboy shot\b", "medium"),
    (r"中景", "medium"),
    (r"\bwide(?:[\s-]+[a-z'-]+){0,2}?[\s-]+(?:shot|angle|view|frame|framing)\b", "wide"),
    (r"\bestablishing\b|\b(?:extreme |very )?long shot\b|\bfull shot\b|\baerial\b|\bpanoramic\b", "wide"),
    (r"\boverhead shot\b|\bbird'?s[\s-]eye\b|\bdrone shot\b", "wide"),
    (r"远景|全景|航拍", "wide"),
]

CAMERA_WORDS: list[tuple[str, str]] = [
    (r"\bstatic\b|\blocked[\s-]off\b|\bno camera (?:move|movement|motion)\b|\bstill camera\b", "static"),
    (r"\bfixed camera\b|\btripod\b|\bstationary camera\b|固定镜头", "static"),
    (r"\bpan(?:s|ning|ned)?\s+(?:slowly\s+)?(?:to\s+the\s+)?left\b|\bleftward pan\b", "pan_left"),
    (r"\bpan(?:s|ning|ned)?\s+(?:slowly\s+)?(?:to\s+the\s+)?right\b|\brightward pan\b", "pan_right"),
    (r"\bpan(?:s|ning|ned)?\b|摇镜", "pan_right"),
    (r"\btilt(?:s|ing|ed)?\s+up(?:ward|wards)?\b|\bupward tilt\b|\bcrane(?:s|d)?(?:\s+up)?\b", "tilt_up"),
    (r"\btilt(?:s|ing|ed)?\s+down(?:ward|wards)?\b|\bdownward tilt\b", "tilt_down"),
    (r"\btilt(?:s|ing|ed)?\b", "tilt_up"),
    (r"\bpush(?:es|ing)?[\s-]in\b|\bdolly(?:ing)?[\s-]+(?:in|forward|closer)\b|\bdolly\b", "push_in"),
    (r"\bcamera (?:slowly )?(?:moves|creeps|drifts) (?:in|closer|forward)\b|推镜|推近", "push_in"),
    (r"\bpull(?:s|ing|ed)?[\s-](?:back|out|away)\b|\bdolly(?:ing)?[\s-]+(?:back|out|away|backward)\b", "pull_out"),
    (r"\bzoom(?:s|ing|ed)?(?:\s+in)?\b|变焦", "zoom_in"),
    (r"\bzoom(?:s|ing|ed)?\s+out\b|拉远", "zoom_out"),
    (r"\btracking\b|\btracks?\b|\bfollow(?:s|ing|ed)?\b|\btrucking\b|\bglides?\b|跟拍|跟随", "track"),
    (r"\bhand[\s-]?held\b|\bshaky\b|手持", "handheld"),
    (r"\borbit(?:s|ing)?\b|\barc(?:s|ing)? around\b|\bcircl(?:es|ing) around\b|环绕", "orbit"),
]

TIME_WORDS: list[tuple[str, str]] = [
    (r"\bdawn\b|\bsunrise\b|\bdaybreak\b|\bfirst light\b|黎明|日出|清晨", "dawn"),
    (r"\bmorning\b|早晨|上午", "morning"),
    (r"\bnoon\b|\bmidday\b|\bdaylight\b|\bdaytime\b|\bsunny\b|\bsunlit\b|\bsunlight\b|\bbright(?:ly)? lit\b", "day"),
    (r"中午|白天|阳光", "day"),
    (r"\bafternoon\b|下午", "afternoon"),
    (r"\bgolden hour\b|\bsunset\b|\bsundown\b|日落|夕阳", "golden"),
    (r"\bdusk\b|\btwilight\b|\bblue hour\b|黄昏", "dusk"),
    (r"\bevening\b|傍晚|晚上", "evening"),
    (r"\bnight(?:time|fall)?\b|\bmidnight\b|夜", "night"),
    (r"\bmoon(?:light|lit)\b|月光", "moonlight"),
]

SETTING_WORDS: list[tuple[str, str]] = [
    (r"\bunderwater\b|\bocean floor\b|\bseabed\b|\bcoral(?:s)?\b|\breef\b|水下|海底", "underwater"),
    (r"\bouter space\b|\bin space\b|\bdeep space\b|\bgalaxy\b|\bnebula\b|\blunar surface\b|太空|宇宙", "space"),
    (r"\b(?:living |bed|class|bath|throne |dining |control |waiting )?rooms?\b|\bkitchen\b|\bstudio\b", "interior"),
    (r"\boffice\b|\bapartment\b|\bindoors?\b|\binside\b|\bcabin\b|\bcorridors?\b|\bhallway\b|\bgarage\b", "interior"),
    (r"\bworkshop\b|\blab(?:oratory)?\b|\blibrary\b|\bcaf[eé]\b|\brestaurant\b|\bbar\b|\bshop\b|\bstore\b", "interior"),
    (r"\bhall\b|\bchamber\b|\bcockpit\b|\bspacecraft\b|\bspaceship\b|\bhouse\b|\bhome\b|\bcastle\b", "interior"),
    (r"\bbedroom\b|\bclassroom\b|\bcottage\b|\btemple\b|\bchurch\b|\bwarehouse\b|\bgym\b|室内|房间|厨房", "interior"),
    (r"\bforest\b|\bjungle\b|\bwoods\b|\bwoodland\b|\btrees\b|森林|丛林", "forest"),
    (r"\bgarden\b|\bpark\b|\bmeadow\b|\bfield\b|\blawn\b|\bfarm\b|\bporch\b|\byard\b|\bcountryside\b", "garden"),
    (r"\bgrass(?:y|land)?\b|\bhillside\b|花园|公园|草地|田野", "garden"),
    (r"\bcity\b|\bstreets?\b|\btown\b|\balley\b|\broad\b|\bvillage\b|\bmarket\b|\bsquare\b|\bdowntown\b", "city"),
    (r"\brooftops?\b|\bsidewalk\b|\bcrosswalk\b|城市|街道", "city"),
    (r"\bbeach\b|\bsea\b|\bocean\b|\bcoast\b|\bshore\b|\blake\b|\briver\b|\bharbou?r\b|\bpier\b|海边|大海|湖", "water"),
    (r"\bdesert\b|\bdunes?\b|\bcanyon\b|沙漠", "desert"),
    (r"\bmountains?\b|\bcliffs?\b|\bpeaks?\b|\bsummit\b|\bvalley\b|山", "mountain"),
    (r"\bsnowfield\b|\btundra\b|\bglacier\b|\barctic\b|雪地", "snow"),
]

MOOD_WORDS: list[tuple[str, str]] = [
    (r"\bwarm(?:th|ly)?\b|\bcozy\b|\bcosy\b|\bhomey\b|温暖", "warm"),
    (r"\bcold\b|\bicy\b|\bchilly\b|\bfrozen\b|\bfrosty\b|寒冷", "cold"),
    (r"\bgloomy\b|\bsomber\b|\bsombre\b|\bbleak\b|\bmelanchol(?:y|ic)\b|\bsad\b|\bgrim\b|\bdreary\b|阴郁|悲伤", "gloomy"),
    (r"\bcheerful\b|\bjoyful\b|\bjoyous\b|\bhappy\b|\bplayful\b|\bvibrant\b|\bfestive\b|\blively\b|欢快|快乐", "cheerful"),
    (r"\btense\b|\btension\b|\bominous\b|\bmenacing\b|\bdramatic\b|\bsuspense(?:ful)?\b|\bthreat", "tense"),
    (r"紧张", "tense"),
    (r"\bmysterious\b|\beerie\b|\bmystic(?:al)?\b|\bmagical\b|\bsurreal\b|\bethereal\b|神秘", "mysterious"),
    (r"\bromantic\b|\btender\b|浪漫", "romantic"),
    (r"\bcalm\b|\bserene\b|\bpeaceful\b|\btranquil\b|\bquiet\b|平静|宁静", "calm"),
    (r"\bdim(?:ly)?\b|\bdark(?:ened)?\b|\bshadowy\b|\bgloom\b|昏暗", "dim"),
    (r"\bneon\b|\bcyberpunk\b|霓虹", "neon"),
    (r"\brain(?:y|ing|s|drops?)?\b|\bdrizzle\b|\bstorm(?:y)?\b|\bthunder", "rain"),
    (r"雨", "rain"),
    (r"\bsnow(?:y|ing|s|fall|flakes?)?\b|\bblizzard\b|雪", "snow"),
    (r"\bfog(?:gy)?\b|\bmist(?:y)?\b|\bhaze\b|\bhazy\b|\bsmoke\b|\bsmoky\b|雾", "fog"),
    (r"\bdust(?: motes)?\b|\bmotes\b|\bsparkl(?:es|ing)\b|\bfireflies\b|\bembers\b|\bglitter\b|\bbubbles\b", "motes"),
]

SPACE_VIEW = re.compile(r"\b(?:space|earth|orbit|stars|galaxy|planet|moon)\b|太空|地球|星", re.I)

# Colour words for characters (display RGB, snapped to the look lattice when used).
COLOUR_WORDS: dict[str, RGB] = {
    "red": (200, 36, 36), "crimson": (170, 20, 50), "scarlet": (220, 40, 30), "maroon": (110, 20, 30),
    "burgundy": (120, 25, 45), "orange": (235, 130, 40), "amber": (230, 160, 40), "yellow": (240, 210, 50),
    "gold": (215, 175, 55), "golden": (215, 175, 55), "beige": (220, 200, 165), "tan": (200, 160, 115),
    "khaki": (190, 175, 120), "brown": (120, 80, 50), "chocolate": (95, 60, 35), "cream": (240, 230, 200),
    "ivory": (245, 240, 220), "white": (240, 240, 240), "silver": (190, 195, 200), "grey": (130, 130, 135),
    "gray": (130, 130, 135), "charcoal": (60, 62, 66), "black": (25, 25, 28), "green": (50, 150, 70),
    "olive": (110, 120, 50), "emerald": (30, 150, 100), "lime": (150, 210, 60), "teal": (30, 130, 130),
    "turquoise": (60, 200, 190), "cyan": (60, 200, 230), "blue": (40, 90, 200), "navy": (25, 35, 90),
    "cobalt": (30, 70, 170), "azure": (60, 140, 230), "denim": (70, 100, 150), "purple": (120, 50, 160),
    "violet": (140, 80, 200), "lavender": (180, 160, 220), "lilac": (200, 160, 210), "magenta": (210, 40, 160),
    "pink": (240, 150, 180), "rose": (220, 100, 130), "peach": (245, 190, 150), "coral": (240, 120, 100),
    "ginger": (200, 100, 40), "auburn": (140, 60, 35), "blonde": (230, 200, 120), "blond": (230, 200, 120),
    "platinum": (230, 225, 210), "copper": (190, 110, 60), "bronze": (170, 120, 60), "pale": (245, 220, 200),
    "fair": (245, 215, 190), "dark": (60, 45, 40),
    "红": (200, 36, 36), "橙": (235, 130, 40), "黄": (240, 210, 50), "绿": (50, 150, 70), "蓝": (40, 90, 200),
    "紫": (120, 50, 160), "粉": (240, 150, 180), "黑": (25, 25, 28), "白": (240, 240, 240), "灰": (130, 130, 135),
    "棕": (120, 80, 50), "褐": (120, 80, 50), "金": (215, 175, 55), "银": (190, 195, 200),
}

SKIN_WORDS: dict[str, RGB] = {
    "black": (110, 72, 50), "dark": (120, 80, 55), "brown": (150, 100, 70), "tan": (195, 145, 105),
    "olive": (190, 150, 110), "pale": (245, 215, 195), "fair": (240, 205, 180), "white": (240, 205, 180),
    "light": (235, 200, 170), "黑": (110, 72, 50), "白": (240, 205, 180),
}

# Nouns that say which colour slot a colour word belongs to.
SLOT_NOUNS: dict[str, str] = {
    **{w: "hair" for w in ("hair", "haired", "ponytail", "braid", "braids", "beard", "bun", "curls", "mane",
                           "mohawk", "bangs", "发", "头发")},
    **{w: "skin" for w in ("skin", "skinned", "complexion", "man", "woman", "boy", "girl", "person", "guy",
                           "lady", "gentleman", "肤", "皮肤")},
    **{w: "eyes" for w in ("eyes", "eyed", "eye", "眼", "眼睛")},
    **{w: "top" for w in ("coat", "raincoat", "jacket", "shirt", "t-shirt", "tshirt", "sweater", "hoodie",
                          "dress", "robe", "robes", "gown", "uniform", "suit", "blouse", "top", "cloak", "cape",
                          "vest", "tunic", "jumper", "cardigan", "kimono", "overalls", "apron", "parka",
                          "turtleneck", "blazer", "fur", "feathers", "scales", "body", "armor", "armour",
                          "spacesuit", "衣", "外套", "衬衫", "裙", "袍")},
    **{w: "bottom" for w in ("trousers", "pants", "jeans", "skirt", "boots", "shoes", "leggings", "shorts",
                             "sneakers", "slacks", "socks", "tail", "paws", "裤", "裤子", "靴", "鞋")},
    **{w: "accent" for w in ("hat", "cap", "scarf", "tie", "bowtie", "helmet", "crown", "beanie", "bow",
                             "ribbon", "belt", "bag", "backpack", "satchel", "collar", "gloves", "headband",
                             "bandana", "glasses", "spots", "patches", "stripes", "帽", "帽子", "围巾", "领带")},
}
ACCESSORY_NOUNS = {"hat": "hat", "cap": "hat", "beanie": "hat", "crown": "crown", "tiara": "crown",
                   "glasses": "glasses", "spectacles": "glasses", "goggles": "glasses", "tie": "tie",
                   "bowtie": "tie", "scarf": "scarf", "bandana": "scarf", "backpack": "backpack",
                   "helmet": "helmet", "帽": "hat", "帽子": "hat", "眼镜": "glasses", "领带": "tie", "围巾": "scarf"}
IMPLIED_COLOURS: dict[str, tuple[str, RGB]] = {
    "jeans": ("bottom", (70, 100, 150)), "denim": ("top", (70, 100, 150)), "tuxedo": ("top", (25, 25, 28)),
    "spacesuit": ("top", (235, 235, 235)), "labcoat": ("top", (240, 240, 240)), "crown": ("accent", (215, 175, 55)),
}
ANIMAL_WORDS = re.compile(
    r"\b(?:cat|kitten|dog|puppy|fox|wolf|bear|rabbit|bunny|mouse|rat|horse|pony|deer|lion|tiger|monkey|"
    r"squirrel|pig|cow|sheep|goat|raccoon|panda|otter|hamster|kitty|hound|cub|whale|dolphin|shark|seal|fish|turtle|"
    r"bird|owl|eagle|crow|penguin|duck|goose|dragon|elephant|giraffe|frog|lizard|dinosaur)s?\b|猫|狗|狐|熊|兔|猴|马|鲸|鸟", re.I)
ROBOT_WORDS = re.compile(r"\b(?:robot|android|droid|cyborg|mech|automaton)s?\b|机器人", re.I)
LONG_HAIR = re.compile(r"\blong\b[\w\s,-]{0,20}\bhair\b|\bflowing\b[\w\s,-]{0,20}\bhair\b|\bponytail\b|\bbraids?\b|长发", re.I)
BALD = re.compile(r"\bbald\b|\bshaved head\b|光头", re.I)

SLOTS = ("hair", "skin", "top", "bottom", "accent", "eyes")
"""The colour slots of a character's look, in legend chip order."""

# ----------------------------------------------------------------------------------------------
# Palettes

@dataclass(frozen=True)
class TimePalette:
    sky_top: RGB
    sky_horizon: RGB
    light: RGB
    brightness: float
    celestial: str | None  # sun_low_left, sun_morning, sun_high, sun_afternoon, sun_low_right, moon


TIME_PALETTES: dict[str, TimePalette] = {
    "dawn": TimePalette((60, 70, 130), (245, 170, 140), (255, 205, 175), 0.80, "sun_low_left"),
    "morning": TimePalette((105, 165, 230), (225, 225, 210), (255, 242, 220), 0.95, "sun_morning"),
    "day": TimePalette((65, 135, 225), (180, 215, 245), (255, 255, 250), 1.00, "sun_high"),
    "afternoon": TimePalette((85, 145, 215), (235, 215, 170), (255, 235, 200), 0.95, "sun_afternoon"),
    "golden": TimePalette((85, 80, 160), (255, 150, 70), (255, 185, 120), 0.85, "sun_low_right"),
    "dusk": TimePalette((40, 40, 95), (205, 115, 120), (205, 160, 175), 0.65, None),
    "evening": TimePalette((28, 32, 75), (110, 85, 130), (200, 175, 160), 0.55, None),
    "night": TimePalette((6, 8, 28), (22, 32, 66), (130, 150, 210), 0.42, "moon"),
    "moonlight": TimePalette((10, 16, 40), (40, 60, 100), (150, 175, 230), 0.50, "moon"),
    "neutral": TimePalette((125, 150, 185), (205, 208, 212), (250, 250, 250), 0.92, None),
}

# setting -> (far ground, near ground)
GROUND_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "garden": ((105, 150, 75), (70, 125, 50)), "forest": ((55, 95, 50), (40, 72, 36)),
    "city": ((125, 125, 130), (88, 88, 94)), "water": ((60, 120, 170), (215, 195, 150)),
    "desert": ((228, 200, 150), (210, 178, 128)), "mountain": ((135, 125, 112), (105, 96, 86)),
    "snow": ((232, 238, 245), (215, 225, 236)), "underwater": ((40, 120, 140), (170, 150, 110)),
    "space": ((110, 110, 118), (140, 140, 146)), "stage": ((120, 115, 110), (95, 90, 86)),
}
WALL, FLOOR = (214, 198, 176), (150, 106, 72)

# mood -> (tint, tint strength, saturation factor, brightness factor)
MOOD_GRADES: dict[str, tuple[RGB, float, float, float]] = {
    "warm": ((255, 170, 90), 0.18, 1.05, 1.02), "cold": ((120, 170, 255), 0.20, 0.90, 0.97),
    "gloomy": ((90, 95, 110), 0.25, 0.60, 0.80), "cheerful": ((255, 230, 150), 0.08, 1.25, 1.08),
    "tense": ((150, 40, 40), 0.12, 0.85, 0.85), "mysterious": ((90, 60, 160), 0.20, 0.85, 0.85),
    "romantic": ((255, 140, 170), 0.15, 1.05, 1.00), "calm": ((200, 215, 230), 0.08, 0.90, 1.00),
    "dim": ((40, 40, 50), 0.00, 0.90, 0.75), "neon": ((220, 40, 200), 0.20, 1.30, 0.85),
    "rain": ((110, 120, 140), 0.25, 0.70, 0.80), "snow": ((220, 230, 245), 0.20, 0.80, 1.05),
    "fog": ((200, 205, 210), 0.30, 0.70, 1.00), "motes": ((255, 240, 200), 0.03, 1.00, 1.00),
}

# ----------------------------------------------------------------------------------------------
# Prompt reading


def _matches(text: str, table: Sequence[tuple[str, str]]) -> list[tuple[int, int, str]]:
    """All (start, -length, value) matches of the table in ``text``, sorted."""
    found = []
    for pattern, value in table:
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            found.append((m.start(), -(m.end() - m.start()), value))
    return sorted(found)


def first_match(text: str, table: Sequence[tuple[str, str]], default: str) -> str:
    """The value of the earliest (then longest) match of ``table`` in ``text``, else ``default``."""
    found = _matches(text, table)
    return found[0][2] if found else default


@dataclass(frozen=True)
class ShotLook:
    """What the preview reads from a prompt."""

    framing: str = "medium"
    """``wide``, ``medium`` or ``close``."""
    camera: str = "drift"
    """``static``, ``drift``, ``pan_left``/``pan_right``, ``tilt_up``/``tilt_down``, ``push_in``,
    ``pull_out``, ``zoom_in``/``zoom_out``, ``track``, ``handheld``, ``orbit``."""
    time: str = "neutral"
    """A key of :data:`TIME_PALETTES`."""
    setting: str = "stage"
    """``interior``, ``garden``, ``forest``, ``city``, ``water``, ``desert``, ``mountain``, ``snow``,
    ``underwater``, ``space`` or ``stage`` (none named)."""
    moods: tuple[str, ...] = ()
    """Mood/weather keys of :data:`MOOD_GRADES`, in order of mention (at most four)."""
    space_view: bool = False
    """An interior whose window shows space (spacecraft)."""

    @classmethod
    def from_prompt(cls, prompt: str) -> "ShotLook":
        """Read framing, camera, time, setting and moods from the prompt's words."""
        moods: list[str] = []
        for _, _, value in _matches(prompt, MOOD_WORDS):
            if value not in moods:
                moods.append(value)
        setting = first_match(prompt, SETTING_WORDS, "stage")
        if setting == "stage" and "snow" in moods:
            setting = "snow"
        return cls(
            framing=first_match(prompt, FRAMING_WORDS, "medium"),
            camera=first_match(prompt, CAMERA_WORDS, "drift"),
            time=first_match(prompt, TIME_WORDS, "neutral"),
            setting=setting,
            moods=tuple(moods[:4]),
            space_view=setting == "interior" and bool(SPACE_VIEW.search(prompt)),
        )

    def summary(self) -> str:
        """``wide · pan left · dusk · city`` (for the frame's header)."""
        parts = [self.framing, self.camera.replace("_", " "), self.time, self.setting, *self.moods]
        return " · ".join(p for p in parts if p not in ("neutral", "stage"))


# ----------------------------------------------------------------------------------------------
# Colour helpers


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _clamp(c: Iterable[float]) -> RGB:
    return tuple(int(min(255, max(0, round(v)))) for v in c)  # type: ignore[return-value]


def _grade(c: Sequence[float], moods: Sequence[str]) -> RGB:
    """Apply mood grades: tint, saturation around luma, brightness."""
    out = [float(v) for v in c]
    for m in moods:
        tint, strength, sat, bright = MOOD_GRADES[m]
        out = [v + (t - v) * strength for v, t in zip(out, tint)]
        luma = 0.2126 * out[0] + 0.7152 * out[1] + 0.0722 * out[2]
        out = [(luma + (v - luma) * sat) * bright for v in out]
    return _clamp(out)


def _lit(c: Sequence[float], light: Sequence[float], brightness: float) -> RGB:
    return _clamp(v * l / 255.0 * brightness for v, l in zip(c, light))


def snap(c: Sequence[float]) -> RGB:
    """Snap a colour to the look lattice (channels 8, 24, ..., 248): legend chips read back exactly
    through PNG or H.264 (errors under 8 levels), so looks never drift from shot to shot."""
    return tuple(int(min(248, max(8, round((v - 8) / 16.0) * 16 + 8))) for v in c)  # type: ignore[return-value]


def _hash_bytes(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


# ----------------------------------------------------------------------------------------------
# Character looks


@dataclass(frozen=True)
class Look:
    """How one character is drawn; colours are on the :func:`snap` lattice."""

    name: str
    kind: str
    """``human``, ``animal`` or ``robot``."""
    colours: dict[str, RGB]
    """One colour per slot of :data:`SLOTS`."""
    sources: dict[str, str]
    """Per slot, where the colour came from: ``bible``, ``memory`` or ``name``."""
    accessories: tuple[str, ...] = ()
    hair_style: str = "short"
    """``short``, ``long`` or ``bald``."""


def legend_id(name: str) -> tuple[RGB, RGB]:
    """The two ID chip colours of a character in the cast legend (from a hash of the name).
    Channels stay at 64 or above, so a dark picture is never mistaken for a legend."""
    h = _hash_bytes("dailies-legend-id", name.casefold().strip())
    ch = [snap([64 + v * 184 / 255.0])[0] for v in h[:6]]
    return (ch[0], ch[1], ch[2]), (ch[3], ch[4], ch[5])


def _tokens(text: str) -> list[str]:
    """Lower-case words (hyphens split; each CJK character is a token)."""
    out: list[str] = []
    for m in re.finditer(r"[a-z]+|[\u3400-\u9fff]", text.lower()):
        out.append(m.group(0))
    return out


_STOP = {"with", "wearing", "in", "of", "has", "holding", "carrying", "who", "while", "穿", "戴"}
_FULL_BODY = {"dress", "gown", "robe", "robes", "kimono", "spacesuit", "overalls", "suit", "uniform", "cloak", "袍", "裙"}


def _noun_slot(toks: Sequence[str], i: int) -> tuple[str, str] | None:
    """The (slot, noun) a colour word at ``toks[i]`` describes: the first slot noun within the
    next four words, not looking past a stop word (``with``, ``wearing``, ``in`` ...)."""
    for j in range(i + 1, min(len(toks), i + 5)):
        for noun in (toks[j] + toks[j + 1] if j + 1 < len(toks) else None, toks[j]):
            if noun and noun in SLOT_NOUNS:
                return SLOT_NOUNS[noun], noun
        if toks[j] in _STOP:
            return None
    return None


def bible_colours(character: Character) -> tuple[dict[str, RGB], tuple[str, ...]]:
    """Colours the bible states, and the accessories it names.

    A colour word followed within four words by a slot noun (``yellow raincoat`` -> top, ``silver
    hair`` -> hair, ``black man`` -> skin, ``red tie`` -> accent) sets that slot; the first colour per
    slot wins (``a brown jacket, a white shirt``: the top is brown). Colours with no slot noun then
    fill the next free slot of their field: appearance -> hair, eyes (an animal's -> fur (top), then patches (accent)); attire ->
    top, bottom, accent. A full-body garment (dress, robe, suit...) also colours the bottom, and a
    few garments imply their colour when none is given (jeans are denim blue)."""
    animal = bool(ANIMAL_WORDS.search(character.appearance)) or bool(ANIMAL_WORDS.search(character.name))
    colours: dict[str, RGB] = {}
    accessories: list[str] = []
    leftovers: list[tuple[str, str]] = []
    implied: dict[str, RGB] = {}
    full_body = None
    for field_name, text in (("appearance", character.appearance), ("attire", character.attire)):
        toks = _tokens(text)
        for i, tok in enumerate(toks):
            pair = tok + toks[i + 1] if i + 1 < len(toks) else ""
            acc = ACCESSORY_NOUNS.get(pair) or ACCESSORY_NOUNS.get(tok)
            if acc and acc not in accessories:
                accessories.append(acc)
            if tok not in COLOUR_WORDS:
                continue
            found = _noun_slot(toks, i)
            slot = found[0] if found else None
            if animal and slot in ("hair", "skin"):
                slot = "top"
            if slot == "skin":
                if "skin" not in colours:
                    colours["skin"] = snap(SKIN_WORDS.get(tok, COLOUR_WORDS[tok]))
                continue
            if slot and slot not in colours:
                colours[slot] = snap(COLOUR_WORDS[tok])
                if slot == "top" and found and found[1] in _FULL_BODY:
                    full_body = colours[slot]
            elif slot is None:
                leftovers.append((field_name, tok))
        for i, tok in enumerate(toks):  # garments whose colour goes without saying
            for noun in (tok + toks[i + 1] if i + 1 < len(toks) else "", tok):
                if noun in IMPLIED_COLOURS and IMPLIED_COLOURS[noun][0] not in implied:
                    implied[IMPLIED_COLOURS[noun][0]] = snap(IMPLIED_COLOURS[noun][1])
    for field_name, tok in leftovers:
        if tok in ("blonde", "blond", "auburn", "ginger", "platinum"):
            order: tuple[str, ...] = ("hair",)
        elif tok in ("pale", "fair", "dark") and field_name == "appearance" and not animal:
            if "skin" not in colours:
                colours["skin"] = snap(SKIN_WORDS[tok])
            continue
        elif animal:
            order = ("top", "accent")
        else:
            order = ("hair", "eyes") if field_name == "appearance" else ("top", "bottom", "accent")
        slot = next((o for o in order if o not in colours), None)
        if slot:
            colours[slot] = snap(COLOUR_WORDS[tok])
    if full_body is not None and "bottom" not in colours:
        colours["bottom"] = full_body
    for slot, colour in implied.items():
        colours.setdefault(slot, colour)
    return colours, tuple(accessories)


def name_colours(name: str, kind: str) -> dict[str, RGB]:
    """Fallback colours from a hash of the name (the same name always looks the same)."""
    h = _hash_bytes("dailies-look", name.casefold().strip())
    hair = [(30, 25, 22), (70, 45, 30), (120, 80, 45), (150, 70, 35), (220, 190, 120), (150, 150, 150)]
    skin = [(245, 215, 195), (230, 190, 160), (200, 150, 110), (160, 110, 75), (115, 78, 55), (225, 180, 140)]
    bottoms = [(30, 40, 80), (60, 62, 66), (70, 100, 150), (180, 165, 120), (90, 60, 40), (25, 25, 28)]
    eyes = [(80, 50, 30), (40, 30, 20), (60, 110, 170), (70, 130, 80), (120, 100, 50)]
    fur = [(230, 140, 60), (120, 120, 125), (40, 38, 36), (235, 230, 220), (130, 85, 50), (225, 205, 165)]
    top = _hsv(h[0] / 255.0, 0.55 + h[1] / 255.0 * 0.3, 0.55 + h[2] / 255.0 * 0.35)
    accent = _hsv(h[3] / 255.0, 0.7, 0.85)
    if kind == "animal":
        return {s: snap(c) for s, c in {"hair": fur[h[4] % 6], "skin": fur[h[4] % 6], "top": fur[h[4] % 6],
                                         "bottom": fur[h[4] % 6], "accent": fur[(h[5] + 3) % 6],
                                         "eyes": (90, 160, 60)}.items()}
    if kind == "robot":
        metal = _hsv(h[0] / 255.0, 0.15, 0.75)
        return {s: snap(c) for s, c in {"hair": metal, "skin": (200, 205, 210), "top": metal,
                                         "bottom": (90, 95, 100), "accent": accent,
                                         "eyes": (80, 200, 255)}.items()}
    return {s: snap(c) for s, c in {"hair": hair[h[4] % 6], "skin": skin[h[5] % 6], "top": top,
                                     "bottom": bottoms[h[6] % 6], "accent": accent,
                                     "eyes": eyes[h[7] % 5]}.items()}


def character_kind(character: Character) -> str:
    """``animal``, ``robot`` or ``human`` from the character's appearance and name."""
    text = f"{character.name} {character.appearance}"
    if ROBOT_WORDS.search(text):
        return "robot"
    if ANIMAL_WORDS.search(text):
        return "animal"
    return "human"


def resolve_look(character: Character, memory_colours: dict[str, RGB] | None = None) -> Look:
    """A character's look: per slot the bible's colour, else the memory's, else the name hash."""
    kind = character_kind(character)
    stated, accessories = bible_colours(character)
    fallback = name_colours(character.name, kind)
    colours: dict[str, RGB] = {}
    sources: dict[str, str] = {}
    for slot in SLOTS:
        if slot in stated:
            colours[slot], sources[slot] = stated[slot], "bible"
        elif memory_colours and slot in memory_colours:
            colours[slot], sources[slot] = snap(memory_colours[slot]), "memory"
        else:
            colours[slot], sources[slot] = fallback[slot], "name"
    text = f"{character.appearance} {character.attire}"
    style = "bald" if BALD.search(text) else "long" if LONG_HAIR.search(text) else "short"
    return Look(character.name, kind, colours, sources, accessories, style)


# ----------------------------------------------------------------------------------------------
# Cast legend: drawn on every frame, read back from memory images


@dataclass(frozen=True)
class LegendGeometry:
    """Where the cast legend's chips sit in an image of height ``height``."""

    height: int

    @property
    def chip(self) -> int:
        return max(6, round(self.height * 0.034))

    @property
    def margin(self) -> int:
        return max(3, self.chip // 2)

    @property
    def gap(self) -> int:
        return max(2, self.chip // 4)

    def chip_box(self, entry: int, index: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of chip ``index`` (0-1 ID, 2-7 the slots) of legend entry ``entry``."""
        e = self.chip
        x0 = self.margin + index * e + (self.gap if index >= 2 else 0)
        y0 = self.margin + entry * (e + self.gap)
        return x0, y0, x0 + e, y0 + e

    def separator_box(self, entry: int) -> tuple[int, int, int, int]:
        """The plate gap between the ID chips and the slot chips (always dark)."""
        x0, y0, _, y1 = self.chip_box(entry, 1)
        return x0 + self.chip, y0, x0 + self.chip + self.gap, y1


MAX_LEGEND = 6
"""At most this many characters are listed in the legend (and read back)."""
PLATE = (12, 12, 12)


def _chip_colour(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    q = max(1, (x1 - x0) // 4)
    patch = img[y0 + q: y1 - q, x0 + q: x1 - q].reshape(-1, 3)  # (P, 3)
    return np.median(patch, axis=0)


def read_legend(image: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, RGB]]:
    """The slot colours of the characters ``names`` found in the cast legend of ``image``
    ``(H, W, 3)``; characters not found (or no legend at all) are absent from the result."""
    geo = LegendGeometry(image.shape[0])
    found: dict[str, dict[str, RGB]] = {}
    ids = {n: legend_id(n) for n in names}
    for entry in range(MAX_LEGEND):
        _, _, x_end, y_end = geo.chip_box(entry, len(SLOTS) + 1)
        if y_end > image.shape[0] or x_end > image.shape[1]:
            break
        sx0, sy0, sx1, sy1 = geo.separator_box(entry)
        if image[sy0:sy1, sx0:sx1].max() > 60:  # no dark plate: no legend entry here
            break
        got = (_chip_colour(image, geo.chip_box(entry, 0)), _chip_colour(image, geo.chip_box(entry, 1)))
        best, best_err = None, 40.0
        for name, (a, b) in ids.items():
            err = max(np.abs(got[0] - a).max(), np.abs(got[1] - b).max())
            if err < best_err and name not in found:
                best, best_err = name, err
        if best is None:
            continue
        found[best] = {s: snap(_chip_colour(image, geo.chip_box(entry, 2 + k))) for k, s in enumerate(SLOTS)}
    return found


def sample_reference(image: np.ndarray) -> dict[str, RGB]:
    """Colours of a single-character image without a legend (a reference photo): the body (top)
    from the median of a centre box, the hair from a box at the top centre."""
    h, w = image.shape[:2]
    body = image[int(h * 0.45): int(h * 0.8), int(w * 0.35): int(w * 0.65)].reshape(-1, 3)
    hair = image[int(h * 0.06): int(h * 0.22), int(w * 0.4): int(w * 0.6)].reshape(-1, 3)
    return {"top": snap(np.median(body, axis=0)), "hair": snap(np.median(hair, axis=0))}


# ----------------------------------------------------------------------------------------------
# Drawing


def _font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font (always available, no downloads)."""
    return ImageFont.load_default(size=max(6, int(size)))


def _vertical_gradient(w: int, h: int, top: RGB, bottom: RGB) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(h, 1), dtype=np.float32)[:, None]  # (h, 1)
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t  # (h, 3)
    return np.repeat(col[:, None, :], w, axis=1)  # (h, w, 3)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by pixel width into at most ``max_lines + 1`` lines (the caller only needs
    to know whether the text fits); words wider than a line, and CJK runs, break by character."""
    lines: list[str] = []
    line = ""
    cjk = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
    for word in re.findall(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]|[^\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", text):
        if len(lines) > max_lines:
            break
        cand = line + ("" if not line or cjk.match(word) else " ") + word
        if font.getlength(cand) <= width:
            line = cand
            continue
        if line:
            lines.append(line)
        line = word
        while font.getlength(line) > width and len(line) > 1 and len(lines) <= max_lines:
            lo, hi = 1, len(line) - 1  # longest prefix that fits (binary search)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if font.getlength(line[:mid]) <= width:
                    lo = mid
                else:
                    hi = mid - 1
            lines.append(line[:lo])
            line = line[lo:]
    if line and len(lines) <= max_lines:
        lines.append(line)
    return lines


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


@dataclass
class _Layers:
    """Everything drawn once per shot."""

    world: Image.Image  # RGB (WW, WH)
    sprite: Image.Image | None  # RGBA figures, cropped to their box
    sprite_xy: tuple[int, int]  # world position of the sprite's top-left
    overlays: list[tuple[int, int, np.ndarray, np.ndarray]]  # (x, y, rgb (h,w,3) f32, alpha (h,w,1) f32)
    particles: str | None
    particle_colour: RGB


class PreviewEngine:
    """Deterministic CPU animatic renderer (implements ``engine.base.Engine``)."""

    name = "preview"
    version = "3"
    """Bumped whenever the same request would draw different frames (part of the input hash)."""

    def __init__(self, config: PreviewConfig | None = None) -> None:
        self.config = config or PreviewConfig()

    def describe(self) -> str:
        """One line for the run summary."""
        c = self.config
        return (f"preview: deterministic CPU animatic (PIL/numpy, no model weights; memory pull {c.memory_pull}, "
                f"continuation pull {c.continuation_pull}, blend {c.blend_seconds}s)")

    # -- public -------------------------------------------------------------------------------

    def render_shot(self, request: RenderRequest, progress: ProgressFn | None = None) -> np.ndarray:
        """All frames ``(num_frames, height, width, 3)`` uint8 of the shot, including the leading
        repeated frames of MI2V (1) and MM2V (5)."""
        W, H, F = request.width, request.height, request.num_frames
        look = ShotLook.from_prompt(request.prompt)
        memory = [(m, self._load(m.path, request)) for m in request.memory]  # [(MemoryImage, (h, w, 3))]
        lead: list[np.ndarray] = []
        if request.mode == "mi2v":
            lead = [self._load(request.first_frame or "", request, (W, H))]
        elif request.mode == "mm2v":
            lead = [self._load(p, request, (W, H)) for p in request.motion_frames]
        looks = self._looks(request.characters, memory, lead)
        palette, bright = self._palette(look, [img for m, img in memory if not m.id.startswith("ref-")], lead[-1:])
        rng = np.random.default_rng(int.from_bytes(_hash_bytes("preview-seed", str(request.seed))[:8], "little"))
        layers = self._draw_layers(request, look, looks, palette, bright, rng)
        path = _camera_path(look, F, W, H, self.config.world_margin, rng)

        frames = np.empty((F, H, W, 3), np.uint8)  # (F, H, W, 3)
        n_lead = len(lead)
        for t in range(n_lead):
            frames[t] = lead[t]
            if progress:
                progress(t + 1, F)
        motion = _estimate_motion(np.stack(lead)) if n_lead >= 2 else None
        blend_n = max(1, min(F - n_lead, round(request.fps * self.config.blend_seconds)))
        for t in range(n_lead, F):
            frame = self._picture(layers, path, t, W, H)  # (H, W, 3)
            if n_lead:
                k = t - n_lead + 1
                if k <= blend_n:
                    w = _smoothstep(k / (blend_n + 1))
                    cont = (_continue_motion(lead[-1], motion, k) if motion is not None
                            else _continue_camera(lead[-1], path, 0, k))
                    frame = (cont.astype(np.float32) * (1 - w) + frame.astype(np.float32) * w + 0.5).astype(np.uint8)
            _overlay(frame, layers.overlays)  # the new shot's caption and legend from its first new frame on
            frames[t] = frame
            if progress:
                progress(t + 1, F)
        return frames

    # -- inputs -------------------------------------------------------------------------------

    @staticmethod
    def _load(path: str, request: RenderRequest, size: tuple[int, int] | None = None) -> np.ndarray:
        try:
            return load_image(path, size)
        except ValueError as exc:
            raise EngineError(f"shot {request.shot_id}: {exc}; check the paths in the render request") from None

    @staticmethod
    def _looks(characters: Sequence[Character], memory: Sequence[tuple[MemoryImage, np.ndarray]],
               lead: Sequence[np.ndarray]) -> list[Look]:
        """Resolve each character's look; memory colours come from the oldest memory image that
        shows the character (legend chips, or a single-character reference sampled at the centre),
        then from the previous shot's frame (MI2V/MM2V)."""
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
        return [resolve_look(c, from_memory.get(c.name)) for c in characters]

    def _palette(self, look: ShotLook, memory: Sequence[np.ndarray],
                 lead: Sequence[np.ndarray]) -> tuple[dict[str, RGB], float]:
        """Scene colours and light level: time of day, setting, moods, then pulled towards memory
        (and the previous frame for MI2V/MM2V)."""
        tp = TIME_PALETTES[look.time]
        far, near = GROUND_COLOURS.get(look.setting, GROUND_COLOURS["stage"])
        light, bright = tp.light, tp.brightness
        sky_top, sky_hor = tp.sky_top, tp.sky_horizon
        if look.setting == "underwater":
            sky_top, sky_hor = _mix((8, 40, 80), sky_top, 0.15), _mix((40, 140, 160), sky_hor, 0.15)
        if look.setting == "space":
            sky_top, sky_hor = (2, 2, 10), (12, 12, 34)
        if look.setting == "interior" and bright < 0.6:
            light, bright = _mix(light, (255, 196, 140), 0.6), 0.62  # lamps indoors at night
        pal = {
            "sky_top": sky_top, "sky_horizon": sky_hor,
            "ground_far": _lit(far, light, bright), "ground_near": _lit(near, light, bright),
            "wall": _lit(WALL, light, bright), "floor": _lit(FLOOR, light, bright),
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

    # -- static layers ------------------------------------------------------------------------

    def _draw_layers(self, request: RenderRequest, look: ShotLook, looks: list[Look], pal: dict[str, RGB],
                     bright: float, rng: np.random.Generator) -> _Layers:
        W, H = request.width, request.height
        m = self.config.world_margin
        WW, WH = int(round(W * (1 + m))), int(round(H * (1 + m)))
        ox, oy = (WW - W) / 2.0, (WH - H) / 2.0  # world position of the base view's top-left

        def vx(f: float) -> float:
            return ox + f * W

        def vy(f: float) -> float:
            return oy + f * H

        horizon = {"wide": 0.58, "medium": 0.62, "close": 0.66}[look.framing]
        interior = look.setting == "interior"
        base = np.empty((WH, WW, 3), np.float32)  # (WH, WW, 3)
        hy = int(round(vy(0.70 if interior else horizon)))
        hy = min(max(hy, 1), WH - 1)
        if interior:
            base[:hy] = _vertical_gradient(WW, hy, _mix(pal["wall"], (0, 0, 0), 0.12), pal["wall"])
            base[hy:] = _vertical_gradient(WW, WH - hy, _mix(pal["floor"], (0, 0, 0), 0.1), pal["floor"])
        else:
            base[:hy] = _vertical_gradient(WW, hy, pal["sky_top"], pal["sky_horizon"])
            base[hy:] = _vertical_gradient(WW, WH - hy, pal["ground_far"], pal["ground_near"])
        # Seeded texture: low-frequency noise, +-6 levels (the seed's small details).
        noise = rng.standard_normal((max(2, WH // 24), max(2, WW // 24))).astype(np.float32)
        noise_img = Image.fromarray(((noise * 40 + 128).clip(0, 255)).astype(np.uint8)).resize((WW, WH), Image.Resampling.BICUBIC)
        base += (np.asarray(noise_img, np.float32)[..., None] - 128.0) * 0.15
        world = Image.fromarray(base.clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(world)
        if interior:
            self._draw_interior(draw, look, pal, vx, vy, hy, rng, W, H)
        else:
            self._draw_exterior(draw, look, pal, vx, vy, hy, rng, W, H, WW, WH)
        if "fog" in look.moods:
            fog = Image.new("RGB", world.size, _mix(pal["sky_horizon"], (210, 210, 215), 0.6))
            world = Image.blend(world, fog, 0.35)
        blur = {"wide": 0.0, "medium": H / 320.0, "close": H / 110.0}[look.framing]
        if blur > 0.3:
            world = world.filter(ImageFilter.GaussianBlur(blur))

        sprite, sprite_xy = self._draw_figures(looks, look, pal, bright, vx, vy, rng, W, H, WW, WH)
        if sprite is not None and not _PARALLAX.get(look.camera):
            world.paste(sprite, sprite_xy, sprite)  # figures move with the world: one layer
            sprite = None
        overlays = [self._legend_overlay(looks, W, H)] if looks else []
        if self.config.caption:
            overlays.append(self._caption_overlay(request, look, W, H))
            overlays.append(self._header_overlay(request, look, W, H))
        particles = next((p for p in ("rain", "snow", "motes") if p in look.moods), None)
        if look.setting == "underwater" and particles is None:
            particles = "bubbles"
        pcol = {"rain": (200, 210, 230), "snow": (250, 250, 255), "motes": (255, 240, 200),
                "bubbles": (200, 235, 255)}.get(particles or "", (255, 255, 255))
        return _Layers(world, sprite, sprite_xy, [o for o in overlays if o is not None], particles, pcol)

    @staticmethod
    def _draw_celestial(draw: ImageDraw.ImageDraw, tp: TimePalette, vx: Callable[[float], float],
                        vy: Callable[[float], float], hyf: float, H: int, pal: dict[str, RGB]) -> None:
        pos = {"sun_low_left": (0.18, hyf - 0.08), "sun_morning": (0.28, 0.2), "sun_high": (0.6, 0.1),
               "sun_afternoon": (0.72, 0.2), "sun_low_right": (0.78, hyf - 0.09), "moon": (0.76, 0.14)}
        if tp.celestial not in pos:
            return
        fx, fy = pos[tp.celestial]
        r = H * (0.05 if tp.celestial == "moon" else 0.065)
        x, y = vx(fx), vy(fy)
        if tp.celestial == "moon":
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(235, 235, 220))
            draw.ellipse([x - r * 0.6, y - r * 1.05, x + r * 1.3, y + r * 0.75], fill=pal["sky_top"])
        else:
            glow = _mix(pal["sky_horizon"], (255, 250, 230), 0.5)
            draw.ellipse([x - 1.8 * r, y - 1.8 * r, x + 1.8 * r, y + 1.8 * r], fill=_mix(glow, pal["sky_top"], 0.4))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_mix(tp.light, (255, 255, 255), 0.4))

    def _draw_exterior(self, draw: ImageDraw.ImageDraw, look: ShotLook, pal: dict[str, RGB],
                       vx: Callable[[float], float], vy: Callable[[float], float], hy: int,
                       rng: np.random.Generator, W: int, H: int, WW: int, WH: int) -> None:
        tp = TIME_PALETTES[look.time]
        hyf = (hy - vy(0)) / H
        night = look.time in ("night", "moonlight", "evening", "dusk") or look.setting == "space"
        if night:
            n = 160 if look.setting == "space" else 70
            xs, ys = rng.uniform(0, WW, n), rng.uniform(0, hy * 0.9, n)
            for x, y, s in zip(xs, ys, rng.uniform(0.6, 1.8, n)):
                draw.ellipse([x - s, y - s, x + s, y + s], fill=(230, 230, 240))
        if look.setting != "underwater":
            self._draw_celestial(draw, tp, vx, vy, hyf, H, pal)
        if look.setting == "space":
            r = H * 0.35
            cx, cy = vx(0.25 + rng.uniform(-0.04, 0.04)), vy(0.3)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(40, 90, 170))
            draw.ellipse([cx - r * 0.6, cy - r * 0.5, cx + r * 0.2, cy + r * 0.1], fill=(70, 130, 80))
        if not night and look.setting not in ("underwater", "space"):
            for _ in range(4):
                cx, cy = rng.uniform(0, WW), vy(rng.uniform(0.05, max(0.1, hyf - 0.25)))
                cw, ch = W * rng.uniform(0.08, 0.16), H * rng.uniform(0.03, 0.05)
                col = _mix(pal["sky_top"], (255, 255, 255), 0.55)
                for dx in (-0.5, 0.0, 0.5):
                    draw.ellipse([cx + dx * cw - cw * 0.6, cy - ch, cx + dx * cw + cw * 0.6, cy + ch], fill=col)
        far = _mix(pal["ground_far"], pal["sky_horizon"], 0.35)
        if look.setting in ("mountain", "garden", "stage", "desert", "snow"):
            pts = [(0, hy)]
            for x in np.linspace(0, WW, 7):
                pts.append((float(x), hy - H * rng.uniform(0.08, 0.28 if look.setting == "mountain" else 0.12)))
            pts.append((WW, hy))
            draw.polygon(pts, fill=far)
        if look.setting == "city":
            x = 0.0
            while x < WW:
                bw, bh = W * rng.uniform(0.07, 0.13), H * rng.uniform(0.18, 0.45)
                col = _mix(pal["prop"], pal["sky_horizon"], rng.uniform(0.2, 0.45))
                draw.rectangle([x, hy - bh, x + bw - 3, hy], fill=col)
                win = (255, 220, 140) if night else _mix(col, (200, 220, 240), 0.4)
                for wy in np.arange(hy - bh + 6, hy - 8, max(6, H * 0.035)):
                    for wx in np.arange(x + 5, x + bw - 10, max(6, W * 0.02)):
                        if rng.random() < (0.45 if night else 0.8):
                            draw.rectangle([wx, wy, wx + max(2, W * 0.008), wy + max(2, H * 0.014)], fill=win)
                x += bw
        if look.setting in ("forest", "garden"):
            n = 14 if look.setting == "forest" else 5
            for x in np.sort(rng.uniform(0, WW, n)):
                th = H * rng.uniform(0.25, 0.45) * (1.4 if look.setting == "forest" else 1.0)
                base_y = hy + H * rng.uniform(0.0, 0.04)
                draw.rectangle([x - W * 0.008, base_y - th, x + W * 0.008, base_y], fill=_mix(pal["prop"], (60, 40, 25), 0.5))
                r = th * 0.35
                leaf = _mix(pal["ground_far"], (20, 60, 20), rng.uniform(0.2, 0.5))
                draw.ellipse([x - r, base_y - th - r, x + r, base_y - th + r * 0.9], fill=leaf)
        if look.setting == "garden":
            for _ in range(40):
                x, y = rng.uniform(0, WW), rng.uniform(hy + 4, WH)
                s = H * 0.006 * (1 + (y - hy) / H * 3)
                col = _hsv(rng.uniform(0, 1), 0.6, 0.95)
                draw.ellipse([x - s, y - s, x + s, y + s], fill=_lit(col, pal["light"], 1.0))
        if look.setting == "water":
            wy = hy + H * 0.12
            draw.rectangle([0, hy, WW, wy], fill=_mix(pal["sky_horizon"], (40, 100, 160), 0.55))
            for _ in range(30):
                x, y = rng.uniform(0, WW), rng.uniform(hy + 2, wy - 2)
                draw.line([x, y, x + W * 0.03, y], fill=_mix(pal["sky_horizon"], (255, 255, 255), 0.5), width=1)
        if look.setting == "underwater":
            for _ in range(9):
                x = rng.uniform(0, WW)
                ch = H * rng.uniform(0.08, 0.2)
                col = _hsv(rng.choice([0.0, 0.05, 0.9, 0.12, 0.55]), 0.65, 0.85)
                draw.ellipse([x - ch * 0.5, hy - ch * 0.6, x + ch * 0.5, hy + ch * 0.3], fill=col)
        if look.setting == "city":
            draw.rectangle([0, hy + H * 0.1, WW, hy + H * 0.11], fill=(220, 220, 200))

    def _draw_interior(self, draw: ImageDraw.ImageDraw, look: ShotLook, pal: dict[str, RGB],
                       vx: Callable[[float], float], vy: Callable[[float], float], hy: int,
                       rng: np.random.Generator, W: int, H: int) -> None:
        tp = TIME_PALETTES[look.time]
        # Window showing the sky (or space) of the time of day.
        wx0, wy0 = vx(0.62 + rng.uniform(-0.03, 0.03)), vy(0.08)
        wx1, wy1 = wx0 + W * 0.26, vy(0.5)
        frame_col = _mix(pal["wall"], (255, 255, 255), 0.35)
        draw.rectangle([wx0 - 6, wy0 - 6, wx1 + 6, wy1 + 6], fill=frame_col)
        steps = 12
        for i in range(steps):
            top = wy0 + (wy1 - wy0) * i / steps
            sky = _mix((2, 2, 10), (10, 10, 30), i / steps) if look.space_view else _mix(pal["sky_top"], pal["sky_horizon"], i / steps)
            draw.rectangle([wx0, top, wx1, wy0 + (wy1 - wy0) * (i + 1) / steps], fill=sky)
        if look.space_view:
            r = (wy1 - wy0) * 0.35
            draw.ellipse([wx0 + r * 0.3, wy1 - r * 1.4, wx0 + r * 2.3, wy1 + r * 0.6], fill=(40, 90, 170))
            for x, y in zip(rng.uniform(wx0, wx1, 25), rng.uniform(wy0, wy1, 25)):
                draw.point((float(x), float(y)), fill=(240, 240, 250))
        elif tp.celestial == "moon":
            r = H * 0.03
            draw.ellipse([wx1 - 3 * r, wy0 + r, wx1 - r, wy0 + 3 * r], fill=(235, 235, 220))
        elif tp.celestial:
            r = H * 0.035
            draw.ellipse([wx0 + 2 * r, wy0 + 2 * r, wx0 + 4 * r, wy0 + 4 * r], fill=_mix(tp.light, (255, 255, 255), 0.5))
        draw.line([(wx0 + wx1) / 2, wy0, (wx0 + wx1) / 2, wy1], fill=frame_col, width=4)
        draw.line([wx0, (wy0 + wy1) / 2, wx1, (wy0 + wy1) / 2], fill=frame_col, width=4)
        # Light falling in from the window.
        draw.polygon([(wx0, hy), (wx1, hy), (wx1 + W * 0.1, hy + H * 0.25), (wx0 - W * 0.05, hy + H * 0.25)],
                     fill=_mix(pal["floor"], tp.light, 0.18))
        # A picture, a shelf and a table.
        px0, py0 = vx(0.12 + rng.uniform(-0.03, 0.03)), vy(0.16)
        draw.rectangle([px0, py0, px0 + W * 0.14, py0 + H * 0.16], fill=_mix(pal["prop"], (30, 25, 20), 0.4))
        draw.rectangle([px0 + 5, py0 + 5, px0 + W * 0.14 - 5, py0 + H * 0.16 - 5],
                       fill=_hsv(rng.uniform(0, 1), 0.35, 0.7))
        sx = vx(-0.1 + rng.uniform(0, 0.05))
        draw.rectangle([sx, vy(0.3), sx + W * 0.12, hy], fill=pal["prop"])
        for k in range(4):
            y = vy(0.3) + (hy - vy(0.3)) * (k + 1) / 5
            draw.line([sx, y, sx + W * 0.12, y], fill=_mix(pal["prop"], (0, 0, 0), 0.35), width=3)
        tx = vx(0.3 + rng.uniform(-0.05, 0.05))
        draw.rectangle([tx, hy - H * 0.12, tx + W * 0.22, hy - H * 0.1], fill=_mix(pal["prop"], (255, 255, 255), 0.15))
        draw.rectangle([tx + W * 0.01, hy - H * 0.1, tx + W * 0.02, hy + H * 0.04], fill=pal["prop"])
        draw.rectangle([tx + W * 0.2, hy - H * 0.1, tx + W * 0.21, hy + H * 0.04], fill=pal["prop"])
        if "neon" in look.moods:
            draw.rectangle([vx(0.05), vy(0.05), vx(0.5), vy(0.07)], fill=(255, 60, 200))

    def _draw_figures(self, looks: list[Look], look: ShotLook, pal: dict[str, RGB], bright: float,
                      vx: Callable[[float], float], vy: Callable[[float], float], rng: np.random.Generator,
                      W: int, H: int, WW: int, WH: int) -> tuple[Image.Image | None, tuple[int, int]]:
        """All characters on one transparent sprite (cropped to their box), lit by the scene."""
        if not looks:
            return None, (0, 0)
        layer = Image.new("RGBA", (WW, WH), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        shown = looks[:2] if look.framing == "close" else looks[:MAX_LEGEND]
        n = len(shown)
        if look.framing == "close":
            xs = [0.5] if n == 1 else [0.4, 0.8]
        else:
            xs = [0.5] if n == 1 else list(np.linspace(0.25, 0.75, n))
        light = pal["light"]
        lift = 0.35 + 0.65 * bright  # figures stay readable at night
        for i, lk in enumerate(shown):
            x = vx(xs[i] + rng.uniform(-0.03, 0.03))
            if look.framing == "wide":
                height, feet = H * 0.34, vy(0.86 + rng.uniform(-0.02, 0.02))
            elif look.framing == "medium":
                height, feet = H * 1.05, vy(1.22)
            else:
                height, feet = H * 2.3 * (1.0 if i == 0 else 0.8), vy(2.42)
            if lk.kind == "animal":  # smaller; in medium and close shots the head sits at the slot
                height, feet = {"wide": (H * 0.19, feet), "medium": (H * 0.36, vy(0.95)),
                                "close": (H * 0.75, vy(1.0))}[look.framing]
                if look.framing != "wide":
                    x -= height * 0.5
            lit = {s: _clamp(v * l / 255.0 * lift + 12 * (1 - lift) for v, l in zip(c, light))
                   for s, c in lk.colours.items()}
            top_y = _draw_figure(draw, lk, lit, x, feet, height)
            size = int(np.clip(height * 0.09, 10, H * 0.06))
            font = _font(size)
            label_y = max(vy(0.03), top_y - size * 1.5)
            draw.text((x, label_y), lk.name, font=font, fill=(255, 255, 255, 255), anchor="mt",
                      stroke_width=max(1, size // 8), stroke_fill=(0, 0, 0, 255))
        box = layer.getbbox()
        if box is None:
            return None, (0, 0)
        return layer.crop(box), (box[0], box[1])

    @staticmethod
    def _legend_overlay(looks: list[Look], W: int, H: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        geo = LegendGeometry(H)
        shown = looks[:MAX_LEGEND]
        font = _font(geo.chip * 0.8)
        text_x = geo.chip_box(0, len(SLOTS) + 2)[0] + geo.gap
        width = min(W, int(text_x + max(font.getlength(lk.name) for lk in shown) + geo.gap * 2))
        height = min(H, geo.chip_box(len(shown) - 1, 0)[3] + geo.margin)
        img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rectangle([0, 0, width - 1, height - 1], fill=PLATE + (255,))
        for e, lk in enumerate(shown):
            ids = legend_id(lk.name)
            cols = list(ids) + [lk.colours[s] for s in SLOTS]
            for k, c in enumerate(cols):
                x0, y0, x1, y1 = geo.chip_box(e, k)
                d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=c + (255,))
            y0 = geo.chip_box(e, 0)[1]
            d.text((text_x, y0 + geo.chip / 2), lk.name, font=font, fill=(235, 235, 235, 255), anchor="lm")
        arr = np.asarray(img, np.float32)
        return 0, 0, arr[..., :3], arr[..., 3:] / 255.0

    @staticmethod
    def _caption_overlay(request: RenderRequest, look: ShotLook, W: int, H: int):
        size = max(10, round(min(W / 55.0, H / 26.0)))
        pad = max(3, size // 2)
        lines: list[str] = []
        font = _font(size)
        max_lines = min(4, max(1, H // 100))  # small frames get a one- or two-line caption
        for s in range(size, max(9, size - 5), -1):
            font = _font(s)
            lines = _wrap(request.prompt, font, W - 2 * pad, max_lines)
            if len(lines) <= max_lines:
                break
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = lines[-1][: max(1, len(lines[-1]) - 2)] + "…"
        line_h = int(font.size * 1.25)
        band_h = min(H, len(lines) * line_h + 2 * pad)
        img = Image.new("RGBA", (W, band_h), (0, 0, 0, 225))  # nearly opaque: no ghost of the last caption
        d = ImageDraw.Draw(img)
        for i, line in enumerate(lines):
            d.text((pad, pad + i * line_h), line, font=font, fill=(245, 245, 245, 255))
        arr = np.asarray(img, np.float32)
        return 0, H - band_h, arr[..., :3], arr[..., 3:] / 255.0

    @staticmethod
    def _header_overlay(request: RenderRequest, look: ShotLook, W: int, H: int):
        size = max(7, round(H / 40.0))
        font = _font(size)
        text = f"{request.shot_id} {request.mode} · {look.summary()}"
        tw = int(font.getlength(text)) + size
        if tw > W:
            return None
        img = Image.new("RGBA", (tw, int(size * 1.6)), (0, 0, 0, 225))
        ImageDraw.Draw(img).text((size // 2, size * 0.8), text, font=font, fill=(255, 255, 255, 230), anchor="lm")
        arr = np.asarray(img, np.float32)
        return W - tw, 0, arr[..., :3], arr[..., 3:] / 255.0

    # -- per frame ------------------------------------------------------------------------------

    def _picture(self, layers: _Layers, path: "_CameraPath", t: int, W: int, H: int) -> np.ndarray:
        """One frame without overlays: the camera's view of the world, the figures (own view when
        they have parallax) and particles. ``(H, W, 3)`` uint8."""
        cx, cy, s = path.background(t)
        img = _view(layers.world, cx, cy, s, W, H)
        if layers.sprite is not None:
            fx, fy, fs = path.figures(t)
            # Output rectangle of the sprite: (world - view origin) / scale, clipped to the frame.
            sx0 = (layers.sprite_xy[0] - (fx - fs * W / 2)) / fs
            sy0 = (layers.sprite_xy[1] - (fy - fs * H / 2)) / fs
            sx1, sy1 = sx0 + layers.sprite.width / fs, sy0 + layers.sprite.height / fs
            ox0, oy0 = max(0, int(math.floor(sx0))), max(0, int(math.floor(sy0)))
            ox1, oy1 = min(W, int(math.ceil(sx1))), min(H, int(math.ceil(sy1)))
            if ox1 > ox0 and oy1 > oy0:
                # The matching sprite region (sub-pixel), clamped to the sprite.
                box = (max(0.0, (ox0 - sx0) * fs), max(0.0, (oy0 - sy0) * fs),
                       min(float(layers.sprite.width), (ox1 - sx0) * fs),
                       min(float(layers.sprite.height), (oy1 - sy0) * fs))
                spr = layers.sprite.resize((ox1 - ox0, oy1 - oy0), Image.Resampling.BILINEAR, box=box)
                img.paste(spr, (ox0, oy0), spr)
        frame = np.asarray(img).copy()  # (H, W, 3)
        if layers.particles:
            _particles(frame, layers.particles, layers.particle_colour, t, W, H)
        return frame


def _overlay(frame: np.ndarray, overlays: Sequence[tuple[int, int, np.ndarray, np.ndarray]]) -> None:
    """Alpha-blend the precomputed overlays (legend, caption, header) onto ``frame`` in place."""
    for x, y, rgb, alpha in overlays:
        h, w = rgb.shape[:2]
        region = frame[y:y + h, x:x + w].astype(np.float32)  # (h, w, 3)
        frame[y:y + h, x:x + w] = (region + (rgb - region) * alpha + 0.5).astype(np.uint8)


def _view(world: Image.Image, cx: float, cy: float, s: float, W: int, H: int) -> Image.Image:
    """The ``W x H`` view of ``world`` centred at (cx, cy) showing ``s*W x s*H`` world pixels
    (bilinear, sub-pixel; the view is shifted inside the world if it pokes out)."""
    vw, vh = min(s * W, world.width), min(s * H, world.height)
    x0 = min(max(0.0, cx - vw / 2), world.width - vw)
    y0 = min(max(0.0, cy - vh / 2), world.height - vh)
    return world.resize((W, H), Image.Resampling.BILINEAR, box=(x0, y0, x0 + vw, y0 + vh))


# ----------------------------------------------------------------------------------------------
# Figures


def _draw_figure(draw: ImageDraw.ImageDraw, look: Look, c: dict[str, RGB], x: float, feet: float, h: float) -> float:
    """Draw one character with its feet at (x, feet) and height ``h``; returns the top y."""
    a = 255
    if look.kind == "animal":  # x is the figure's centre: body behind it, head in front
        x -= h * 0.25
        bw, bh = h * 1.5, h * 0.55
        by = feet - h * 0.35
        for lx in (-0.55, -0.3, 0.3, 0.55):
            draw.rectangle([x + lx * bw * 0.6 - h * 0.05, by, x + lx * bw * 0.6 + h * 0.05, feet], fill=c["top"] + (a,))
        draw.ellipse([x - bw / 2, by - bh / 2, x + bw / 2, by + bh / 2], fill=c["top"] + (a,))
        draw.ellipse([x - bw * 0.25, by - bh * 0.05, x + bw * 0.25, by + bh * 0.45], fill=c["accent"] + (a,))
        draw.line([x - bw / 2, by, x - bw * 0.75, by - h * 0.5], fill=c["top"] + (a,), width=max(2, int(h * 0.08)))
        hr = h * 0.32
        hx, hy = x + bw * 0.5, by - bh * 0.6
        for ex in (-1, 1):
            draw.polygon([(hx + ex * hr * 0.15, hy - hr * 0.7), (hx + ex * hr * 0.95, hy - hr * 0.45),
                          (hx + ex * hr * 0.75, hy - hr * 1.45)], fill=c["top"] + (a,))
        draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=c["top"] + (a,))
        er = max(1.0, hr * 0.16)
        for ex in (-0.4, 0.4):
            draw.ellipse([hx + ex * hr - er, hy - hr * 0.15 - er, hx + ex * hr + er, hy - hr * 0.15 + er], fill=c["eyes"] + (a,))
        draw.ellipse([hx - er, hy + hr * 0.25 - er, hx + er, hy + hr * 0.25 + er], fill=(40, 30, 30, a))
        return hy - hr * 1.5
    r = h * 0.09
    head_y = feet - h + r
    neck = head_y + r
    hip = feet - h * 0.45
    tw = h * 0.3
    # Legs, arms, torso.
    for lx in (-0.28, 0.08):
        draw.rounded_rectangle([x + lx * tw * 1.5, hip - h * 0.02, x + lx * tw * 1.5 + tw * 0.3, feet],
                               radius=max(1, int(tw * 0.08)), fill=c["bottom"] + (a,))
    if "backpack" in look.accessories:
        draw.rounded_rectangle([x - tw * 0.62, neck + h * 0.05, x + tw * 0.62, hip - h * 0.08],
                               radius=max(1, int(tw * 0.15)), fill=c["accent"] + (a,))
    for ax in (-1, 1):
        draw.rounded_rectangle([x + ax * tw * 0.5 - tw * 0.12, neck + h * 0.03, x + ax * tw * 0.5 + tw * 0.12, hip + h * 0.05],
                               radius=max(1, int(tw * 0.1)), fill=c["top"] + (a,))
    draw.rounded_rectangle([x - tw / 2, neck + h * 0.01, x + tw / 2, hip + h * 0.02],
                           radius=max(1, int(tw * 0.2)), fill=c["top"] + (a,))
    if "tie" in look.accessories:
        draw.polygon([(x - tw * 0.06, neck + h * 0.02), (x + tw * 0.06, neck + h * 0.02), (x + tw * 0.09, neck + h * 0.2),
                      (x, neck + h * 0.24), (x - tw * 0.09, neck + h * 0.2)], fill=c["accent"] + (a,))
    if "scarf" in look.accessories:
        draw.rounded_rectangle([x - tw * 0.4, neck - h * 0.01, x + tw * 0.4, neck + h * 0.05], radius=max(1, int(tw * 0.05)),
                               fill=c["accent"] + (a,))
    # Head: long hair behind, face, hair cap, eyes.
    if look.kind == "robot":
        draw.rounded_rectangle([x - r * 1.1, head_y - r, x + r * 1.1, head_y + r], radius=max(1, int(r * 0.3)),
                               fill=c["hair"] + (a,))
        draw.line([x, head_y - r, x, head_y - r * 1.6], fill=c["accent"] + (a,), width=max(1, int(r * 0.15)))
        draw.ellipse([x - r * 0.2, head_y - r * 1.8, x + r * 0.2, head_y - r * 1.4], fill=c["accent"] + (a,))
        er = max(1.0, r * 0.22)
        for ex in (-0.45, 0.45):
            draw.ellipse([x + ex * r - er, head_y - er, x + ex * r + er, head_y + er], fill=c["eyes"] + (a,))
        return head_y - r * 1.8
    if look.hair_style == "long":
        draw.rounded_rectangle([x - r * 1.15, head_y - r * 0.9, x + r * 1.15, head_y + r * 2.2],
                               radius=max(1, int(r * 0.6)), fill=c["hair"] + (a,))
    draw.ellipse([x - r, head_y - r, x + r, head_y + r], fill=c["skin"] + (a,))
    if look.hair_style != "bald":
        draw.chord([x - r * 1.04, head_y - r * 1.08, x + r * 1.04, head_y + r * 0.7], 180, 360, fill=c["hair"] + (a,))
    er = max(1.0, r * 0.14)
    for ex in (-0.38, 0.38):
        draw.ellipse([x + ex * r - er, head_y + r * 0.05 - er, x + ex * r + er, head_y + r * 0.05 + er], fill=c["eyes"] + (a,))
    if r > 12:
        draw.arc([x - r * 0.35, head_y + r * 0.2, x + r * 0.35, head_y + r * 0.6], 20, 160, fill=(90, 40, 40, a),
                 width=max(1, int(r * 0.06)))
    if "glasses" in look.accessories:
        gr = r * 0.26
        for ex in (-0.38, 0.38):
            draw.ellipse([x + ex * r - gr, head_y + r * 0.05 - gr, x + ex * r + gr, head_y + r * 0.05 + gr],
                         outline=(20, 20, 20, a), width=max(1, int(r * 0.07)))
    top = head_y - r
    if "hat" in look.accessories or "helmet" in look.accessories:
        draw.rectangle([x - r * 1.5, head_y - r * 0.75, x + r * 1.5, head_y - r * 0.55], fill=c["accent"] + (a,))
        draw.rounded_rectangle([x - r * 0.85, head_y - r * 1.6, x + r * 0.85, head_y - r * 0.6], radius=max(1, int(r * 0.2)),
                               fill=c["accent"] + (a,))
        top = head_y - r * 1.6
    elif "crown" in look.accessories:
        pts = [(x - r * 0.8, head_y - r * 0.7), (x - r * 0.8, head_y - r * 1.5), (x - r * 0.4, head_y - r * 1.1),
               (x, head_y - r * 1.6), (x + r * 0.4, head_y - r * 1.1), (x + r * 0.8, head_y - r * 1.5), (x + r * 0.8, head_y - r * 0.7)]
        draw.polygon(pts, fill=c["accent"] + (a,))
        top = head_y - r * 1.6
    return top


# ----------------------------------------------------------------------------------------------
# Camera


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@dataclass
class _CameraPath:
    """Per frame: background view (centre x, centre y, scale) and the figure layer's view."""

    start: tuple[float, float, float]
    end: tuple[float, float, float]
    frames: int
    parallax: float  # figure layer's share of the lateral move
    scale_power: float  # figure layer's share of the scale change
    shake: np.ndarray  # (F, 2) handheld offsets in world pixels

    def _progress(self, t: int) -> float:
        return _smoothstep(t / max(1, self.frames - 1)) * 0.7 + (t / max(1, self.frames - 1)) * 0.3

    def background(self, t: int) -> tuple[float, float, float]:
        p = self._progress(t)
        cx = self.start[0] + (self.end[0] - self.start[0]) * p + self.shake[t, 0]
        cy = self.start[1] + (self.end[1] - self.start[1]) * p + self.shake[t, 1]
        s = self.start[2] * (self.end[2] / self.start[2]) ** p
        return cx, cy, s

    def figures(self, t: int) -> tuple[float, float, float]:
        p = self._progress(t)
        cx = self.start[0] + (self.end[0] - self.start[0]) * p * self.parallax + self.shake[t, 0]
        cy = self.start[1] + (self.end[1] - self.start[1]) * p * self.parallax + self.shake[t, 1]
        s = self.start[2] * (self.end[2] / self.start[2]) ** (p * self.scale_power)
        return cx, cy, s


_PARALLAX = {"pan_left": True, "pan_right": True, "orbit": True, "track": True, "push_in": True, "pull_out": True}
"""Camera moves whose figure layer moves differently from the background (drawn as two layers)."""


def _camera_path(look: ShotLook, F: int, W: int, H: int, margin: float, rng: np.random.Generator) -> _CameraPath:
    """The camera move of a shot in world coordinates (the base view is centred)."""
    WW, WH = W * (1 + margin), H * (1 + margin)
    cx, cy = WW / 2 + rng.uniform(-0.01, 0.01) * W, WH / 2 + rng.uniform(-0.01, 0.01) * H
    pan, tilt = 0.12 * W, 0.1 * H
    kind = look.camera
    start, end = (cx, cy, 1.0), (cx, cy, 1.0)
    parallax, power = 1.0, 1.0
    if kind == "pan_left":
        start, end, parallax = (cx + pan, cy, 1.0), (cx - pan, cy, 1.0), 1.25
    elif kind in ("pan_right", "orbit"):
        start, end, parallax = (cx - pan, cy, 1.0), (cx + pan, cy, 1.0), 1.25 if kind == "pan_right" else 1.6
    elif kind == "tilt_up":
        start, end = (cx, cy + tilt, 1.0), (cx, cy - tilt, 1.0)
    elif kind == "tilt_down":
        start, end = (cx, cy - tilt, 1.0), (cx, cy + tilt, 1.0)
    elif kind == "push_in":
        start, end, power = (cx, cy, 1.1), (cx, cy, 0.85), 1.5
    elif kind == "pull_out":
        start, end, power = (cx, cy, 0.85), (cx, cy, 1.1), 1.5
    elif kind == "zoom_in":
        start, end = (cx, cy, 1.12), (cx, cy, 0.8)
    elif kind == "zoom_out":
        start, end = (cx, cy, 0.8), (cx, cy, 1.12)
    elif kind == "track":
        start, end, parallax = (cx - pan, cy, 1.0), (cx + pan, cy, 1.0), 0.08
    elif kind == "drift":
        d = rng.uniform(0, 2 * math.pi)
        start = (cx - math.cos(d) * 0.02 * W, cy - math.sin(d) * 0.015 * H, 1.0)
        end = (cx + math.cos(d) * 0.02 * W, cy + math.sin(d) * 0.015 * H, 0.97)
    shake = np.zeros((F, 2))
    if kind == "handheld":
        # Smooth random walk: low-pass filtered noise, a few pixels.
        k = np.arange(F)[:, None] / 16.0
        ph = rng.uniform(0, 2 * math.pi, (3, 2))
        shake = sum(np.sin(k * f * 2 * math.pi + ph[i]) * amp for i, (f, amp) in
                    enumerate(((0.4, 0.006 * W), (0.9, 0.003 * W), (1.7, 0.0015 * W))))
    return _CameraPath(start, end, F, parallax, power, np.asarray(shake, float))


def _continue_camera(image: np.ndarray, path: _CameraPath, t0: int, t: int) -> np.ndarray:
    """The previous shot's last frame moved by this shot's camera from frame ``t0`` to ``t``
    (edges clamped), so an MI2V shot starts by moving like the new shot."""
    H, W = image.shape[:2]
    c0x, c0y, s0 = path.background(t0)
    ctx, cty, st = path.background(t)
    a = st / s0
    bx = ((ctx - c0x) - (st - s0) * W / 2) / s0
    by = ((cty - c0y) - (st - s0) * H / 2) / s0
    return _affine(image, a, bx, by)


def _affine(image: np.ndarray, a: float, bx: float, by: float) -> np.ndarray:
    """Sample ``image`` at ``(a*x + bx, a*y + by)`` with bilinear filtering and clamped edges."""
    H, W = image.shape[:2]
    pad = int(max(8, abs(bx) + 2, abs(by) + 2, abs(1 - a) * max(W, H) + 2))
    padded = Image.fromarray(np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
    out = padded.transform((W, H), Image.Transform.AFFINE, (a, 0, bx + pad, 0, a, by + pad), Image.Resampling.BILINEAR)
    return np.asarray(out)


def _subpixel(corr: np.ndarray, idx: int) -> tuple[float, float]:
    """Peak position (dy, dx) of a circular correlation surface, refined by a parabola per axis,
    wrapped to signed shifts."""
    h, w = corr.shape
    py, px = divmod(idx, w)

    def refine(m1: float, c: float, p1: float) -> float:
        den = m1 - 2 * c + p1
        return 0.0 if abs(den) < 1e-12 else float(np.clip(0.5 * (m1 - p1) / den, -0.5, 0.5))

    c = corr[py, px]
    dy = py + refine(corr[(py - 1) % h, px], c, corr[(py + 1) % h, px])
    dx = px + refine(corr[py, (px - 1) % w], c, corr[py, (px + 1) % w])
    return (dy - h if dy > h / 2 else dy), (dx - w if dx > w / 2 else dx)


ZOOM_MARGIN = 1.1
"""MM2V motion estimate: a zoom must beat no zoom's correlation peak by this factor."""


def _estimate_motion(frames: np.ndarray) -> tuple[float, float, float]:
    """Per-frame motion of ``frames`` ``(K, H, W, 3)`` as a sampling map ``x -> a*x + b``
    (``a`` the inverse zoom per frame, ``b = (bx, by)``), assumed constant over the frames.

    Measured between the first and the last frame (K - 1 steps: more signal than one step) by
    sub-pixel phase correlation on luma at about 320 px wide, trying total zooms from 0.88 to 1.12;
    a zoom is kept only when its peak beats no zoom by :data:`ZOOM_MARGIN`. The top 15 % and the
    bottom 28 % are ignored (legend, header and caption stay put)."""
    K, H, W = frames.shape[:3]
    n = K - 1
    k = max(1, W // 320)
    y0, y1 = int(H * 0.15), int(H * 0.72)
    band = frames[[0, -1], y0:y1:k, ::k].astype(np.float32)  # (2, h, w, 3)
    first, last = band @ np.array([0.2126, 0.7152, 0.0722], np.float32)  # (h, w) each
    h, w = first.shape
    ch = (H / 2 - y0) / k  # the frame centre's row within the band (zoom is about the frame centre)
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)  # (h, w)
    f1 = np.fft.fft2((last - last.mean()) * win)
    best = (-1.0, 0.0, 0.0, 1.0)
    for z in [1.0] + [round(0.88 + 0.01 * i, 2) for i in range(25) if i != 12]:
        warped = first if z == 1.0 else np.asarray(Image.fromarray(first).transform(
            (w, h), Image.Transform.AFFINE, (1 / z, 0, w / 2 * (1 - 1 / z), 0, 1 / z, ch * (1 - 1 / z)),
            Image.Resampling.BILINEAR))
        f0 = np.fft.fft2((warped - warped.mean()) * win)
        cross = f1 * np.conj(f0)
        corr = np.fft.ifft2(cross / np.maximum(np.abs(cross), 1e-6)).real  # (h, w)
        idx = int(np.argmax(corr))
        peak = float(corr.flat[idx])
        if peak > best[0] * (ZOOM_MARGIN if best[3] == 1.0 and z != 1.0 else 1.0):
            dy, dx = _subpixel(corr, idx)
            best = (peak, dx * k, dy * k, z)
    _, dx, dy, z = best
    # last(q) = first(c + (q - d - c) / z): total sampling map A = 1/z, B = c - (c + d) / z.
    big_a = 1.0 / z
    big_b = np.array([W / 2 - (W / 2 + dx) * big_a, H / 2 - (H / 2 + dy) * big_a])
    # Per frame: a**n = A and b * (1 + a + ... + a**(n-1)) = B.
    a = big_a ** (1.0 / n)
    geo = n if abs(a - 1) < 1e-12 else (a ** n - 1) / (a - 1)
    bx, by = big_b / geo
    return float(a), float(bx), float(by)


def _continue_motion(image: np.ndarray, motion: tuple[float, float, float], k: int) -> np.ndarray:
    """``image`` moved ``k`` more frames by the per-frame sampling map ``motion``."""
    a, bx, by = motion
    ak = a ** k
    geo = k if abs(a - 1) < 1e-9 else (ak - 1) / (a - 1)
    return _affine(image, ak, bx * geo, by * geo)


def _particles(frame: np.ndarray, kind: str, colour: RGB, t: int, W: int, H: int) -> None:
    """Rain streaks, snow flakes, dust motes or bubbles for frame ``t`` (in place)."""
    rng = np.random.default_rng(7)  # particle field is the same for every shot of a kind; motion comes from t
    n = {"rain": max(60, W * H // 1600), "snow": max(40, W * H // 3000), "motes": max(20, W * H // 9000),
         "bubbles": max(15, W * H // 12000)}[kind]
    x0, y0 = rng.uniform(0, W, n), rng.uniform(0, H, n)
    speed = {"rain": H / 10.0, "snow": H / 120.0, "motes": H / 400.0, "bubbles": -H / 90.0}[kind]
    ys = (y0 + speed * t * rng.uniform(0.7, 1.3, n)) % H
    xs = (x0 + (np.sin(t / 9.0 + y0) * (W / 200.0) if kind != "rain" else -speed * 0.15 * t)) % W
    col = np.array(colour, np.float32)
    if kind == "rain":
        length = max(3, H // 40)
        yy = (ys[:, None] + np.arange(length)[None, :]).astype(int) % H  # (n, L)
        xx = (xs[:, None] - np.arange(length)[None, :] * 0.15).astype(int) % W
        alpha = 0.45
    else:
        r = 1 if kind != "snow" else max(1, H // 240)
        offs = np.array([(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r])
        yy = (ys[:, None].astype(int) + offs[None, :, 0]) % H
        xx = (xs[:, None].astype(int) + offs[None, :, 1]) % W
        alpha = {"snow": 0.85, "motes": 0.55, "bubbles": 0.5}[kind]
    px = frame[yy, xx].astype(np.float32)
    frame[yy, xx] = (px + (col - px) * alpha).astype(np.uint8)


def _region_mean(img: np.ndarray, y0: float, y1: float) -> np.ndarray:
    """Mean colour of the rows ``y0..y1`` (fractions of height), sampled sparsely."""
    h = img.shape[0]
    band = img[int(h * y0): max(int(h * y0) + 1, int(h * y1)): 2, ::2].reshape(-1, 3)
    return band.astype(np.float32).mean(axis=0)
