"""Character looks: each character's figure kind, colour per slot (the bible's colour words first,
then the memory bank's, then a hash of the name), accessories and hair style."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from engine.preview.colour import RGB, _hash_bytes, _hsv, snap
from schemas.bible import Character

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
                           "mohawk", "bangs", "发", "头发", "辫")},
    **{w: "skin" for w in ("skin", "skinned", "complexion", "man", "woman", "boy", "girl", "person", "guy",
                           "lady", "gentleman", "肤", "皮肤")},
    **{w: "eyes" for w in ("eyes", "eyed", "eye", "眼", "眼睛")},
    **{w: "top" for w in ("coat", "raincoat", "jacket", "shirt", "t-shirt", "tshirt", "sweater", "hoodie",
                          "dress", "robe", "robes", "gown", "uniform", "suit", "blouse", "top", "cloak", "cape",
                          "vest", "tunic", "jumper", "cardigan", "kimono", "overalls", "apron", "parka",
                          "turtleneck", "blazer", "peacoat", "overcoat", "anorak", "windbreaker", "pullover", "fleece", "fur", "feathers", "scales", "body", "armor", "armour",
                          "spacesuit", "衣", "外套", "衬衫", "裙", "袍", "袄", "褂")},
    **{w: "bottom" for w in ("trousers", "pants", "jeans", "skirt", "boots", "shoes", "leggings", "shorts",
                             "sneakers", "slacks", "socks", "tail", "paws", "裤", "裤子", "靴", "鞋")},
    **{w: "accent" for w in ("hat", "cap", "scarf", "tie", "bowtie", "helmet", "crown", "beanie", "bow",
                             "ribbon", "belt", "bag", "backpack", "satchel", "collar", "gloves", "headband",
                             "bandana", "glasses", "spots", "patches", "stripes", "帽", "帽子", "围巾", "领带")},
}
ACCESSORY_NOUNS = {"hat": "hat", "cap": "hat", "beanie": "hat", "crown": "crown", "tiara": "crown",
                   "glasses": "glasses", "spectacles": "glasses", "goggles": "glasses", "sunglasses": "glasses",
                   "eyeglasses": "glasses", "tie": "tie", "necktie": "tie", "bandana": "scarf", "beard": "beard",
                   "bearded": "beard", "moustache": "beard", "mustache": "beard", "veil": "hat",
                   "bowtie": "tie", "scarf": "scarf", "backpack": "backpack", "satchel": "backpack",
                   "helmet": "helmet", "帽": "hat", "帽子": "hat", "眼镜": "glasses", "领带": "tie", "围巾": "scarf"}
IMPLIED_COLOURS: dict[str, tuple[str, RGB]] = {
    "jeans": ("bottom", (70, 100, 150)), "denim": ("top", (70, 100, 150)), "tuxedo": ("top", (25, 25, 28)),
    "spacesuit": ("top", (235, 235, 235)), "labcoat": ("top", (240, 240, 240)), "crown": ("accent", (215, 175, 55)),
}
SPECIES: dict[str, tuple[str, ...]] = {
    # species: words (singular; a plural "s"/"es" is accepted)
    "cat": ("cat", "kitten", "kitty", "tabby", "猫"),
    "dog": ("dog", "puppy", "pup", "hound", "terrier", "poodle", "retriever", "labrador", "beagle", "collie",
            "husky", "corgi", "bulldog", "spaniel", "dachshund", "sheepdog", "狗", "犬"),
    "fox": ("fox", "foxes", "vixen", "狐", "狐狸"), "wolf": ("wolf", "wolves", "狼"),
    "bear": ("bear", "cub", "koala", "熊"), "panda": ("panda", "熊猫"),
    "rabbit": ("rabbit", "bunny", "hare", "kangaroo", "兔", "兔子"),
    "mouse": ("mouse", "mice", "rat", "hamster", "gerbil", "鼠"),
    "horse": ("horse", "pony", "unicorn", "foal", "donkey", "zebra", "mule", "马"),
    "deer": ("deer", "stag", "reindeer", "fawn", "moose", "elk", "giraffe", "antelope", "鹿"),
    "lion": ("lion", "tiger", "leopard", "cheetah", "jaguar", "panther", "lynx", "puma", "cougar", "狮", "虎"),
    "monkey": ("monkey", "ape", "gorilla", "chimpanzee", "chimp", "orangutan", "sloth", "猴", "猴子"),
    "elephant": ("elephant", "mammoth", "象"),
    "farm": ("cow", "pig", "piglet", "sheep", "lamb", "goat", "ox", "bull", "buffalo", "camel", "llama", "alpaca",
             "牛", "猪", "羊"),
    "squirrel": ("squirrel", "raccoon", "otter", "chipmunk", "ferret", "weasel", "松鼠"),
    "badger": ("badger", "beaver", "mole", "skunk", "wombat", "獾"),
    "hedgehog": ("hedgehog", "porcupine", "刺猬"),
    "whale": ("whale", "orca", "鲸", "鲸鱼"), "dolphin": ("dolphin", "shark", "seal", "walrus", "海豚", "鲨鱼"),
    "fish": ("fish", "goldfish", "koi", "salmon", "octopus", "jellyfish", "crab", "鱼"),
    "penguin": ("penguin", "puffin", "企鹅"),
    "bird": ("bird", "seagull", "gull", "crow", "raven", "sparrow", "parrot", "pigeon", "dove", "eagle", "hawk",
             "owl", "owlet", "duck", "duckling", "goose", "geese", "swan", "robin", "hen", "chicken", "rooster",
             "peacock", "flamingo", "stork", "heron", "falcon", "magpie", "finch", "hummingbird",
             "鸟", "鸽", "鹰", "鸭", "鸡"),
    "dragon": ("dragon", "龙"), "turtle": ("turtle", "tortoise", "龟"), "frog": ("frog", "toad", "蛙"),
    "butterfly": ("butterfly", "butterflies", "moth", "bee", "bumblebee", "ladybug", "ladybird", "dragonfly",
                  "蝴蝶", "蜜蜂"),
    "snake": ("snake", "serpent", "蛇"),
    "lizard": ("lizard", "gecko", "iguana", "chameleon", "crocodile", "alligator", "蜥蜴", "鳄鱼"),
    "dinosaur": ("dinosaur", "t-rex", "恐龙"),
}
"""Creatures by kind: each species has its own body plan in :mod:`engine.preview.figures`."""
_SPECIES_WORD = {w: sp for sp, words in SPECIES.items() for w in words}


def species_of(word: str) -> str | None:
    """The species key of one word (``whales`` -> ``whale``), or None."""
    w = word.lower()
    for cand in (w, w[:-1] if w.endswith("s") else None, w[:-2] if w.endswith("es") else None,
                 w[:-3] + "y" if w.endswith("ies") else None):
        if cand and cand in _SPECIES_WORD:
            return _SPECIES_WORD[cand]
    return None


ANIMAL_WORDS = re.compile(
    r"\b(?:" + "|".join(sorted((w for ws in SPECIES.values() for w in ws if w.isascii()), key=len, reverse=True))
    + r")(?:s|es)?\b|\b(?:pupp|bunn|kitt|pon)ies\b|"
    + "|".join(w for ws in SPECIES.values() for w in ws if not w.isascii()), re.I)
HUMAN_WORDS = re.compile(
    r"\b(?:man|woman|men|women|boy|girl|child|kid|baby|toddler|teen(?:ager)?|student|person|people|guy|lady|"
    r"gentleman|mother|father|mom|dad|grand(?:mother|father|ma|pa)|king|queen|prince|princess|knight|wizard|witch|"
    r"keeper|sailor|fisherman|explorer|scientist|doctor|artist|painter|chef|pilot|astronaut|soldier|farmer|monk|"
    r"samurai|ninja|warrior|hero|stranger|traveler|detective|engineer|programmer|dancer|singer|writer|"
    r"photographer|inventor|courier|teacher|nurse|human|elder|old)\b|女孩|男孩|女人|男人|老人|孩子|小女孩|小男孩|少女|少年",
    re.I)
MERMAID_WORDS = re.compile(r"\bmerm(?:aid|an)s?\b|\bsiren\b|美人鱼", re.I)
BEARD = re.compile(r"\bbeard(?:ed|s)?\b|\bmoustache\b|\bmustache\b|\bstubble\b|胡子|胡须", re.I)
ROBOT_WORDS = re.compile(r"\b(?:robot|android|droid|cyborg|mech|automaton)s?\b|机器人", re.I)
LONG_HAIR = re.compile(r"\blong\b[\w\s,-]{0,20}\bhair\b|\bflowing\b[\w\s,-]{0,20}\bhair\b|\bponytail\b|\bbraids?\b|\bpigtails?\b|长发|辫", re.I)
BALD = re.compile(r"\bbald\b|\bshaved head\b|光头", re.I)

YOUNG_ANIMAL = re.compile(r"\b(?:cubs?|pups?|pupp(?:y|ies)|kittens?|calf|calves|foals?|fawns?|chicks?|ducklings?|"
                          r"owlets?|hatchlings?|piglets?|lambs?|baby|young|little|tiny|very young)\b|幼|小", re.I)
CHILD = re.compile(r"\b(?:child|kid|toddler|baby|little (?:girl|boy)|young (?:girl|boy)|schoolgirl|schoolboy|"
                   r"(?:[1-9]|1[0-2]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[- ]years?[- ]old|"
                   r"very young)\b|小女孩|小男孩|孩子|[一二三四五六七八九十]岁", re.I)
GROWN = re.compile(r"\b(?:full[- ]grown|grown|adult|huge|giant|enormous|(?<!year-)(?<!years-)(?<!year )old|elderly)\b", re.I)
"""Words that make a creature young (drawn at 0.65 of its kind's size) or a person a child (0.72);
``full-grown``, ``adult``, ``huge`` keep the full size."""

SLOTS = ("hair", "skin", "top", "bottom", "accent", "eyes")
"""The colour slots of a character's look, in legend chip order."""


@dataclass(frozen=True)
class Look:
    """How one character is drawn; colours are on the :func:`snap` lattice."""

    name: str
    kind: str
    """``human``, ``animal``, ``robot`` or ``mermaid``."""
    colours: dict[str, RGB]
    """One colour per slot of :data:`SLOTS`."""
    sources: dict[str, str]
    """Per slot, where the colour came from: ``bible``, ``memory`` or ``name``."""
    accessories: tuple[str, ...] = ()
    hair_style: str = "short"
    """``short``, ``long`` or ``bald``."""
    species: str | None = None
    """An animal's species (a key of :data:`SPECIES`): its body plan."""
    garment: str = ""
    """``robe``, ``dress``, ``coat`` or ``""``: the outline of the clothes."""
    scale: float = 1.0
    """Body size relative to a grown one of its kind (a cub, a child: smaller)."""


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


def bible_colours(character: Character, kind: str | None = None) -> tuple[dict[str, RGB], tuple[str, ...]]:
    """Colours the bible states, and the accessories it names.

    A colour word followed within four words by a slot noun (``yellow raincoat`` -> top, ``silver
    hair`` -> hair, ``black man`` -> skin, ``red tie`` -> accent) sets that slot; the first colour per
    slot wins (``a brown jacket, a white shirt``: the top is brown). Colours with no slot noun then
    fill the next free slot of their field: appearance -> hair, eyes (an animal's -> fur (top), then patches (accent)); attire ->
    top, bottom, accent. A full-body garment (dress, robe, suit...) also colours the bottom, and a
    few garments imply their colour when none is given (jeans are denim blue)."""
    animal = (kind or character_kind(character)) == "animal"
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


SPECIES_COLOURS: dict[str, tuple[RGB, RGB]] = {
    "whale": ((70, 92, 120), (200, 205, 210)), "dolphin": ((110, 130, 150), (220, 225, 230)),
    "fish": ((240, 140, 40), (250, 220, 120)), "penguin": ((30, 32, 36), (240, 240, 240)),
    "panda": ((240, 240, 240), (30, 30, 30)), "elephant": ((130, 130, 135), (160, 160, 165)),
    "frog": ((70, 160, 60), (200, 220, 120)), "dragon": ((60, 130, 80), (220, 180, 60)),
    "turtle": ((90, 120, 60), (150, 110, 60)), "lion": ((215, 160, 70), (150, 90, 40)),
    "bird": ((90, 110, 150), (240, 200, 90)), "butterfly": ((240, 150, 40), (40, 40, 40)),
    "snake": ((80, 140, 60), (220, 210, 120)), "dinosaur": ((100, 140, 80), (200, 190, 120)),
    "badger": ((90, 90, 95), (235, 235, 235)), "hedgehog": ((120, 85, 55), (215, 190, 150)),
    "lizard": ((90, 140, 70), (190, 200, 120)),
}
"""Body and belly colours of species whose look goes without saying (a whale is slate blue)."""


def name_colours(name: str, kind: str, species: str | None = None) -> dict[str, RGB]:
    """Fallback colours from a hash of the name (the same name always looks the same)."""
    h = _hash_bytes("dailies-look", name.casefold().strip())
    hair = [(30, 25, 22), (70, 45, 30), (120, 80, 45), (150, 70, 35), (220, 190, 120), (150, 150, 150)]
    skin = [(245, 215, 195), (230, 190, 160), (200, 150, 110), (160, 110, 75), (115, 78, 55), (225, 180, 140)]
    bottoms = [(30, 40, 80), (60, 62, 66), (70, 100, 150), (180, 165, 120), (90, 60, 40), (25, 25, 28)]
    eyes = [(80, 50, 30), (40, 30, 20), (60, 110, 170), (70, 130, 80), (120, 100, 50)]
    fur = [(230, 140, 60), (120, 120, 125), (40, 38, 36), (235, 230, 220), (130, 85, 50), (225, 205, 165)]
    top = _hsv(h[0] / 255.0, 0.55 + h[1] / 255.0 * 0.3, 0.55 + h[2] / 255.0 * 0.35)
    accent = _hsv(h[3] / 255.0, 0.7, 0.85)
    if kind == "animal" and species in SPECIES_COLOURS:
        body, belly = SPECIES_COLOURS[species]
        return {s: snap(c) for s, c in {"hair": body, "skin": body, "top": body, "bottom": body, "accent": belly,
                                         "eyes": (30, 30, 30)}.items()}
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


PLAIN_HUMAN = re.compile(
    r"\b(?:man|woman|men|women|boy|girl|child(?:ren)?|kids?|person|people|guy|lady|ladies|gentleman|human|"
    r"teen(?:ager)?|toddler)\b|女孩|男孩|女人|男人|孩子|小女孩|小男孩|少女|少年|老人", re.I)
"""Nouns that are a person whatever modifies them (``a cat lady`` is a woman); other person words
(``mother``, ``old``, ``king``, ``wizard``) are roles an animal can have (``the mother fox``, ``Old Owl``)."""
AGENT_NOUNS = re.compile(
    r"(?:hunt|keep|tam|train|rid|slay|catch|watch|charm|whisper|herd|breed|walk|sitt|handl|sell|own|lov|groom|"
    r"mak|build|design|research|collect|wrangl|poach|photograph|paint|farm|fanci|feed|rescu|track|fight)ers?\b|"
    r"(?:fisher|herds|bird|horse|cow)m[ae]n\b|(?:scientist|engineer|mechanic|inventor|programmer|vet|doctor|"
    r"shepherd|expert|whisperer)s?\b", re.I)
"""Nouns of people that a creature word before them only modifies (``the fox hunter``, ``a robot engineer``)."""
_PHRASE_END = re.compile(
    r"[,;:.!?()\[\]，。；：！？、]|\b(?:with|who|whose|that|which|wearing|holding|carrying|riding|in|on|at|from|of|"
    r"and|or|named|called|beside|near|by|while|has|had|having|is|was|are|to|for|under|over|behind|into|through|"
    r"like|as|dressed|clad|whom)\b", re.I)
CREATURE_CUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bfeather(?:s|ed)?\b|\bbeak\b|\btalons?\b|羽毛", re.I), "bird"),
    (re.compile(r"\bfins?\b|\bgills\b", re.I), "fish"),
    (re.compile(r"\bquills\b|\bspines\b", re.I), "hedgehog"),
    (re.compile(r"\bhooves\b", re.I), "horse"),
    (re.compile(r"\bfur\b|\bfurry\b|\bpaws?\b|\bwhiskers\b|\bsnout\b|\bmuzzle\b|\btail\b|毛茸茸|尾巴", re.I), "cat"),
)
"""Body words that make a description a creature's when it names no kind (``grey feathers and round
spectacles`` is a bird), with the body plan they suggest."""


