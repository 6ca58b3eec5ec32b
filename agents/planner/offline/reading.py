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
    KIN,
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
    genre: str = ""
    """The story's structure: heist, mystery, chase, romance, nature, or the relation category."""
    time: str | None = None
    """The time of day the logline sets (``dawn``... ``night``), None when it sets none."""
    deadline: str = ""
    """A deadline as written (``before nightfall``), '' when there is none."""
    deadline_time: str | None = None
    """The time of day the deadline falls at (``dusk`` for nightfall)."""
    obstacle: str = ""
    """What stands in the way when it is no character (``a drought``, ``her oxygen runs low``)."""
    pursuer: str = ""
    """A chase's pursuer when it is no character (``the tornado``)."""
    vehicle: str = ""
    """What the hero travels in or on (``the bicycle``, ``the small plane``)."""
    origin: str = ""
    """Where an escape starts (``the aquarium``)."""
    skill: str = ""
    """What the hero learns to do (``fish`` for ``learns to fish``)."""
    season: str = ""
    """The season the logline names (``winter``)."""
    occasion: str = ""
    """What the goal is for (``the village festival`` in ``bake bread for the village festival``)."""


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters)


VEHICLES = {"bicycle", "bike", "plane", "car", "truck", "motorcycle", "scooter", "boat", "canoe", "kayak",
            "raft", "balloon", "skateboard", "sled", "sleigh", "airplane", "helicopter", "van", "tractor"}
_TIME_PLACE = {"moonlight", "sunlight", "starlight", "night", "dawn", "dusk", "sunset", "sunrise", "rain", "snow",
               "stars", "moon", "sun"}


def _place_phrase(toks: list[str], seeds: list[Seed]) -> tuple[str, set[str], list[tuple[int, str]]]:
    """(place phrase in the logline's words, its words, attire phrases by token index)."""
    from agents.planner.offline.syntax import PARTICLES, verb_positions

    verbs = verb_positions(toks)
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
        while j < len(toks) and toks[j].lower() not in stops and len(words) < 7 and j not in verbs \
                and toks[j].lower() not in PARTICLES:
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
        if "of" in low and any(w in TIME_WORDS for w in low[: low.index("of")]):  # "the night of the festival"
            words = words[low.index("of") + 1:]
            low = low[low.index("of") + 1:]
            if not words:
                continue
        if low[-1] in TIME_WORDS or low[-1] in NOT_PLACES or low[-1] in VEHICLES or low[-1] in _TIME_PLACE \
                or low[0] in TIME_WORDS:
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
                "love fall falls date dates marry marries kiss kisses meet meets")


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


def _np_after(toks: list[str], j: int, seeds: list[Seed], verbs: set[int]) -> tuple[str, int]:
    """(the noun phrase that starts at ``toks[j]``, as ``the ...``, and where it ends); '' when none
    (a character, a pronoun, nothing). ``of`` phrases stay attached (``the mystery of the missing acorns``)."""
    from agents.planner.offline.syntax import PREPOSITIONS, PRONOUNS

    occupied = {k for sd in seeds for k in range(sd.start, sd.end)}
    if j >= len(toks) or j in occupied or toks[j].lower() in PRONOUNS - {"his", "her", "its", "their"}:
        return "", j
    words: list[str] = []
    det = "the"
    k = j
    if toks[k].lower() in DETERMINERS or toks[k].lower() in ("two", "three", "some"):
        if toks[k].lower() in ("two", "three", "some", "these", "those"):
            det = ""
        k += 1
    while k < len(toks) and k not in verbs and k not in occupied and toks[k][:1].isalpha():
        w = toks[k].lower()
        if w in PREPOSITIONS and not (w == "of" and words):
            break
        if w in ("and", "or", "but", "who", "that", "which", "while", "alone", "together") or w in AUX - {"for", "of"}:
            break
        if w == "of" and (k + 1 >= len(toks) or (k + 1) in occupied):
            break
        words.append(toks[k])
        k += 1
    words = [w for w in words if w.lower() not in ("a", "an")]
    while words and words[-1].lower() in ("of", "the"):
        words.pop()
    if not words or any(kk in occupied for kk in range(j, k)):
        return "", k
    text = " ".join(words)
    return (f"{det} {text}" if det else text), k


