"""Words and noun phrases: classifying the logline's words and finding its characters, each as a
:class:`Seed` (proper names, role nouns with their modifiers, animals, creatures, robots; at most
:data:`MAX_CHARACTERS`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agents.planner.offline.lexicon import (
    _RELATION_OF,
    AGE_ADJ,
    ANIMALS,
    AUX,
    COMMON_NOUNS,
    CREATURES,
    DETERMINERS,
    FEMALE,
    FUNCTION,
    IRREGULAR_PLURALS,
    MACHINES,
    MALE,
    NAMES_F,
    NAMES_M,
    NOT_PERSON_ER,
    NUMBERS,
    PERSON,
    ROBOTS,
    SIZE_COLOR_ADJ,
    STATE_ADJ,
    TIME_WORDS,
    TITLES,
    TRAIT_ADJ,
    YOUNG_ANIMALS,
)
from agents.planner.offline.settings import SETTINGS

MAX_CHARACTERS = 4


@dataclass
class Seed:
    """A character as read from the logline."""

    head: str
    """Head noun, singular (``keeper``, ``whale``); ``person`` for a bare name."""
    kind: str
    """person, animal, creature or robot."""
    modifiers: list[str] = field(default_factory=list)
    name: str | None = None
    gender: str = ""
    age_group: str = ""
    traits: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    looks: list[str] = field(default_factory=list)
    attire: str = ""
    adjuncts: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0
    group: int = 0
    """Seeds of one plural phrase (``two sisters``) share a group."""
    surface: str = ""
    """The phrase as the logline writes it."""
    copy: bool = False
    """True for the second and later members of a plural phrase."""
    species: str = ""
    """For an animal or creature: what it is (``fox`` for ``a fox cub``, ``owl`` for ``an owl detective``)."""
    young: bool = False
    """A young animal (``cub``, ``calf``, ``hatchling``...)."""
    role: str = ""
    """A role beside the kind (``detective`` for ``an owl detective``, ``nurse`` for ``an android nurse``)."""
    collective: str = ""
    """The group the character belongs to (``pack`` for ``a wolf pack``, ``crew`` for ``a crew of thieves``)."""
    kin_of: int | None = None
    """Index of the seed this one is family of (``its mother``): it is of the same kind."""


_TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _singular(word: str) -> str:
    """The singular of a plural character noun (``wolves`` → ``wolf``); other words unchanged."""
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[w]
    if _lexicon_kind(w):
        return w
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            cand = w[: -len(suffix)] + repl
            if _lexicon_kind(cand):
                return cand
    if w.endswith(("ers", "ors", "ists", "ians")):
        return w[:-1]
    return w


def _lexicon_kind(w: str) -> str | None:
    if w in ROBOTS:
        return "robot"
    if w in MACHINES:
        return "machine"
    if w in CREATURES and CREATURES[w]:
        return "creature"
    if w in ANIMALS or w in YOUNG_ANIMALS:
        return "animal"
    if w in PERSON or w in FEMALE or w in MALE:
        return "person"
    if w.endswith(("woman", "man")) and len(w) > 5 and w not in ("human", "snowman", "german", "roman", "woman"):
        return "person"
    return None


def _kind_of(word: str, in_phrase: bool = False) -> str | None:
    """person, animal, creature, robot or machine for a character noun; None otherwise.

    Beyond the lexicon, a noun ending in -er/-or/-ist/-ian counts as a person only inside a noun
    phrase (after a determiner), so verbs like ``deliver`` or ``discover`` never do."""
    w = word.lower()
    kind = _lexicon_kind(w)
    if kind or not in_phrase:
        return kind
    if w in NOT_PERSON_ER or w in FUNCTION or w in COMMON_NOUNS or w in _RELATION_OF:
        return None
    if len(w) > 4 and w.endswith(("er", "or", "ist", "ian")) and not w.endswith(("ier", "ower", "ster")):
        return "person"
    return None


def _is_verbish(word: str) -> bool:
    """A guess: lower-case words ending in s (not -ss/-us/-is/-ous) are verbs or plurals."""
    w = word.lower()
    return w.endswith("s") and not w.endswith(("ss", "us", "is", "ous", "'s", "’s")) and len(w) > 3


def _adjective_class(word: str) -> str | None:
    w = word.lower()
    if w in AGE_ADJ:
        return "age"
    if w in STATE_ADJ:
        return "state"
    if w in SIZE_COLOR_ADJ:
        return "look"
    if w in TRAIT_ADJ:
        return "trait"
    if w.endswith(("ful", "ous", "less", "ish", "ive", "ic", "ed", "ing", "y", "al")) and len(w) > 4:
        return "trait"
    return None


def _gender_of(head: str, name: str | None) -> str:
    if head in FEMALE:
        return "f"
    if head in MALE:
        return "m"
    if name:
        first = name.split()[-1]
        if first in NAMES_F:
            return "f"
        if first in NAMES_M:
            return "m"
    return ""


def _modifier_like(tok: str) -> bool:
    w = tok.lower()
    return (tok[:1].isalpha() and w not in FUNCTION and w not in _RELATION_OF and w not in AUX
            and (not _is_verbish(w) or w in STATE_ADJ or w.endswith("ous")))


def _determiner_before(toks: list[str], i: int) -> int | None:
    """Index of the determiner (or number, or possessive name) that opens the phrase ending at ``i``."""
    j = i - 1
    steps = 0
    while j >= 0 and steps <= 4:
        w = toks[j].lower()
        if w in DETERMINERS or w in NUMBERS:
            return j
        if w in ("'s", "’s"):
            return j
        if not _modifier_like(toks[j]):
            return None
        j -= 1
        steps += 1
    return None


def _name_start(toks: list[str], i: int) -> bool:
    tok = toks[i]
    low = tok.lower()
    return (tok[:1].isupper() and len(tok) > 1 and tok[:1].isalpha()
            and low not in FUNCTION and low not in NUMBERS and low not in DETERMINERS
            and not _lexicon_kind(_singular(low)) and low not in AGE_ADJ and low not in TRAIT_ADJ
            and low not in STATE_ADJ and low not in SIZE_COLOR_ADJ and low not in _RELATION_OF
            and low not in COMMON_NOUNS and low not in TIME_WORDS and low not in AUX
            and not any(low in st.words for st in SETTINGS))


_PLACE_PREPS = ("in", "at", "to", "from", "of", "on", "into", "across", "near", "through", "over", "around",
                "under", "toward", "towards", "beyond", "inside", "outside")
_PREDICATE = ("become", "becomes", "became", "are", "were", "remain", "remains", "stay", "stays")


def _parse_noun_phrases(toks: list[str]) -> list[Seed]:
    """Character noun phrases, in order of appearance (see the module docstring)."""
    from agents.planner.offline.syntax import COLLECTIVES, verb_positions

    seeds: list[Seed] = []
    n = len(toks)
    i = 0
    group = 0
    verbs = verb_positions(toks)
    while i < n:
        tok = toks[i]
        low = tok.lower()
        if i in verbs:
            i += 1
            continue
        if i > 0 and toks[i - 1].lower() in _PREDICATE:  # "become friends": not characters
            while i < n and i not in verbs and toks[i].lower() not in ("on", "in", "at", ",", "and", "."):
                i += 1
            continue
        if tok[:1].isupper() and i > 0 and (toks[i - 1].lower() in _PLACE_PREPS or toks[i - 1].lower() in ("the", "a", "an")):
            j = i  # "in Las Vegas", "the Himalayan cliffs": a place or an adjective, never a character
            while j < n and toks[j][:1].isupper() and toks[j].lower() not in TITLES:
                j += 1
            if not (toks[i - 1].lower() in ("the", "a", "an") and j < n and _kind_of(_singular(toks[j].lower()), True)):
                i = max(j, i + 1)
                continue
        # "Captain Ahab", "Dr. Chen"
        if tok[:1].isupper() and low in TITLES:
            j = i + 1
            if j < n and toks[j] == ".":
                j += 1
            if j < n and toks[j][:1].isupper() and _name_start(toks, j):
                parts = [toks[j]]
                k = j + 1
                while k < n and toks[k][:1].isupper() and _name_start(toks, k) and len(parts) < 2:
                    parts.append(toks[k])
                    k += 1
                title = tok + ("." if toks[i + 1] == "." else "")
                head = TITLES[low]
                seeds.append(Seed(head=head, kind="person", name=f"{title} {' '.join(parts)}", start=i, end=k,
                                  group=-1))
                i = k
                continue
        # Proper names: capitalised words that are not common words
        if _name_start(toks, i):
            j = i
            parts = []
            while j < n and _name_start(toks, j) and len(parts) < 3:
                parts.append(toks[j])
                j += 1
            nxt = toks[j].lower() if j < n else ""
            prev = toks[i - 1].lower() if i > 0 else ""
            acting = (nxt in ("and", "&", ",", "'s", "’s", "who", "must", "is", "was", "has", "finally",
                              "the", "named", "")
                      or _is_verbish(nxt) or nxt in _RELATION_OF or nxt in AUX
                      or prev in ("named", "called", "and", "&", "with", ",") or _is_verbish(prev)
                      or prev in _RELATION_OF)
            if nxt == "the" and j + 1 < n and not _lexicon_kind(_singular(toks[j + 1].lower())):
                acting = False
            if acting and prev not in ("in", "at", "to", "from", "of", "on", "into", "across", "near"):
                seeds.append(Seed(head="person", kind="person", name=" ".join(parts), start=i, end=j, group=-1))
                i = j
                continue
        det = _determiner_before(toks, i)
        head = _singular(low) if tok[:1].isalpha() else ""
        kind = _kind_of(head, in_phrase=det is not None) if head else None
        if kind:
            # a noun used as a modifier of the next noun: "rival chefs", "dog walker", "vacuum cleaner"
            if i + 1 < n and i + 1 not in verbs and (
                    f"{head} {toks[i + 1].lower()}" in MACHINES or f"{head} {toks[i + 1].lower()}" in ANIMALS
                    or _kind_of(_singular(toks[i + 1].lower()), in_phrase=True)):
                i += 1
                continue
            if i > 0:
                pair = f"{toks[i - 1].lower()} {head}"
                if pair in ANIMALS or pair in MACHINES:
                    head, kind = pair, ("machine" if pair in MACHINES else "animal")
            start = det if det is not None else i
            mods = [t.lower() for t in toks[(det + 1 if det is not None else i):i]]
            if " " in head:
                mods = mods[:-1]
            count = NUMBERS.get(toks[det].lower(), 1) if det is not None else 1
            plural = low != head.split()[-1] and low.endswith("s") and head not in ("fish", "sheep", "deer")
            end = i + 1
            collective = ""
            if end < n and toks[end].lower() in COLLECTIVES and end not in verbs:  # "a wolf pack"
                plural, end, collective = True, end + 1, toks[end].lower()
            seed = Seed(head=head, kind=kind, modifiers=mods, start=start, end=end, group=group, collective=collective)
            _refine(seed)
            if i + 2 < n and toks[i + 1].lower() in ("named", "called") and toks[i + 2][:1].isupper():
                seed.name = toks[i + 2]
                seed.end = i + 3
            if start > 1 and toks[start - 1].lower() == "of" and toks[start - 2].lower() in COLLECTIVES:
                plural = True  # "a crew of thieves"
                seed.collective = toks[start - 2].lower()
                seed.start = start - 2 - (1 if start > 2 and toks[start - 3].lower() in DETERMINERS else 0)
            copies = count if count > 1 else (2 if plural else 1)
            seeds.append(seed)
            for _ in range(min(copies, 3) - 1):
                seeds.append(Seed(head=seed.head, kind=seed.kind, modifiers=list(seed.modifiers), start=seed.start,
                                  end=seed.end, group=group, copy=True, species=seed.species, young=seed.young,
                                  role=seed.role, collective=seed.collective))
            group += 1
            i = max(seed.end, end)
            continue
        i += 1
    seeds = _merge_named(seeds, toks)
    for sd in seeds:
        sd.surface = " ".join(toks[sd.start:sd.end])
    while len(seeds) > MAX_CHARACTERS and any(s.copy for s in seeds):
        last_copy = max(k for k, s in enumerate(seeds) if s.copy)
        seeds.pop(last_copy)
    return seeds[:MAX_CHARACTERS]


def _refine(seed: Seed) -> None:
    """Species, youth and role from a noun phrase: ``fox cub`` is a young fox, ``owl detective`` an
    owl who is a detective, ``android nurse`` a robot who is a nurse."""
    mods = seed.modifiers
    kinded = [m for m in mods if _lexicon_kind(m) in ("animal", "creature", "robot")]
    if seed.head in YOUNG_ANIMALS:
        seed.young = True
        animal = next((m for m in reversed(mods) if _lexicon_kind(m) == "animal"), None)
        seed.species = animal or YOUNG_ANIMALS[seed.head]
        if animal:
            seed.modifiers = [m for m in mods if m != animal]
    elif kinded and seed.kind == "person":
        kind_word = kinded[-1]
        seed.role, seed.head = seed.head, kind_word
        seed.kind = "robot" if _lexicon_kind(kind_word) == "robot" else _lexicon_kind(kind_word) or "animal"
        seed.species = kind_word
        seed.modifiers = [m for m in mods if m != kind_word]
    elif seed.kind in ("animal", "creature"):
        seed.species = seed.head


def _merge_named(seeds: list[Seed], toks: list[str]) -> list[Seed]:
    """``Neo, a hacker,`` / ``Max the dog``: a name and the role beside it are one character."""
    out: list[Seed] = []
    for s in seeds:
        prev = out[-1] if out else None
        if prev is not None and prev.name and prev.head == "person" and not s.name and not s.copy:
            between = [t.lower() for t in toks[prev.end:s.start]]
            if between in ([","], [], ["the"]):
                prev.head, prev.kind, prev.modifiers, prev.end = s.head, s.kind, s.modifiers, s.end
                continue
        # "her estranged son, a restless young photographer,": one person described twice
        if prev is not None and not s.copy and prev.kind == s.kind == "person" and toks[prev.end:s.start] == [","] \
                and toks[s.start].lower() in ("a", "an") and (s.end >= len(toks) or toks[s.end] in (",", ".", ";")):
            prev.modifiers = prev.modifiers + s.modifiers + [s.head]
            prev.end = s.end
            continue
        if prev is not None and prev.name and s.copy and prev.group == s.group:
            out.append(s)
            continue
        if s.name and any(o.name == s.name for o in out):
            continue
        out.append(s)
    return out