def _phrase_kind(phrase: str) -> tuple[str, str | None, bool] | None:
    """(kind, species, strong) of one noun phrase, or None when it names no kind.

    The creature or robot word is the head unless a person noun follows it: an agent noun
    (``fox hunter``, ``robot engineer``) or, after an animal word, a plain person noun (``cat
    lady``); a robot word before a plain person noun stays a robot (``a robot girl``). Person words
    before a creature are its roles (``the mother fox``, ``Old Owl``). A phrase of role words only
    (``the old king``) is a weak person: a later, stronger source may still make it a creature."""
    if MERMAID_WORDS.search(phrase):
        return "mermaid", None, True
    creature = min(((m.start(), m.end(), k, m.group(0)) for k, pat in (("animal", ANIMAL_WORDS), ("robot", ROBOT_WORDS))
                    for m in [pat.search(phrase)] if m), default=None)
    if creature is None:
        if PLAIN_HUMAN.search(phrase):
            return "human", None, True
        return ("human", None, False) if HUMAN_WORDS.search(phrase) else None
    start, end, kind, word = creature
    rest = phrase[end:]
    if AGENT_NOUNS.match(rest.lstrip(" -")):
        return "human", None, True
    if kind == "animal" and PLAIN_HUMAN.search(rest):
        return "human", None, True
    if kind == "robot":
        return "robot", None, True
    return "animal", species_of(word) or "cat", True


