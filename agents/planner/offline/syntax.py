"""A little English syntax for loglines: which words are verbs here, the verb's object, the time of
day, the obstacle and the genre.

Parts of speech come from ``lemminflect``'s lexicon (a word's possible parts of speech, no model):
a word that can be a verb is read as the verb when it stands where a logline's verb stands (after
the subject, before an object, a preposition or ``to``; after ``to``, a modal or ``is``). Loglines
are one sentence with a subject, a verb and what the verb is about, which is what this relies on.
"""

from __future__ import annotations

import re
from functools import lru_cache

from agents.planner.offline.lexicon import _W, DETERMINERS, NUMBERS, STATE_ADJ

PRONOUNS = _W("he she it they him her them his its their himself herself itself themselves someone something")
PREPOSITIONS = _W(
    "in on at by for with from into onto over under through across against between among around behind "
    "beyond during inside outside near toward towards upon within without to of along past despite before "
    "after while until aboard beneath below above amid throughout"
)
PARTICLES = _W("up down out off away back home north south east west alone together apart forward again")
MODALS = _W("must can cannot will would should may might could is are was were be been gets get tries try "
            "wants want needs need has have had decides decide learns learn hopes hope plans plan sets set")
COLLECTIVES = _W("crew gang band team group family pack herd flock colony pod troupe squad swarm pride tribe "
                 "clan bunch trio pair school litter brood")
"""Nouns that name a group of the creatures beside them (``a wolf pack``, ``a crew of thieves``)."""
_NOT_VERBS = _W("love") | frozenset(STATE_ADJ)


@lru_cache(maxsize=8192)
def parts_of_speech(word: str) -> frozenset[str]:
    """The parts of speech ``word`` can have (``NOUN``, ``VERB``, ``ADJ``, ``ADV``...); empty if unknown."""
    from lemminflect import getAllLemmas

    return frozenset(getAllLemmas(word.lower()))


def verb_lemma(word: str) -> str:
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word.lower()).get("VERB")
    return lemmas[0] if lemmas else word.lower()


def verb_at(toks: list[str], i: int) -> bool:
    """Is ``toks[i]`` a verb in this logline? (see the module docstring)"""
    w = toks[i].lower()
    if i == 0 or not w[:1].isalpha() or toks[i][:1].isupper():
        return False
    pos = parts_of_speech(w)
    if "VERB" not in pos or w in _NOT_VERBS or w in PREPOSITIONS or w in PARTICLES:
        return False
    prev = toks[i - 1].lower()
    if i > 1 and toks[i - 2].lower() in DETERMINERS and "NOUN" not in parts_of_speech(prev) \
            and ("ADJ" in parts_of_speech(prev) or prev.endswith(("ed", "en"))):
        return False  # "his stolen cards", "a small plane"
    nxt = toks[i + 1].lower() if i + 1 < len(toks) else ""
    if prev in DETERMINERS or prev in NUMBERS or prev == "of":
        return False  # "a raid", "two thugs", "the mystery of ..."
    if prev == "to" or prev in MODALS:
        return True  # "to steal", "must win", "is chased"
    if pos == {"VERB"}:
        return True  # "enters", "bake", "migrate": nothing else they could be
    if nxt == "of" or not (nxt in DETERMINERS or nxt in PRONOUNS or nxt in PREPOSITIONS or nxt in PARTICLES
                           or nxt in ("", ",", ".", "and", ";")):
        return False
    if (w.endswith("s") and not w.endswith("ss") and verb_lemma(w) != w) or w.endswith("ed"):
        return True  # "plans a", "hunts a", "races to": a singular subject's verb
    plural_subject = prev.endswith("s") and not prev.endswith("ss") and (
        "NOUN" in parts_of_speech(prev) or not parts_of_speech(prev))
    return plural_subject or "and" in (t.lower() for t in toks[:i])  # "sisters cross", "X and Y meet at"


def verb_positions(toks: list[str]) -> set[int]:
    """Indexes of the verbs of the logline."""
    return {i for i in range(len(toks)) if verb_at(toks, i)}


