"""The offline logline proposer: N distinct loglines for a theme, deterministic, no model.

``propose("friendship at sea", 3)`` gives three loglines such as "A shy fisherman befriends a
stranded whale on a pebbled beach at low tide". The theme is read with the offline planner's own
word lists: a kind of place (``sea`` -> the coast), a relation (a verb it knows, or one of a few
nouns: ``friendship`` -> a bond story, ``rivalry`` -> a contest, ``quest`` -> a search) and
characters (``robots``, ``a dragon``). Whatever the theme does not fix varies from logline to
logline: the hero (a trait and a role), the other character or the goal, the place within the
setting, and the relation; a place the theme names brings the heroes and companions that live there
(:data:`SETTING_CAST`: at sea a fisherman and a seal). Every logline is one the offline planner reads (a character, a verb it
knows, a place phrase). A theme it cannot read at all (another language, an abstract phrase) is
kept in its own words at the end of every logline, so each film still says what it was asked for.

The same theme and count always give the same loglines (a random generator seeded by a hash of
the theme); the first ``k`` of ``propose(theme, n)`` do not depend on ``n``.
"""

from __future__ import annotations

import hashlib
import random
import re

from agents.planner.logline import MAX_LOGLINE_CHARS
from agents.planner.offline.lexicon import (
    ANIMALS,
    CREATURES,
    IRREGULAR_PLURALS,
    PERSON,
    RELATIONS,
    ROBOTS,
    YOUNG_ANIMALS,
)
from agents.planner.offline.settings import DEFAULT_SETTING, SETTINGS, Setting

_RELATION_VERBS = {w: cat for cat, words in RELATIONS for w in words.split()}
THEME_NOUNS = {
    "friendship": "bond", "friends": "bond", "kindness": "bond", "loyalty": "bond", "rescue": "bond",
    "love": "romance", "romance": "romance", "heart": "romance", "wedding": "romance",
    "rivalry": "conflict", "rivals": "conflict", "race": "conflict", "competition": "conflict",
    "war": "conflict", "duel": "conflict", "heist": "conflict",
    "quest": "seek", "mystery": "seek", "mysteries": "seek", "treasure": "seek", "search": "seek", "secret": "seek",
    "delivery": "carry", "gift": "carry", "gifts": "carry", "letter": "carry", "message": "carry",
    "invention": "make", "inventions": "make", "craft": "make", "building": "make", "art": "make",
    "journey": "journey", "journeys": "journey", "adventure": "journey", "voyage": "journey",
    "travel": "journey", "exploration": "journey", "odyssey": "journey",
    "courage": "change", "growing": "change", "grief": "change", "loss": "change", "hope": "change",
    "forgiveness": "change", "fear": "change", "memory": "change", "memories": "change",
}

TRAITS = ("lonely", "shy", "grumpy", "curious", "stubborn", "brave", "clumsy", "retired", "young", "restless",
          "gentle", "nervous", "cheerful", "forgetful", "proud", "kindly")
HEROES = ("lighthouse keeper", "baker", "fisherman", "astronaut", "detective", "gardener", "librarian",
          "inventor", "girl", "boy", "grandmother", "grandfather", "sailor", "painter", "postman",
          "violinist", "farmer", "nurse", "robot", "mechanic", "beekeeper", "teacher", "explorer", "chef")
COMPANIONS = ("a stranded whale", "a lost puppy", "a tiny dragon", "a wounded owl", "a stray cat",
              "a rusty robot", "an injured fox", "an orphaned otter", "a shy ghost", "a runaway horse",
              "a baby elephant", "a lost penguin", "a frightened deer", "a stray dog", "a young seal")
RIVALS = ("a boastful pilot", "a mischievous fox", "a proud knight", "a sneaky magician", "a rival baker",
          "a giant crab", "a cheeky monkey", "a famous racer")
LOVERS = ("a quiet florist", "a travelling musician", "a kind lifeguard", "a shy tailor", "a cheerful poet",
          "a clumsy waiter", "a wandering painter", "a gentle doctor")