_SEGMENT = re.compile(r"[,;:.!?()\[\]，。；：！？、]")


def text_kind(text: str) -> tuple[str, str | None, bool] | None:
    """(kind, species, strong) of ``text``: of each punctuated segment the head noun phrase (up to
    a word such as ``with``, ``holding``, ``named``: ``a boy with a dog`` is a boy, ``a robot named
    Bolt`` a robot, ``a full-grown slender red fox with ...`` a fox), the first strong one, else the
    first weak one (``an old, wise owl`` is an owl; ``the old king, with his hound`` a king)."""
    weak = None
    for segment in _SEGMENT.split(text):
        m = _PHRASE_END.search(segment)
        found = _phrase_kind(segment[:m.start()] if m else segment)
        if found and found[2]:
            return found
        weak = weak or found
    return weak


def prompt_kind(prompt: str, character: Character) -> tuple[str, str | None] | None:
    """A character's kind from how a prompt introduces it: an appositive after a mention (``Bolt,
    a rusty robot,`` / ``Pip the hedgehog``) or a kind word right before it (``the robot Bolt``, ``a
    robot named Bolt``). None when the prompt says nothing about the character's kind."""
    for word in character.mentions():
        if not word.strip():
            continue
        esc = re.escape(word)
        pats = (r"(?<![\w])" + esc + r"(?![\w])\s*[,(]?\s*((?:the|a|an)\s+[^,.;:()]{1,40})",
                r"((?:the|a|an)\s+(?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:named|called)?\s*" + esc + r"(?![\w])")
        for pat in pats:
            for m in re.finditer(pat, prompt, re.I if word.isascii() else 0):
                found = text_kind(m.group(1))
                if found and found[2] and found[0] != "human":
                    return found[0], found[1]
    return None