TIME_OF = {
    "dawn": "dawn", "daybreak": "dawn", "sunrise": "dawn", "morning": "morning", "noon": "midday",
    "midday": "midday", "afternoon": "afternoon", "sunset": "sunset", "sundown": "sunset", "dusk": "dusk",
    "twilight": "dusk", "evening": "dusk", "nightfall": "dusk", "night": "night", "midnight": "night",
    "moonlight": "night", "moonlit": "night", "tonight": "night", "nighttime": "night",
}
TIMES = ("dawn", "morning", "midday", "afternoon", "sunset", "dusk", "night")


def time_in(logline: str) -> tuple[str | None, str | None, str]:
    """(the time of day the logline sets, the time a deadline falls at, the deadline phrase).

    ``before nightfall`` is a deadline at dusk; ``at dawn`` sets the time; ``a night train`` is a
    kind of train, not the time."""
    low = logline.lower()
    m = re.search(r"\b(before|by|until)\s+((?:the\s+)?(?:\w+\s+)?(" + "|".join(TIME_OF) + r"|dark|the new year))\b", low)
    deadline_time = None
    phrase = ""
    if m:
        phrase = f"{m.group(1)} {m.group(2)}"
        deadline_time = TIME_OF.get(m.group(3), "dusk" if m.group(3) == "dark" else None)
        low = low[: m.start()] + low[m.end():]
    for word in re.findall(r"[a-z]+", low):
        if word in TIME_OF:
            return TIME_OF[word], deadline_time, phrase
    return None, deadline_time, phrase


GENRE_WORDS = {
    "heist": _W("heist heists steal steals stealing rob robs robbery raid raids loot vault safecracker "
                "safecrackers thief thieves burglar burglars burgle burgles swindle con"),
    "mystery": _W("mystery mysteries investigate investigates solve solves murder clue clues uncover uncovers "
                  "conspiracy secret disappearance detective sleuth whodunit"),
    "chase": _W("chase chases chased flee flees fleeing escape escapes escaping outrun outruns pursue pursues "
                "pursued hunted evade evades"),
    "nature": _W("migrate migrates migration stalk stalks prey forage forages graze grazes colony herd pack "
                 "hatchling hatchlings nest nests hibernate hibernates wildlife"),
}


def genre_of(toks: list[str], relation: str, animal_cast: bool) -> str:
    """The story's structure: heist, mystery, chase, romance, nature, or the relation category."""
    words = {t.lower() for t in toks}
    if words & GENRE_WORDS["heist"] or re.search(r"\bbreaks? into\b", " ".join(toks).lower()):
        return "heist"
    if words & GENRE_WORDS["mystery"]:
        return "mystery"
    if relation == "romance":
        return "romance"
    if words & GENRE_WORDS["chase"] or (re.search(r"\braces? (?:a|an|the) ", " ".join(toks).lower())
                                        and relation != "bond"):
        return "chase"
    if animal_cast and (words & GENRE_WORDS["nature"] or words & {"hunts", "hunt", "learns", "prepares"}):
        return "nature"
    return relation


_OBSTACLE = re.compile(
    r"\b(?:despite|against|during|while|from|by)\s+((?:(?:a|an|the|his|her|its|their|two|three)\s+)?"
    r"(?:[a-z'-]+\s+){0,3}?[a-z'-]+?)(?=\s+(?:and|to|in|on|at|across|through|before|after|with|for)\b|[,.;]|$)",
    re.IGNORECASE)


def obstacle_in(logline: str, occupied: list[str]) -> str:
    """What stands in the hero's way, as written (``a drought``, ``her oxygen runs low``, ``time``);
    '' when the logline doesn't say. ``occupied``: phrases already read as characters or places."""
    for m in _OBSTACLE.finditer(logline):
        phrase = m.group(1).strip()
        first = m.group(0).split()[0].lower()
        if first == "from" and re.search(r"\b(?:escapes?|flees?|guards?|protects?|hides?|saves?|runs?)\s+(?:\w+\s+){0,3}from\b",
                                         logline[: m.end()], re.IGNORECASE) is None:
            continue
        if first == "by" and not re.search(r"\b(?:is|are|gets?|was)\s+\w+ed\b", logline[: m.start()], re.IGNORECASE):
            continue
        if any(phrase.lower() in o.lower() or o.lower() in phrase.lower() for o in occupied if o):
            if first not in ("while", "despite", "during"):
                continue
        if first == "while":
            return phrase + logline[m.end():].split(",")[0].rstrip(".")
        return phrase
    return ""