def _goal_of(toks: list[str], seeds: list[Seed], verbs: set[int]) -> str:
    """The goal: the object of a purpose clause (``to steal a diamond``), else of the main verb
    (``investigates a murder``); '' when it is a character or a place."""
    from agents.planner.offline.syntax import PARTICLES

    hero_end = max((sd.end for sd in seeds[:1]), default=0)
    ordered = sorted(v for v in verbs if v >= hero_end and toks[v].lower() not in
                     ("become", "becomes", "became", "is", "are", "was", "were"))
    found = ""
    for v in ordered:
        j = v + 1
        while j < len(toks) and toks[j].lower() in ("for", "about", "back", "up", "out"):
            j += 1
        if j < len(toks) and (toks[j].lower() in PARTICLES or j in verbs or toks[j].lower() == "to"):
            continue
        np, _ = _np_after(toks, j, seeds, verbs)
        if np:
            last = np.split()[-1].lower()
            if last in TIME_WORDS or (any(last in st.words for st in SETTINGS) and not _is_thing(last)):
                continue
            purpose = v > 0 and toks[v - 1].lower() == "to"
            if purpose or not found:
                found = np
            if purpose:
                break
    if not found:  # a destination: "marches across the ice to the sea", "returns to the sea"
        for v in ordered:
            m = re.match(r"(?:\w+\s+){0,4}?to\s+(?:the|a|an)\s+([a-z]+(?:\s+[a-z]+)?)\b",
                         " ".join(toks[v + 1:]).lower())
            if m and not any(m.group(1).split()[-1] in (sd.head, sd.species) for sd in seeds) \
                    and m.group(1).split()[0] not in verbs_text(toks, verbs):
                found = f"the {m.group(1).split(' and ')[0]}"
                break
    return re.sub(r"^the (his|her|their|its|my|our|your) ", "the ", found)


def verbs_text(toks: list[str], verbs: set[int]) -> set[str]:
    return {toks[v].lower() for v in verbs}


_THINGS = {"water", "egg", "treasure", "bread", "kite", "letter", "diamond", "clock", "raft", "broom", "picnic",
           "satellite", "cards", "acorns", "prey", "door", "cake", "map", "key", "ring", "crown", "heist"}


def _is_thing(word: str) -> bool:
    return word in _THINGS


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
    _kin(toks, seeds)
    together = team > 1
    if not place and readable:
        place, place_words = goal_np_is_place(toks, seeds) or ("", set())
    all_words = {t.lower() for t in toks} | {s.head for s in seeds} | {s.species for s in seeds if s.species}
    setting = _pick_setting(place_words, all_words, seeds) if readable else UNREAD_SETTING
    if place:
        where = short = _where_phrase(place)
    else:
        where, short = setting.where, setting.short
    premise = Premise(logline=logline, readable=readable, seeds=seeds, relation=relation, together=together,
                      team=team, setting=setting, where=where, short=short, goal="", verb_phrase=verb_phrase)
    if readable:
        _read_story(premise, toks)
    return premise


def _kin(toks: list[str], seeds: list[Seed]) -> None:
    """``a fox cub ... its mother``, ``a whale and her calf``: the hero's family is of its kind."""
    if not seeds or seeds[0].kind not in ("animal", "creature"):
        return
    hero = seeds[0]
    species = hero.species or hero.head
    for sd in seeds[1:]:
        if sd.head not in KIN and not (sd.young and sd.kind == "animal"):
            continue
        before = toks[sd.start].lower() if sd.start < len(toks) else ""
        if before in ("its", "her", "his", "their") or sd.kind == "person" and sd.head in KIN:
            sd.kind = hero.kind
            sd.species = species
            sd.kin_of = 0
            sd.young = sd.young or sd.head in ("calf", "cub", "pup", "chick", "baby", "babies", "young", "offspring")