OBJECTS = ("a lost kite", "a missing music box", "a rare blue flower", "a forgotten map", "a stolen necklace",
           "an old pocket watch", "a runaway balloon", "a golden key")
PARCELS = ("a mysterious parcel", "a birthday cake", "an urgent letter", "a basket of lanterns",
           "a tiny lost egg", "a wedding ring")
THINGS = ("a flying machine", "a tiny wooden boat", "a treehouse", "a giant kite", "a clockwork bird",
          "a snow fort", "a music box", "a hot-air balloon")
SKILLS = ("swim", "dance", "paint", "fly a kite", "play the violin", "ride a bicycle", "sing again", "bake bread")
ROUTES = ("travels with", "sails with", "walks with", "sets out with")
SETTING_CAST: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (heroes, companions) who belong in a theme's place: a friendship at sea is with a seal, not a deer.
    "coast": (("fisherman", "sailor", "lighthouse keeper", "lifeguard", "diver", "girl", "boy", "painter",
               "grandmother", "captain"),
              ("a stranded whale", "a young seal", "an orphaned otter", "a lost penguin", "a wounded gull",
               "a baby turtle", "a curious dolphin", "a shy crab")),
    "lighthouse": (("lighthouse keeper", "fisherman", "sailor", "girl", "boy", "grandfather"),
                   ("a stranded whale", "a young seal", "a wounded gull", "a lost puffin", "a curious dolphin")),
    "underwater": (("diver", "explorer", "biologist", "girl", "boy", "robot"),
                   ("a curious dolphin", "a lost turtle", "a shy octopus", "a young seal", "a lonely whale")),
    "forest": (("ranger", "hunter", "girl", "boy", "gardener", "explorer", "hermit", "painter"),
               ("an injured fox", "a wounded owl", "a frightened deer", "a lost bear cub", "a baby hedgehog",
                "a young wolf", "a stray rabbit")),
    "snow": (("explorer", "mountaineer", "girl", "boy", "scientist", "ranger"),
             ("a lost penguin", "a young polar bear", "a snow leopard cub", "a stray husky dog", "a wounded owl")),
    "desert": (("nomad", "explorer", "girl", "boy", "archaeologist", "merchant"),
               ("a lost camel", "a tiny lizard", "a wounded falcon", "a stray fox")),
    "savanna": (("ranger", "photographer", "girl", "boy", "biologist"),
                ("a baby elephant", "a lost zebra", "a young lion", "an orphaned giraffe")),
    "space": (("astronaut", "engineer", "pilot", "scientist", "robot"),
              ("a shy alien", "a rusty robot", "a lost space dog", "a tiny alien")),
}

_TEMPLATES = {
    "bond": ("{hero} befriends {companion} {place}", "{hero} rescues {companion} {place}",
             "{hero} protects {companion} {place}"),
    "romance": ("{hero} falls in love with {lover} {place}",),
    "conflict": ("{hero} races {rival} {place}", "{hero} outwits {rival} {place}",
                 "{hero} challenges {rival} {place}"),
    "seek": ("{hero} searches for {object} {place}", "{hero} follows the trail of {object} {place}"),
    "carry": ("{hero} delivers {parcel} {place}", "{hero} carries {parcel} {place}"),
    "make": ("{hero} builds {thing} {place}", "{hero} repairs {thing} {place}"),
    "journey": ("{hero} {route} {companion} {place}",),
    "change": ("{hero} learns to {skill} {place}", "{hero} learns to {skill} with {companion} {place}"),
}
_WORD = re.compile(r"[a-zA-Z][a-zA-Z'-]*")
_CHARACTER_WORDS = set(PERSON) | set(ANIMALS) | set(CREATURES) | set(ROBOTS) | set(YOUNG_ANIMALS)


