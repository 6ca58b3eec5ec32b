"""Reading a prompt into a :class:`ShotLook`: framing, camera move, time of day, setting, moods and
weather (English words plus a few Chinese ones; unknown words give a neutral look)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Sequence

from engine.preview.scene import PLACE_BY_KEY, Scene, read_scene, strip_details
from schemas.bible import Character

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

SETTING_WORDS: list[tuple[str, str]] = [  # the ground families of the old reading (kept for callers)
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
    """The ground palette family: ``interior``, ``garden``, ``forest``, ``city``, ``water``,
    ``desert``, ``mountain``, ``snow``, ``underwater``, ``space`` or ``stage`` (none named)."""
    moods: tuple[str, ...] = ()
    """Mood/weather keys of :data:`MOOD_GRADES`, in order of mention (at most four)."""
    space_view: bool = False
    """An interior whose window shows space (spacecraft)."""
    scene: Scene = field(default_factory=Scene)
    """Place, props, weather, action and creatures (:mod:`engine.preview.scene`)."""

    @property
    def place(self) -> str:
        return self.scene.place

    @property
    def interior(self) -> bool:
        return self.scene.interior

    @classmethod
    def from_prompt(cls, prompt: str, characters: Sequence[Character] = ()) -> "ShotLook":
        """Read framing, camera, time, moods and the scene from the prompt's words (the characters'
        injected details removed first, so a ``forest-green parka`` never sets the place)."""
        text = strip_details(prompt, characters)
        scene = read_scene(text, characters)
        moods: list[str] = []
        for _, _, value in _matches(text, MOOD_WORDS):
            if value not in moods:
                moods.append(value)
        for w in scene.weather:
            if w in ("rain", "snow", "fog") and w not in moods:
                moods.append(w)
        moods = [m for m in moods if m not in ("rain", "snow", "fog") or m in scene.weather]
        family = scene.family if scene.place != "stage" else "stage"
        if scene.interior:
            family = "interior"
        return cls(
            framing=first_match(text, FRAMING_WORDS, "medium"),
            camera=first_match(text, CAMERA_WORDS, "drift"),
            time=first_match(text, TIME_WORDS, "neutral"),
            setting=family,
            moods=tuple(moods[:4]),
            space_view=scene.interior and (scene.place == "spaceship" or bool(SPACE_VIEW.search(text))),
            scene=scene,
        )

    def at_place(self, place: str) -> "ShotLook":
        """This shot's look set in ``place`` (a shot that names none, kept where its memory was)."""
        p = PLACE_BY_KEY.get(place)
        interior = p.interior if p else False
        family = "interior" if interior else (p.family if p else "stage")
        return replace(self, setting=family, scene=replace(self.scene, place=place, interior=interior))

    def continuing(self, place: str, framing: str, time: str, flags: dict[str, bool]) -> "ShotLook":
        """This shot's look continuing a previous shot's place, framing and time (cut=false)."""
        p = PLACE_BY_KEY.get(place)
        interior = p.interior if p else False
        family = "interior" if interior else (p.family if p else "stage")
        moods = tuple(m for m in self.moods if m not in ("rain", "snow", "fog", "neon"))
        moods = moods + tuple(m for m in ("rain", "snow", "fog", "neon") if flags.get(m) or m in self.moods)
        scene = replace(self.scene, place=place, interior=interior)
        return replace(self, framing=framing, time=time, setting=family, moods=moods[:4],
                       space_view=flags.get("space_view", False), scene=scene)

    def summary(self) -> str:
        """``wide · pan left · dusk · street`` (for the frame's header)."""
        parts = [self.framing, self.camera.replace("_", " "), self.time, self.scene.place, self.scene.action, *self.moods]
        return " · ".join(p for p in parts if p not in ("neutral", "stage"))