def _read_story(p: Premise, toks: list[str]) -> None:
    """Goal, genre, time of day, deadline, obstacle, pursuer, vehicle and origin of a readable logline."""
    from agents.planner.offline.syntax import genre_of, obstacle_in, parts_of_speech, time_in, verb_positions

    verbs = verb_positions(toks)
    seeds = p.seeds
    p.goal = _goal_of(toks, seeds, verbs) if seeds else ""
    if p.goal and p.relation in ("journey", "seek") and set(p.goal.lower().split()[1:]) & p.setting.words \
            and not _is_thing(p.goal.split()[-1].lower()):
        p.goal = ""  # "cross the desert": the desert is where the journey happens, not its end
    animal_cast = bool(seeds) and all(sd.kind in ("animal", "creature") for sd in seeds)
    if re.search(r"\b(?:become|becomes|became|make|makes)\s+(?:best\s+)?friends\b", p.logline.lower()):
        p.relation = "bond"
    p.genre = genre_of(toks, p.relation, animal_cast)
    p.time, p.deadline_time, p.deadline = time_in(p.logline)
    low = p.logline.lower()
    occupied = [sd.surface for sd in seeds] + [p.where.split("|")[-1]]
    p.obstacle = obstacle_in(p.logline, occupied)
    if p.deadline and p.obstacle and p.obstacle.lower() in p.deadline.lower():
        p.obstacle = ""
    m = re.search(r"\b(?:on|in|aboard|riding)\s+(?:a|an|the|his|her|their)\s+((?:\w+\s+)?(?:" +
                  "|".join(sorted(VEHICLES)) + r"))\b", low)
    if m:
        p.vehicle = f"the {m.group(1)}"
    m = re.search(r"\b(?:escapes?|flees?|breaks? out|runs? away)\s+from\s+(?:a|an|the)\s+([a-z]+)\b(?!\s+[a-z]+s?\b(?<=cat))",
                  low)
    if m and (m.group(1) in VEHICLES or any(m.group(1) in st.words for st in SETTINGS) or m.group(1) in
              ("aquarium", "zoo", "cage", "prison", "jail", "lab", "laboratory", "farm", "circus", "pet shop")) \
            and not any(m.group(1) in (sd.head, sd.species) for sd in seeds):
        p.origin = f"the {m.group(1)}"
        if p.obstacle.split()[-1:] == [m.group(1)]:
            p.obstacle = ""
    if p.genre == "chase" and not (len(seeds) > 1 and seeds[1].kin_of is None and seeds[1].group != seeds[0].group):
        for v in sorted(verbs):  # "escapes a storm", "races a tornado": the verb's object chases the hero
            if toks[v].lower() in ("escape", "escapes", "flee", "flees", "outrun", "outruns", "race", "races",
                                   "evade", "evades", "chase", "chases"):
                np, _ = _np_after(toks, v + 1, seeds, verbs)
                if np and np.split()[-1].lower() not in ("time",):
                    p.pursuer = np
                    if p.goal == np:
                        p.goal = ""
                    break
    if not p.goal and re.search(r"\bhome\b", low):
        p.goal = "home"
    m = re.search(r"\blearns? (?:how )?to (\w+)", low)
    if m and "VERB" in parts_of_speech(m.group(1)):
        p.skill = m.group(1)
    m = re.search(r"\b(winter|spring|summer|autumn)\b", low)
    if m:
        p.season = m.group(1)
    if p.goal:
        m = re.search(re.escape(p.goal.split()[-1].lower()) + r"\s+for\s+((?:the|a|an|his|her|their)\s+[a-z' ]+?)(?=$|[,.;]|\s+(?:in|at|on|before|after|while)\b)", low)
        if m:
            p.occasion = re.sub(r"^(a|an|his|her|their) ", "the ", m.group(1))
    if re.search(r"\b(?:loses|lose|lost|misplaces)\s+(?:his|her|its|their|a|the)\b", low) and p.goal:
        p.relation = "seek"  # "loses her broom": the story is the search for it
        if p.genre not in ("heist", "mystery", "chase", "romance", "nature"):
            p.genre = "seek"
        p.goal = p.goal if p.goal.startswith("the lost ") else "the lost " + p.goal.removeprefix("the ")


def _pick_setting(place_words: set[str], all_words: set[str], seeds: list[Seed]) -> Setting:
    best, best_score = DEFAULT_SETTING, 0
    for st in SETTINGS:
        score = 3 * len(st.words & place_words) + len(st.words & all_words)
        if score > best_score:
            best, best_score = st, score
    return best