def _singular(word: str) -> str:
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[w]
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("es", ""), ("s", "")):
        if w.endswith(suffix) and w[: -len(suffix)] + repl in _CHARACTER_WORDS:
            return w[: -len(suffix)] + repl
    return w


def _article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


class ThemeReading:
    """What the proposer understood of a theme."""

    def __init__(self, theme: str) -> None:
        words = [w.lower() for w in _WORD.findall(theme)]
        forms = set(words) | {_singular(w) for w in words}
        self.settings: list[Setting] = [s for s in SETTINGS if s.words & forms]
        self.relations: list[str] = []
        for w in words:
            rel = THEME_NOUNS.get(w) or _RELATION_VERBS.get(w)
            if rel and rel not in self.relations:
                self.relations.append(rel)
        self.characters: list[str] = []
        for w in words:
            s = _singular(w)
            if s in _CHARACTER_WORDS and s not in self.characters and s not in ("friend", "friends", "human"):
                self.characters.append(s)
        self.readable = bool(self.settings or self.relations or self.characters)


def _places(reading: ThemeReading, rng: random.Random) -> list[str]:
    """Place phrases (``on a pebbled beach at low tide``) to cycle through, varied."""
    pool: list[str] = []
    settings = reading.settings or [s for s in SETTINGS if s.key not in ("battlefield",)]
    for s in settings:
        pool.append(s.where.replace("|", " "))
        if reading.settings:  # a theme that names a place: vary within it
            pool.extend(p.replace("|", " ") for p in s.places)
    if not pool:
        pool = [DEFAULT_SETTING.where.replace("|", " ")]
    rng.shuffle(pool)
    return pool


class _Cycle:
    """Draws from a shuffled pool, reshuffling when it runs out (so repeats come as late as possible)."""

    def __init__(self, items, rng: random.Random) -> None:
        self.items, self.rng, self.queue = list(items), rng, []

    def next(self) -> str:
        if not self.queue:
            self.queue = list(self.items)
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def propose(theme: str, count: int) -> list[str]:
    """``count`` distinct loglines for ``theme`` (already cleaned by
    :func:`agents.planner.proposals.clean_theme`), each at most 300 characters."""
    reading = ThemeReading(theme)
    rng = random.Random(int.from_bytes(hashlib.sha256(theme.casefold().encode()).digest()[:8], "big"))
    places = _Cycle(_places(reading, rng), rng)
    relations = _Cycle(reading.relations or list(_TEMPLATES), rng)
    traits = _Cycle(TRAITS, rng)
    theme_chars = [c for c in reading.characters]
    local = [SETTING_CAST[st.key] for st in reading.settings if st.key in SETTING_CAST]
    hero_roles = ([c for c in theme_chars if c in PERSON or c in ROBOTS]
                  or list(dict.fromkeys(h for heroes_, _ in local for h in heroes_)) or list(HEROES))
    other_chars = ([_article(c) for c in theme_chars if c not in PERSON and c not in ROBOTS]
                   or list(dict.fromkeys(c for _, comps in local for c in comps)))
    heroes = _Cycle(hero_roles, rng)
    pools = {name: _Cycle(items, rng) for name, items in (
        ("companion", other_chars or COMPANIONS), ("rival", other_chars or RIVALS), ("lover", LOVERS), ("object", OBJECTS),
        ("parcel", PARCELS), ("thing", THINGS), ("skill", SKILLS), ("route", ROUTES))}
    tail = "" if reading.readable else f", in a story about {theme}"

    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < count and tries < count * 50:
        tries += 1
        relation = relations.next()
        template = rng.choice(_TEMPLATES[relation])
        hero = f"{traits.next()} {heroes.next()}"
        fields = {name: pool.next() for name, pool in pools.items()}
        text = template.format(hero=_article(hero), place=places.next(), **fields) + tail
        text = text[0].upper() + text[1:]
        key = text.casefold()
        if key in seen or len(text) > MAX_LOGLINE_CHARS:
            continue
        seen.add(key)
        out.append(text)
    return out