def character_species(character: Character, prompt: str = "") -> tuple[str, str | None]:
    """(kind, species): kind ``human``, ``animal``, ``robot`` or ``mermaid``; species a key of
    :data:`SPECIES` for an animal.

    The bible decides: the appearance, then the name, then the aliases, each read by
    :func:`text_kind` (``the mother fox`` and ``Old Owl`` are creatures, ``a boy with a dog`` a
    boy); a source naming a creature or a plain person beats one naming only roles. With no kind
    word anywhere, body words in the appearance (``feathers``, ``paws``, ``fur``) make a creature;
    then ``prompt`` (the shot's text) may introduce the character as a creature or robot
    (``Bolt, a rusty robot,``); else a person."""
    found = [k for k in (text_kind(t) for t in (character.appearance, character.name, *character.aliases)) if k]
    for kind, species, strong in found:
        if strong:
            return kind, species
    for kind, species, _ in found:
        return kind, species
    for pattern, species in CREATURE_CUES:
        if pattern.search(character.appearance):
            return "animal", species
    if prompt:
        got = prompt_kind(prompt, character)
        if got:
            return got
    return "human", None


def character_kind(character: Character, prompt: str = "") -> str:
    """``animal``, ``robot``, ``mermaid`` or ``human`` (see :func:`character_species`)."""
    return character_species(character, prompt)[0]


