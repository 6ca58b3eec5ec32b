"""Reading the logline: its characters, their relation, the setting and the goal (see the package
docstring), as a :class:`Premise`. Small English heuristics, no model."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from agents.planner.offline.lexicon import (
    _RELATION_OF,
    _W,
    AGE_ADJ,
    AUX,
    CLOTHING,
    DETERMINERS,
    ELDERS,
    FUNCTION,
    NOT_PLACES,
    TIME_WORDS,
)
from agents.planner.offline.nouns import (
    Seed,
    _adjective_class,
    _gender_of,
    _is_verbish,
    _lexicon_kind,
    _parse_noun_phrases,
    _singular,
    _tokens,
)
from agents.planner.offline.settings import DEFAULT_SETTING, SETTINGS, UNREAD_SETTING, Setting, _where_phrase


@dataclass
class Premise:
    """What the planner understood of the logline."""

    logline: str
    readable: bool
    seeds: list[Seed]
    relation: str
    together: bool
    team: int
    """How many characters act together as the hero (``Mia and her grandfather``: 2)."""
    setting: Setting
    where: str
    """The place as the establishing shot shows it, ``prep|phrase``."""
    short: str
    """The place as the first scene's actions name it, ``prep|phrase``."""
    goal: str
    verb_phrase: str


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


def _place_phrase(toks: list[str], seeds: list[Seed]) -> tuple[str, set[str], list[tuple[int, str]]]:
    """(place phrase in the logline's words, its words, attire phrases by token index)."""
    preps = {"in", "on", "at", "inside", "aboard", "across", "beneath", "under", "near", "through",
             "within", "among", "atop", "above", "below", "beyond", "into", "onto", "along", "around",
             "outside", "over", "amid", "throughout"}
    stops = {"and", "who", "that", "which", "to", "when", "while", "but", "before", "after", "until",
             "as", "because", "so", "where", "with", "for", "by", "from", ",", ".", ";", ":", "!", "?"}
    occupied = {k for s in seeds for k in range(s.start, s.end)}
    attire: list[tuple[int, str]] = []
    for i, tok in enumerate(toks):
        if tok.lower() not in preps or i in occupied:
            continue
        j = i + 1
        words = []
        while j < len(toks) and toks[j].lower() not in stops and len(words) < 7:
            if toks[j].lower() in preps and toks[j].lower() != "of" and words:
                break
            words.append(toks[j])
            j += 1
        if not words:
            continue
        low = [w.lower() for w in words]
        if any(w in CLOTHING for w in low):
            attire.append((i, " ".join(words)))
            continue
        if low[-1] in TIME_WORDS or low[-1] in NOT_PLACES:
            continue
        placeish = (low[0] in DETERMINERS or any(w[:1].isupper() for w in words)
                    or any(w in st.words for st in SETTINGS for w in low))
        if not placeish:
            continue
        if any(k in occupied for k in range(i + 1, j)):
            continue
        phrase = " ".join(words)
        return f"{tok.lower()} {phrase}", set(low), attire
    return "", set(), attire


_GOAL_STOPS = {"and", "who", "that", "which", "to", "when", "while", "but", "before", "after", "in", "on",
               "at", "across", "through", "with", ",", ".", ";", ":", "!", "?", "from", "into", "during",
               "against", "as", "because", "until", "so", "for", "of"}


def _goal_phrase(toks: list[str], seeds: list[Seed], after: int) -> str:
    """The verb's object when it is not a character: ``searches for her lost kite`` → ``the lost kite``."""
    occupied = {k for s in seeds for k in range(s.start, s.end)}
    i = after
    while i < len(toks) and (toks[i].lower() in AUX or toks[i].lower() in _RELATION_OF or toks[i] == ","
                             or _is_verbish(toks[i]) or toks[i].lower() in ("for", "about", "to", "up")):
        if i in occupied:
            return ""
        i += 1
    if i >= len(toks) or i in occupied:
        return ""
    first = toks[i].lower()
    if first in DETERMINERS and first not in ("one", "every"):
        det, j = first, i + 1
    elif first not in FUNCTION and toks[i][:1].isalpha():
        det, j = "the", i
    else:
        return ""
    words = []
    while j < len(toks) and toks[j].lower() not in _GOAL_STOPS and j not in occupied and len(words) < 5:
        words.append(toks[j])
        j += 1
    if not words or words[-1].lower() in TIME_WORDS or words[-1].lower() in CLOTHING \
            or words[-1].lower() in NOT_PLACES or not words[-1][:1].isalpha():
        return ""
    det = "the" if det in ("a", "an", "some", "this", "that", "another", "his", "her", "their", "its",
                           "my", "our", "your") else det
    return f"{det} {' '.join(words)}"


RECIPROCAL = _W("compete competes race races duel duels rival rivals argue argues fight fights battle battles "
                "love fall falls date dates marry marries kiss kisses")


