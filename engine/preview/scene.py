"""The scene grammar: what a prompt says happens where, read into a :class:`Scene`.

* **place**: a setting of the vocabulary ST-Bench scripts and loglines use (sea, beach, lighthouse,
  harbour, river, forest, garden, street, market, desert, mountain, snow, space, underwater; inside:
  library, kitchen, subway, castle, classroom, spaceship, cafe, office, bedroom, church, room), with
  whether it is an interior. The most specific place named wins (a lighthouse over the sea, a
  library over a castle), the earliest among equals.
* **props** (umbrella, lantern, book, wand ...), each with the colour the prompt gives it, whether a
  character holds it and whether it is held over the heads ("under the umbrella");
* **weather** (rain, snow, fog, wind, lightning, petals, leaves, motes);
* the **action** (walk, run, hold, look, embrace, fall, sit, point, swim, fly, stand) and
* **creatures** the prompt names besides the cast (birds, fish, a whale), by kind.

A word bound to clothing or an object never sets the place or the weather: ``forest-green parka``,
``sea-blue eyes``, ``snow boots``, ``the lighthouse keeper`` (the word is followed by a colour, a
garment or another noun it modifies). Character details injected into the prompt (the bible's
appearance and attire) are removed before reading, see :func:`strip_details`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from engine.preview.colour import RGB, _mix
from engine.preview.looks import COLOUR_WORDS, SPECIES, species_of
from schemas.bible import Character

_COLOUR_RE = "|".join(sorted((w for w in COLOUR_WORDS if w.isascii()), key=len, reverse=True))

BOUND_NOUNS = (
    "coat parka jacket dress suit hoodie shirt sweater hat cap scarf gown robe robes cloak cape uniform boots "
    "shoes sneakers trousers pants jeans skirt gloves helmet tie vest blouse cardigan tunic apron jumper "
    "raincoat eyes eye hair tone tones colou?r colou?red themed print pattern keeper keepers shell shells "
    "creature creatures knife book books lamp lamps map maps guard guards man woman girl boy spirit "
    "animal animals fish bird birds breeze air salt spray foam view"
).split()
"""Nouns a place or weather word can modify without naming the place (``snow boots``, ``sea breeze``)."""

_BOUND = re.compile(r"^[\s-]*(?:(?:light|dark|pale|deep|bright)[\s-]+)?(?:" + _COLOUR_RE + r"|"
                    + "|".join(BOUND_NOUNS) + r")\b", re.I)


@dataclass(frozen=True)
class Place:
    key: str
    interior: bool
    rank: int
    """2: a landmark or a room of its own kind, 1: a terrain, 0: a generic word (room, outside)."""
    family: str
    """Ground palette family (a key of :data:`engine.preview.palette.GROUND_COLOURS`)."""
    patterns: tuple[str, ...]


PLACES: tuple[Place, ...] = (
    Place("lighthouse", False, 2, "water", (r"\blighthouses?\b", "灯塔")),
    Place("harbour", False, 2, "water", (r"\bharbou?rs?\b", r"\bpiers?\b", r"\bdocks?\b", r"\bmarina\b",
                                         r"\bport\b", r"\bwharf\b", "码头", "港")),
    Place("underwater", False, 2, "underwater", (r"\bunderwater\b", r"\bocean floor\b", r"\bseabed\b", r"\bcorals?\b",
                                                 r"\breef\b", r"\bbeneath the (?:waves|surface)\b", "水下", "海底")),
    Place("space", False, 2, "space", (r"\bouter space\b", r"\bin space\b", r"\bdeep space\b", r"\bgalax(?:y|ies)\b",
                                       r"\bnebula\b", r"\blunar surface\b", r"\bin orbit\b", r"\bstarfield\b",
                                       "太空", "宇宙")),
    Place("subway", True, 2, "city", (r"\bsubway\b", r"\bmetro\b", r"\bunderground train\b", r"\btrain car\b",
                                      r"\bcarriage\b", r"\btube train\b", "地铁")),
    Place("library", True, 2, "interior", (r"\blibrar(?:y|ies)\b", r"\bbookshel(?:f|ves)\b", r"\bshelves\b",
                                           r"\barchives?\b", "图书馆", "书架")),
    Place("kitchen", True, 2, "interior", (r"\bkitchens?\b", r"\bstove\b", "厨房")),
    Place("classroom", True, 2, "interior", (r"\bclassrooms?\b", r"\blecture hall\b", r"\bblackboard\b", "教室")),
    Place("spaceship", True, 2, "interior", (r"\bspace ?ships?\b", r"\bspacecraft\b", r"\bcockpit\b",
                                             r"\bspace station\b", r"\bshuttle\b", "飞船")),
    Place("cafe", True, 2, "interior", (r"\bcaf[eé]s?\b", r"\bcoffee shop\b", r"\brestaurant\b", r"\bbar\b",
                                        r"\bpub\b", r"\bdiner\b", r"\btavern\b", "咖啡馆", "餐厅")),
    Place("office", True, 2, "interior", (r"\boffices?\b", r"\bdesk\b", r"\blab(?:oratory)?\b", r"\bworkshop\b",
                                          r"\bstudio\b", r"\bserver room\b", r"\bdata ?cent(?:er|re)\b", "办公室",
                                          "实验室")),
    Place("bedroom", True, 2, "interior", (r"\bbedrooms?\b", r"\bbed\b", "卧室")),
    Place("church", True, 2, "interior", (r"\bchurch\b", r"\bcathedral\b", r"\bchapel\b", r"\btemple\b",
                                          r"\bshrine\b", "寺", "教堂")),
    Place("market", False, 2, "city", (r"\bnight market\b", r"\bmarket(?:place)?\b", r"\bstalls?\b", r"\bbazaar\b",
                                       "集市", "摊")),
    Place("castle", True, 1, "interior", (r"\bcastle\b", r"\bhogwarts\b", r"\bpalace\b", r"\bthrone room\b",
                                          r"\bgreat hall\b", r"\bstone (?:hallway|corridor|walls?)\b",
                                          r"\bcorridors?\b", r"\bhallways?\b", r"\bdungeon\b", "城堡", "宫殿")),
    Place("beach", False, 1, "water", (r"\bbeach(?:es)?\b", r"\bcoast(?:line)?\b", r"\bshore(?:line)?\b",
                                       r"\bseaside\b", r"\bcove\b", r"\bbay\b", r"\bsand\b", "海边", "海滩", "沙滩")),
    Place("sea", False, 1, "water", (r"\bsea\b", r"\bocean\b", r"\bwaves\b", r"\bopen water\b",
                                     "大海", "海")),
    Place("river", False, 1, "garden", (r"\brivers?\b", r"\blakes?\b", r"\bponds?\b", r"\bstreams?\b",
                                        r"\bcanal\b", r"\briverbank\b", r"\bwater'?s edge\b", "河边", "河", "湖")),
    Place("forest", False, 1, "forest", (r"\bforests?\b", r"\bjungle\b", r"\bwoods\b", r"\bwoodland\b",
                                         r"\bpines\b", "森林", "丛林", "树林")),
    Place("desert", False, 1, "desert", (r"\bdeserts?\b", r"\bdunes?\b", r"\bcanyon\b", r"\bsahara\b", "沙漠")),
    Place("snow", False, 1, "snow", (r"\bsnowfields?\b", r"\btundra\b", r"\bglaciers?\b", r"\barctic\b",
                                     r"\bsnow-covered\b", r"\bsnowy\b", r"\bice field\b", "雪地", "雪山")),
    Place("mountain", False, 1, "mountain", (r"\bmountains?\b", r"\bcliffs?\b", r"\bpeaks?\b", r"\bsummit\b",
                                             r"\bvalley\b", r"\bhills?\b", "山")),
    Place("street", False, 1, "city", (r"\bcity\b", r"\bstreets?\b", r"\btown\b", r"\balley(?:way)?\b", r"\broad\b",
                                       r"\bavenue\b", r"\bvillage\b", r"\bsquare\b", r"\bdowntown\b",
                                       r"\bsidewalk\b", r"\bcrosswalk\b", r"\brooftops?\b", r"\bschool gate\b",
                                       r"\bstation\b", r"\bcourtyard\b", "城市", "街", "老街", "广场")),
    Place("garden", False, 1, "garden", (r"\bgardens?\b", r"\bpark\b", r"\bmeadow\b", r"\bfields?\b", r"\blawn\b",
                                         r"\bfarm\b", r"\bporch\b", r"\byard\b", r"\bcountryside\b", r"\bgrass(?:y|land)?\b",
                                         r"\bhillside\b", r"\bcherry trees?\b", r"\borchard\b", "花园", "公园", "草地",
                                         "田野")),
    Place("room", True, 0, "interior", (r"\b(?:living |dining |waiting |throne )?rooms?\b", r"\bapartment\b",
                                        r"\bindoors?\b", r"\binside\b", r"\bcabin\b", r"\bgarage\b", r"\bhouse\b",
                                        r"\bhome\b", r"\bcottage\b", r"\bhall\b", r"\bchamber\b", r"\bshop\b",
                                        r"\bstore\b", r"\bwarehouse\b", r"\bgym\b", r"\bhospital\b", "室内", "房间",
                                        "屋")),
    Place("outside", False, 0, "stage", (r"\boutside\b", r"\boutdoors?\b", r"\bopen air\b", "户外")),
)
PLACE_KEYS = tuple(p.key for p in PLACES)
PLACE_BY_KEY = {p.key: p for p in PLACES}

PROPS: tuple[tuple[str, str], ...] = (
    ("umbrella", r"\bumbrellas?\b|\bparasol\b|伞"), ("lantern", r"\blanterns?\b|灯笼|许愿灯|灯"),
    ("book", r"\b(?:spell|note|sketch|story|text)?books?\b|\bjournal\b|\bdiary\b|书|本子"),
    ("wand", r"\bwands?\b|\bstaff\b|魔杖"), ("sword", r"\bswords?\b|\bblade\b|\bkatana\b|剑"),
    ("cup", r"\bmugs?\b|\bcups?\b|\bteacup\b|\bglass of\b|杯"), ("phone", r"\b(?:smart)?phones?\b|手机"),
    ("flower", r"\bflowers?\b|\bbouquet\b|\brose\b|花束"), ("balloon", r"\bballoons?\b|气球"),
    ("kite", r"\bkites?\b|风筝"), ("guitar", r"\bguitars?\b|\bviolin\b|吉他"), ("camera", r"(?<!\bthe )(?<!\bThe )\bcamera\b(?! (?:moves|slowly|pans|tilts|glides|follows|tracks|pushes|pulls|zooms|circles|orbits|rises|lingers|holds|stays))|相机"),
    ("candle", r"\bcandles?\b|\bcandlelight\b|蜡烛"), ("letter", r"\bletters?\b|\bmaps?\b|\bscroll\b|\bpaper\b|信"),
    ("shell", r"\b(?:sea)?shells?\b|贝壳"), ("bicycle", r"\bbicycles?\b|\bbikes?\b|自行车"),
    ("car", r"\bcars?\b|\btaxi\b|\btruck\b|汽车"), ("boat", r"\bboats?\b|\bships?\b|\bcanoe\b|\bkayak\b|船"),
    ("bench", r"\bbench(?:es)?\b|长椅"), ("table", r"\btables?\b|\bdesks?\b|桌"), ("chair", r"\bchairs?\b|椅"),
    ("fire", r"\bcampfire\b|\bbonfire\b|\bfireplace\b|\bflames?\b|火"), ("lamp", r"\bstreet ?lamps?\b|\blamp ?posts?\b|\blamps?\b|路灯"),
    ("telescope", r"\btelescopes?\b|望远镜"), ("laptop", r"\blaptops?\b|\bcomputers?\b|\bmonitors?\b|\bscreens?\b|\bgpus?\b|电脑"),
    ("ball", r"\bballs?\b|球"), ("bag", r"\bsuitcase\b|\bbriefcase\b|\bbasket\b|篮子"),
    ("tree", r"\btrees?\b|树"), ("rope", r"\bropes?\b|绳"), ("sign", r"\bsigns?\b|招牌"),
)
HOLDABLE = {"umbrella", "lantern", "book", "wand", "sword", "cup", "phone", "flower", "balloon", "kite", "guitar",
            "camera", "candle", "letter", "shell", "ball", "bag", "rope", "laptop", "telescope"}
_HOLD_VERBS = (r"\b(?:hold(?:s|ing)?|held|carr(?:y|ies|ying|ied)|clutch(?:es|ing)?|grip(?:s|ping)?|rais(?:es|ing)|"
               r"lift(?:s|ing)?|open(?:s|ing)?|offer(?:s|ing)?|hand(?:s|ing)|read(?:s|ing)?|pull(?:s|ing)? out|"
               r"wav(?:es|ing)|swing(?:s|ing)|point(?:s|ing)|pour(?:s|ing)|light(?:s|ing)|with|brandish(?:es|ing)|"
               r"sketch(?:es|ing)? in|writ(?:es|ing) in|play(?:s|ing)|takes?|taking|picks? up|picking up)\b|提着|拿着|握着|托起|举着|抱着")

WEATHER_WORDS: tuple[tuple[str, str], ...] = (
    (r"\brain(?:s|y|ing|fall|drops?|storm)?\b|\bdrizzl(?:e|ing)\b|\bdownpour\b|\bstorm(?:s|y)?\b|雨", "rain"),
    (r"\bsnow(?:s|y|ing|fall|flakes?|storm)?\b|\bblizzard\b|雪", "snow"),
    (r"\bfog(?:gy)?\b|\bmist(?:y)?\b|\bhaze\b|\bhazy\b|雾", "fog"),
    (r"\bwind(?:y|s)?\b|\bbreeze\b|\bgusts?\b|风", "wind"),
    (r"\blightning\b|\bthunder(?:storm)?\b|闪电|雷", "lightning"),
    (r"\bpetals?\b|\bcherry blossoms?\b|\bblossoms?\b|\bsakura\b|花瓣|樱花", "petals"),
    (r"\b(?:falling|autumn|fallen|golden) leaves\b|落叶", "leaves"),
    (r"\bfireflies\b|\bembers\b|\bsparks?\b|\bsparkl(?:es|ing)\b|\bdust motes\b|\bmotes\b|\bglitter\b|\bfloating candles\b|萤火虫", "motes"),
)
WEATHER_KEYS = ("rain", "snow", "fog", "wind", "lightning", "petals", "leaves", "motes")

ACTIONS: tuple[tuple[str, str], ...] = (
    ("embrace", r"\b(?:embrac(?:e|es|ing|ed)|hug(?:s|ging|ged)?|in (?:each other's|his|her) arms|cuddl(?:e|es|ing))\b|拥抱|抱住"),
    ("fall", r"\b(?:fall(?:s|ing)?|fell|trips?|tripping|stumbl(?:e|es|ing)|collaps(?:e|es|ing)|tumbl(?:e|es|ing))\b"
             r"(?! (?:asleep|silent|quiet|over the|across|on the (?:town|city)))|摔倒|跌倒|倒下"),
    ("run", r"\b(?:run(?:s|ning)?|ran|sprint(?:s|ing)?|dash(?:es|ing)?|rac(?:e|es|ing)|chas(?:e|es|ing)|"
            r"hurr(?:y|ies|ying)|flee(?:s|ing)?|rush(?:es|ing)?|gallop(?:s|ing)?)\b|跑|奔"),
    ("swim", r"\b(?:swim(?:s|ming)?|swam|div(?:e|es|ing)|surfac(?:e|es|ing)|float(?:s|ing)? in the water)\b|游泳|游"),
    ("fly", r"\b(?:fl(?:y|ies|ying|ew)|soar(?:s|ing)?|glid(?:e|es|ing) through the (?:air|sky)|hover(?:s|ing)?)\b|飞"),
    ("sit", r"\b(?:sit(?:s|ting)?|sat|seated|kneel(?:s|ing)?|knelt|crouch(?:es|ing)?|perch(?:es|ed|ing)?)\b|坐|蹲"),
    ("walk", r"\b(?:walk(?:s|ing|ed)?|stroll(?:s|ing)?|wander(?:s|ing)?|stride(?:s)?|striding|step(?:s|ping)?|"
             r"march(?:es|ing)?|head(?:s|ing)? (?:down|toward|towards|into|home|back)|enter(?:s|ing)?|exit(?:s|ing)?|"
             r"cross(?:es|ing)?|approach(?:es|ing)?|climb(?:s|ing)?|leav(?:e|es|ing)|mov(?:e|es|ing) (?:through|along|down))\b"
             r"|走|穿过|散步"),
    ("point", r"\b(?:point(?:s|ing)?|wav(?:e|es|ing) (?:goodbye|at|to|back)|reach(?:es|ing)? (?:out|up|toward|for)|"
              r"salut(?:e|es|ing)|raises? (?:his|her|their) hand)\b|指着|挥手"),
    ("hold", r"\b(?:hold(?:s|ing)?|held|carr(?:y|ies|ying)|offer(?:s|ing)?|clutch(?:es|ing)?|rais(?:es|ing)|"
             r"lift(?:s|ing)?|pour(?:s|ing)?|read(?:s|ing)?|open(?:s|ing)|pull(?:s|ing)? out|sketch(?:es|ing)?|"
             r"play(?:s|ing)|hand(?:s|ing) (?:her|him|them))\b|提着|拿着|握着|托起|举着"),
    ("look", r"\b(?:look(?:s|ing|ed)?|gaz(?:e|es|ing)|watch(?:es|ing)?|star(?:e|es|ing)|glanc(?:e|es|ing)|"
             r"notic(?:e|es|ing)|observ(?:e|es|ing)|scan(?:s|ning)?|peer(?:s|ing)?|stud(?:y|ies|ying)|meet(?:s)? "
             r"(?:his|her|their) (?:gaze|eyes))\b|看|望|注视"),
)
ACTION_KEYS = ("stand",) + tuple(a for a, _ in ACTIONS)

_LOOK_UP = re.compile(r"\b(?:looks?|looking|gaz(?:es|ing)|glanc(?:es|ing)|star(?:es|ing)|peers?) up\b|\bup at\b|"
                      r"\bat the (?:sky|stars|moon|ceiling|horizon)\b|仰望|抬头", re.I)
_TOGETHER = re.compile(r"\b(?:together|side by side|hand in hand|arm in arm|with each other)\b|一起|并肩", re.I)
_OVERHEAD = re.compile(r"\bunder (?:the|an?|his|her|their|one|a shared) (?:[\w-]+ ){0,2}umbrellas?\b|\bshare[sd]? "
                       r"(?:it|the umbrella)|\bsharing (?:it|the umbrella)|打着伞|撑伞", re.I)
_DETAIL = re.compile(
    r"\bclose[\s-]?ups?(?: shot)? (?:of|on) (?:(?:the|a|an|his|her|their|its|one)\s+|[\w’']+['’]s?\s+){0,2}"
    r"(?:[\w-]+\s+){0,3}?(?:hands?|fingers|feet|paws?|(?:spell|note|sketch)?books?|notebook|letters?|maps?|phone|"
    r"cups?|mugs?|(?:sea)?shells?|lanterns?|candles?|wands?|swords?|rings?|keys?|flowers?|photo(?:graph)?s?|"
    r"screens?|watch|clock|notes?|pages?|sketch(?:es)?|drawings?|box|gift|eggs?|coins?|seeds?|handle)\b|"
    r"\b(?:focus|camera)\b[^.]{0,30}\b(?:to|on) (?:their|his|her|the) (?:hands|fingers)\b|手部特写", re.I)
_ENTERS = re.compile(
    r"(?:\benter(?:s|ing|ed)?|\b(?:walk|step|go|goe|head|come|run|move|wander|stride|hurr(?:y|ie)|slip|burst|climb)"
    r"(?:s|es|ing|ed)?\s+(?:back\s+)?(?:in(?:to|side)?|out\s+(?:onto|into|to)|down\s+into|up\s+into)|"
    r"\barriv(?:es|ing|ed)\s+(?:at|in)|\bemerg(?:es|ing|ed)\s+(?:into|onto)|\breach(?:es|ing|ed)?)"
    r"\s+(?:the\s+|a\s+|an\s+)?(?:[\w'’-]+\s+){0,3}$|走进|进入|来到", re.I)
_PLURAL_HINT = re.compile(r"\b(?:two|three|four|five|several|many|a few|some|a pair of|a flock of|a school of|"
                          r"a pod of|a herd of|a pack of|dozens of|small|tiny)\b", re.I)


@dataclass(frozen=True)
class Prop:
    """A thing the prompt names: ``kind`` (a key of :data:`PROPS`), its colour (None: the prop's
    own), held by a character, held over the heads (an umbrella shared)."""

    kind: str
    colour: RGB | None = None
    held: bool = False
    overhead: bool = False


@dataclass(frozen=True)
class Scene:
    """What :func:`read_scene` finds in a prompt."""

    place: str = "stage"
    """A key of :data:`PLACES` or ``stage`` (none named)."""
    interior: bool = False
    props: tuple[Prop, ...] = ()
    weather: tuple[str, ...] = ()
    """Keys of :data:`WEATHER_KEYS` in order of mention."""
    action: str = "stand"
    """A key of :data:`ACTION_KEYS`."""
    look_up: bool = False
    together: bool = False
    creatures: tuple[tuple[str, int], ...] = ()
    """(species, count) of creatures named besides the cast (a key of :data:`SPECIES`)."""
    actor: str | None = None
    """Name of the character the action sentence is about (the one holding the props)."""
    actions: tuple[tuple[str, str], ...] = ()
    """(name, action) of the characters whose own clause names what they do."""
    detail: bool = False
    """A close-up of hands or a thing (``close-up of Harry's hand pulling out a spellbook``), not of a face."""
    enters: bool = False
    """The place is one a character goes into (``Harry enters the library``): a continuation moves there."""

    def action_of(self, name: str, alone: bool) -> str:
        """What ``name`` does: its own clause's verb, else the shot's action when it acts alone, with
        the others or is the actor, else ``stand``."""
        own = dict(self.actions).get(name)
        if own:
            return own
        if alone or self.together or name == self.actor or not self.actions:
            return self.action
        return "stand"

    @property
    def family(self) -> str:
        return PLACE_BY_KEY[self.place].family if self.place in PLACE_BY_KEY else "stage"


_NOT_A_FALL_AFTER = re.compile(
    r"\s+(?:petals?|leaves|snow(?:flakes)?|rain(?:drops)?|stars?|water|ash|sparks|blossoms?|feathers|embers|"
    r"debris|rocks|light|asleep|silent|quiet|still|in love|apart|short|behind|into place|over the|across|"
    r"upon|on the (?:town|city|street|water|scene|room))\b", re.I)
_NOT_A_FALL_BEFORE = re.compile(
    r"\b(?:light|sunlight|moonlight|night|nightfall|darkness|dusk|rain|snow|petals|leaves|shadows?|silence|"
    r"tears|water|sun|dew|mist|it|curtain|hush|gaze|eyes|quiet)\s+$", re.I)


def _acts(action: str, text: str, m: re.Match[str]) -> bool:
    """False for an action word that is not something a character does: ``looks like``, ``falling
    petals``, ``light falls across``, ``night falls``."""
    if action == "look":
        return not re.match(r"look(?:s|ing|ed)? (?:like|as if)", text[m.start():m.start() + 16], re.I)
    if action == "fall" and m.group(0).lower().startswith("fall"):
        return not (_NOT_A_FALL_AFTER.match(text, m.end()) or _NOT_A_FALL_BEFORE.search(text[max(0, m.start() - 16):m.start()]))
    return True


def _bound(text: str, end: int) -> bool:
    """True when the word ending at ``end`` modifies a colour, a garment or another noun."""
    return bool(_BOUND.match(text[end:end + 40]))


def _find(text: str, pattern: str) -> list[re.Match[str]]:
    return [m for m in re.finditer(pattern, text, flags=re.I) if not (m.group(0).isascii() and _bound(text, m.end()))]


def _cut_unless_subject(m: re.Match[str]) -> str:
    """A detail phrase is cut, unless it opens its sentence as the subject (``A cheerful girl with a
    ponytail enters``: the script's own words, not an injected detail)."""
    opens = re.search(r"(?:^|[.!?。！？]\s*)$", m.string[:m.start()])
    bare = not re.match(r"\s*(?:[,，]|wearing\b|dressed in\b|clad in\b|in\b|with\b|穿着|戴着)", m.group(0), re.I)
    return m.group(0) if opens and bare else " "


def strip_details(prompt: str, characters: Sequence[Character]) -> str:
    """``prompt`` without the characters' injected details: ``Mia (a tall woman ..., wearing ...)``
    becomes ``Mia``, and appositive or ``wearing`` phrases that repeat the bible's appearance or
    attire are cut (``Mia, a tall woman ..., enters`` -> ``Mia enters``)."""
    out = prompt
    for c in characters:
        details = c.details()
        if details != c.name:
            out = re.sub(re.escape(details[len(c.name):]), "", out, flags=re.I)
        for d in (c.attire, c.appearance, c.age, c.style):
            d = d.strip()
            if len(d) < 3:
                continue
            esc = re.escape(d)
            out = re.sub(r"\s*[,，]\s*(?:wearing|dressed in|clad in|in|with|穿着|戴着)?\s*" + esc + r"\s*[,，]\s*", " ", out,
                         flags=re.I)
            out = re.sub(r"\s*[,，]?\s*(?:wearing|dressed in|clad in|in|with|穿着|戴着)?\s*" + esc + r"\s*(?=[,，.。;])?",
                         _cut_unless_subject, out, flags=re.I)
    out = re.sub(r"\(\s*[,;]?\s*\)", "", out)
    out = re.sub(r"\s+([,.;:!?，。])", r"\1", out)
    out = re.sub(r"([,，])\s*(?:[,，]\s*)+", r"\1 ", out)
    out = re.sub(r"([,，])\s*([.。;!?])", r"\2", out)
    out = re.sub(r"(^|[.!?。]\s*)[,，]\s*", r"\1", out)
    return re.sub(r"\s{2,}", " ", out).strip()


def _colour_before(text: str, start: int) -> RGB | None:
    words = re.findall(r"[a-z]+|[\u4e00-\u9fff]", text[max(0, start - 30):start].lower())
    for i in range(len(words) - 1, max(-1, len(words) - 4), -1):
        w = words[i]
        if w in COLOUR_WORDS:
            shade = words[i - 1] if i > 0 else ""
            if shade in ("light", "pale", "pastel", "soft"):
                return _mix(COLOUR_WORDS[w], (255, 255, 255), 0.45)
            if shade in ("dark", "deep"):
                return _mix(COLOUR_WORDS[w], (0, 0, 0), 0.4)
            return COLOUR_WORDS[w]
    return None


def read_scene(text: str, cast: Sequence[Character] = ()) -> Scene:
    """Read the place, props, weather, action and creatures of ``text`` (details already stripped)."""
    best: tuple[int, int, str] | None = None  # (-rank, start, key)
    for place in PLACES:
        for pattern in place.patterns:
            for m in _find(text, pattern):
                cand = (-place.rank, m.start(), place.key)
                if best is None or cand < best:
                    best = cand
    key = best[2] if best else "stage"
    interior = PLACE_BY_KEY[key].interior if key in PLACE_BY_KEY else False
    enters = bool(best and _ENTERS.search(text[max(0, best[1] - 60):best[1]]))
    if key == "castle" and re.search(r"\b(?:outside|exterior|towers|ramparts|on a hill)\b", text, re.I):
        key, interior = "mountain", False
    overhead = bool(_OVERHEAD.search(text))
    props: list[Prop] = []
    lowered = text.lower()
    for kind, pattern in PROPS:
        if key == "library" and kind == "book" and not re.search(_HOLD_VERBS + r"[^.]{0,30}book", text, re.I):
            continue  # the shelves already hold the books
        hits = _find(text, pattern)
        if not hits:
            continue
        m = hits[0]
        held = kind in HOLDABLE and bool(re.search(r"(?:" + _HOLD_VERBS + r")(?:[\s,]+[\w'’-]+){0,4}\s*$",
                                                   text[max(0, m.start() - 60):m.start()], re.I))
        held = held or (kind in HOLDABLE and bool(re.search(r"\b(?:his|her|their)\s+(?:[\w-]+\s+){0,2}$",
                                                            lowered[max(0, m.start() - 30):m.start()])))
        colour = _colour_before(text, m.start())
        if kind == "tree" and colour is None and re.search(r"(?:cherry|blossoms?|blossoming|blooming|sakura|plum)"
                                                           r"[\s-]+(?:[\w-]+\s+)?$|樱花?$", text[max(0, m.start() - 30):m.start()], re.I):
            colour = (240, 175, 200)  # cherry trees in bloom are pink
        props.append(Prop(kind, colour, held or (kind == "umbrella" and overhead),
                          kind == "umbrella" and overhead))
    weather: list[str] = []
    for pattern, w in WEATHER_WORDS:
        hits = _find(text, pattern)
        if w == "rain" and hits and all(re.match(r"\brain(?:coat|boots)", text[h.start():h.start() + 12], re.I)
                                        for h in hits):
            continue
        if hits and w not in weather:
            weather.append(w)
    if "snow" in weather and key == "stage":
        key = "snow"
    action, first = "stand", None
    for a, pattern in ACTIONS:
        for m in re.finditer(pattern, text, flags=re.I):
            if not _acts(a, text, m):
                continue
            rank = m.start() - (10_000 if a in ("embrace", "fall") else 0)
            if first is None or rank < first:
                action, first = a, rank
            break
    actor = None
    if cast:
        sentence_start = 0
        if first is not None:
            pos = first + (10_000 if action in ("embrace", "fall") else 0)
            sentence_start = max(text.rfind(".", 0, pos), text.rfind("。", 0, pos)) + 1
        window = text[sentence_start:]
        spans = []
        for c in cast:
            for word in c.mentions():
                m = re.search(r"(?<![\w])" + re.escape(word) + r"(?![\w])", window, re.I) if word.isascii() \
                    else (re.search(re.escape(word), window))
                if m:
                    spans.append((m.start(), c.name))
        actor = min(spans)[1] if spans else None
    own: list[tuple[str, str]] = []
    for c in cast:
        for word in c.mentions():
            m = (re.search(r"(?<![\w])" + re.escape(word) + r"(?![\w])", text, re.I) if word.isascii()
                 else re.search(re.escape(word), text))
            if not m:
                continue
            clause = re.split(r"[.;!?。；]|\b(?:while|as|and then|but)\b|,\s*(?:and\s+)?(?=(?:the|a|an)\s)",
                              text[m.end():m.end() + 90], maxsplit=1)[0]
            hits = []
            for a, pattern in ACTIONS:
                mm = next((x for x in re.finditer(pattern, clause, re.I) if _acts(a, clause, x)), None)
                if mm:
                    hits.append((mm.start() - (1000 if a in ("embrace", "fall") else 0), a))
            if hits:
                own.append((c.name, min(hits)[1]))
            break
    creatures: list[tuple[str, int]] = []
    cast_text = " ".join(f"{c.name} {c.appearance} {' '.join(c.aliases)}" for c in cast).lower()
    for m in re.finditer(r"[A-Za-z]+|[\u4e00-\u9fff]", text):
        sp = species_of(m.group(0))
        if sp is None or sp in [s for s, _ in creatures]:
            continue
        word = m.group(0).lower()
        if word.rstrip("s") in cast_text or (not word.isascii() and word in cast_text):
            continue
        if _bound(text, m.end()) and not re.match(r"\s+(?:fish|birds?)\b", text[m.end():m.end() + 8]):
            continue
        plural = word.endswith("s") and not word.endswith("ss") or bool(
            _PLURAL_HINT.search(text[max(0, m.start() - 25):m.start()]))
        creatures.append((sp, 3 if plural else 1))
    return Scene(key, interior, tuple(props), tuple(weather), action, bool(_LOOK_UP.search(text)),
                 bool(_TOGETHER.search(text)) or overhead, tuple(creatures[:3]), actor, tuple(own),
                 bool(_DETAIL.search(text)), enters)


__all__ = ["ACTION_KEYS", "PLACES", "PLACE_KEYS", "PROPS", "Prop", "SPECIES", "Scene", "WEATHER_KEYS",
           "read_scene", "strip_details"]