_GARMENTS = (("robe", re.compile(r"\brobes?\b|\bgown\b|\bkimono\b|\bcloak\b|\bcape\b|长袍|袍", re.I)),
             ("dress", re.compile(r"\bdress\b|\bskirt\b|\bsundress\b|\btutu\b|\bsari\b|裙", re.I)),
             ("coat", re.compile(r"\bcoat\b|\braincoat\b|\bparka\b|\btrench\b|\blab ?coat\b|棉袄|大衣", re.I)))


def resolve_look(character: Character, memory_colours: dict[str, RGB] | None = None, prompt: str = "") -> Look:
    """A character's look: per slot the bible's colour, else the memory's, else the name hash; its
    kind from the bible, else from how ``prompt`` introduces it (:func:`character_species`)."""
    kind, species = character_species(character, prompt)
    stated, accessories = bible_colours(character, kind)
    fallback = name_colours(character.name, kind, species)
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
    extras = list(accessories)
    if BEARD.search(character.appearance) and "beard" not in extras:
        extras.append("beard")
    garment = next((g for g, pat in _GARMENTS if pat.search(character.attire or character.appearance)), "")
    about = f"{character.name} {character.appearance} {character.age}"
    young = (YOUNG_ANIMAL if kind == "animal" else CHILD).search(about) and not GROWN.search(about)
    return Look(character.name, kind, colours, sources, tuple(extras), style, species, garment,
                0.65 if young and kind == "animal" else 0.72 if young else 1.0)