def _relation(toks: list[str], seeds: list[Seed]) -> tuple[str, str, int, list[Seed]]:
    """(category, verb phrase as written, how many seeds act together as the hero (1 = alone),
    seeds reordered as [hero, other, companions...])."""
    if not seeds:
        return "world", "", 1, seeds
    k = 1
    together = False
    while k < len(seeds):
        between = [t.lower() for t in toks[seeds[k - 1].end:seeds[k].start]]
        if seeds[k].group == seeds[k - 1].group or between in (["and"], ["&"], [","], [",", "and"]):
            together = True
            k += 1
        else:
            break
    subjects, rest = seeds[:k], seeds[k:]
    end = subjects[-1].end
    window = [t.lower() for t in toks[end:(rest[0].start if rest else len(toks))]]
    verb_words = [t for t in window if t not in DETERMINERS][:6]
    category = None
    for w in window + [t.lower() for t in toks]:
        if w not in _RELATION_OF:
            continue
        cat = _RELATION_OF[w]
        if cat in ("bond", "conflict", "romance") and not rest:
            if not together:
                continue
            if w not in RECIPROCAL and cat != "romance":
                cat = "change"
        category = cat
        break
    if category is None:
        category = "bond" if rest else "journey"
    if category in ("bond", "conflict", "romance") and rest:
        # the hero, the other, then the hero's companions and anyone else
        ordered = [subjects[0], rest[0], *subjects[1:], *rest[1:]]
        return category, " ".join(verb_words), 1, ordered
    return category, " ".join(verb_words), len(subjects), seeds


def goal_np_is_place(toks: list[str], seeds: list[Seed]) -> tuple[str, set[str]] | None:
    """``explores a snowy forest``: a verb's object that names a place is the setting."""
    if not seeds:
        return None
    goal = _goal_phrase(toks, seeds, max(sd.end for sd in seeds[:1]))
    words = goal.lower().split()[1:]
    if words and any(words[-1] in st.words for st in SETTINGS) and not _lexicon_kind(words[-1]):
        return "in " + goal, set(words)
    return None


def read_logline(logline: str) -> Premise:
    """What the offline planner understands of ``logline`` (already cleaned)."""
    toks = _tokens(logline)
    english_hits = sum(1 for t in toks if t.lower() in FUNCTION)
    lexicon_hits = sum(1 for t in toks if _lexicon_kind(_singular(t.lower())))
    readable = _latin_share(logline) >= 0.6 and (english_hits >= 2 or lexicon_hits > 0
                                                 or (english_hits == 1 and len(toks) <= 4))
    seeds = _parse_noun_phrases(toks) if readable else []
    place, place_words, attire = _place_phrase(toks, seeds) if readable else ("", set(), [])
    for idx, phrase in attire:
        owner = [s for s in seeds if s.end <= idx]
        if owner:
            owner[-1].attire = re.sub(r"^(his|her|their|its)\s", "a ", phrase)
    for s in seeds:
        for m in s.modifiers:
            cls = _adjective_class(m)
            if cls == "age":
                s.age_group = AGE_ADJ[m]
            elif cls == "state":
                s.states.append(m)
            elif cls == "look":
                s.looks.append(m)
            elif cls == "trait":
                s.traits.append(m)
            else:
                s.adjuncts.append(m)
        s.gender = _gender_of(s.head, s.name)
    # "Mia and her grandfather": a bare name beside a parent or grandparent is a child
    if any(sd.head in ELDERS for sd in seeds):
        for sd in seeds:
            if sd.name and sd.head == "person" and not sd.age_group:
                sd.age_group = "child"
    # pronouns tell the gender of the first person without one ("a keeper and her dog")
    pron = next((t.lower() for t in toks if t.lower() in ("he", "his", "him", "she", "her", "hers")), None)
    if pron:
        first = next((s for s in seeds if s.kind == "person" and not s.gender), None)
        if first is not None:
            first.gender = "f" if pron in ("she", "her", "hers") else "m"
    relation, verb_phrase, team, seeds = _relation(toks, seeds) if readable else ("unread", "", 1, [])
    together = team > 1
    if not place and readable:
        place, place_words = goal_np_is_place(toks, seeds) or ("", set())
    all_words = {t.lower() for t in toks} | {s.head for s in seeds}
    setting = _pick_setting(place_words, all_words, seeds) if readable else UNREAD_SETTING
    if place:
        where = short = _where_phrase(place)
    else:
        where, short = setting.where, setting.short
    after = max((sd.end for sd in seeds[: (2 if together else 1)]), default=0)
    goal = _goal_phrase(toks, seeds, after) if readable and seeds else ""
    if goal and relation in ("journey", "seek") and set(goal.lower().split()[1:]) & (setting.words | place_words):
        goal = ""  # "cross the desert": the desert is where the journey happens, not its end
    return Premise(logline=logline, readable=readable, seeds=seeds, relation=relation, together=together,
                   team=team, setting=setting, where=where, short=short, goal=goal, verb_phrase=verb_phrase)


def _pick_setting(place_words: set[str], all_words: set[str], seeds: list[Seed]) -> Setting:
    best, best_score = DEFAULT_SETTING, 0
    for st in SETTINGS:
        score = 3 * len(st.words & place_words) + len(st.words & all_words)
        if score > best_score:
            best, best_score = st, score
    return best
