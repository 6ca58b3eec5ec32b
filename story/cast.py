"""Infer a character bible from a script that has none (e.g. an ST-Bench file).

ST-Bench scripts describe a character in full at its first appearance ("Neo, a young man in a black
T-shirt, ...") and by name or role noun afterwards ("Neo leans closer"). This reads those first
descriptions into a :class:`Bible` and casts each shot by the mentions in its prompt (a prompt
that opens with a pronoun keeps the previous shot's cast). It is a heuristic, stated as such in
the run manifest; a user-written bible file always takes precedence.
"""

from __future__ import annotations

import re
from collections import Counter

from schemas.bible import Bible, Character
from schemas.script import StoryScript
from story.details import is_mentioned

MAX_CHARACTERS = 6

ROLE_NOUNS = (
    "man woman boy girl child kid baby toddler teenager student grandmother grandma grandfather "
    "grandpa mother father mom dad wife husband king queen prince princess knight wizard witch "
    "mermaid fairy dragon monster robot astronaut explorer scientist doctor nurse teacher artist "
    "painter musician chef detective soldier pilot farmer fisherman sailor captain keeper monk "
    "samurai ninja warrior hero stranger traveler cat kitten dog puppy wolf fox bear rabbit bird "
    "owl horse monkey whale dolphin penguin panda tiger lion elephant deer mouse squirrel turtle "
    "frog alien ghost engineer programmer gardener baker dancer singer writer photographer "
    "lighthouse-keeper inventor courier"
).split()

_STOP_NAMES = set(
    "The A An He She It They His Her Its Their We I You This That These Those Then Now As When "
    "While Later Suddenly Finally Meanwhile Close Closeup Close-up Medium Wide Camera Shot Slow "
    "Soft Gentle Morning Evening Night Afternoon Dawn Dusk Sunlight Light Inside Outside In On At "
    "With From Under Over Through Across Behind Nearby Back Both One Two Three Her His Extreme "
    "Smooth Static Tracking Aerial Low High Warm Cold Bright Dark Quiet Continuous Cut Scene Overhead "
    "Later That Everyone Together After Before Outside Above Below Steady Handheld Fade Ending".split()
)

_PREPOSITIONS = set("of in at to from into onto the a an near through across toward towards by".split())

_ATTIRE = re.compile(
    r"\b(?:wearing|dressed in|clad in|in(?= (?:a|an|his|her|their) )|with(?= (?:a|an|his|her) ))\s+([^.,;:]{3,80})",
    re.IGNORECASE,
)
CLOTHING = set(
    "coat dress suit hoodie shirt t-shirt jacket robe robes uniform sweater hat scarf gown armor armour "
    "apron overalls jeans cloak kimono vest skirt boots spacesuit cap helmet glasses sunglasses blouse "
    "cardigan raincoat trench tuxedo pajamas shorts sneakers shoes gloves tie bow crown veil braces "
    "sweatshirt tunic sari hanfu sandals backpack collar scrubs".split()
)
_KEEP_PLURAL = CLOTHING | {"jeans", "glasses", "trousers", "pants"}
_FUNCTION_WORDS = set(
    "a an the his her their its is are was were as where beside with of in on at to and or while who "
    "that which from by into onto near under over behind through".split()
)
_AGE = re.compile(r"\bin (?:his|her|their) (?:early |late |mid-)?\d0s\b", re.IGNORECASE)
_PROPER = re.compile(r"\b([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b")


_LABEL = re.compile(r"^\s*(?:continuity anchors?|anchors?|characters?|cast)\s*:\s*([^.\n]*)(?:\.|$)\s*", re.IGNORECASE)
"""A leading cast list some scripts put before the action (StoryMem's MovieAgent cases: ``Continuity anchors:
Pip, Owl. Pip, a small fox cub ...``): the names it lists are characters of the shot; the label is no name."""


def split_label(prompt: str) -> tuple[str, list[str]]:
    """``(prompt without a leading cast list, the names it lists)``; ``(prompt, [])`` when it has none."""
    m = _LABEL.match(prompt)
    if not m:
        return prompt, []
    names = [n.strip() for n in re.split(r"[,;]|\band\b", m.group(1)) if n.strip()]
    return prompt[m.end():], [n for n in names if _PROPER.fullmatch(n)]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _describe(sentence: str, anchor_end: int) -> tuple[str, str, str]:
    """(appearance, attire, age) from the words after a character's first mention, up to the next
    name (``Owl, a round grey owl ... watching over Pip, a small fox cub with a cream scarf``: the scarf
    is Pip's)."""
    tail = sentence[anchor_end:]
    other = re.search(r"(?<=\s)[A-Z][a-z]+\b", tail)
    if other and other.group(0) not in _STOP_NAMES:
        tail = tail[:other.start()]
    appearance = ""
    m = re.match(r"\s*,\s*((?:a|an|the)\s[^,.;]{3,120})", tail)
    if m:
        appearance = m.group(1).strip()
    attire = ""
    for attire_m in _ATTIRE.finditer(_AGE.sub("", tail[:200])):
        words = []
        for w in attire_m.group(1).split():
            lw = w.lower().strip("'’")
            if len(words) >= 2 and lw.endswith("s") and len(lw) > 3 and lw not in _KEEP_PLURAL:
                break  # a verb ("stops", "floats"): the attire phrase ended
            if lw in ("and", "who", "that", "as", "while") and any(x.lower() in CLOTHING for x in words):
                break
            words.append(w)
        if any(w.lower().strip(",") in CLOTHING for w in words):
            attire = " ".join(words[:8])
            break
    if attire and appearance and attire in appearance:
        appearance = appearance[: appearance.find(attire)].rstrip(" ,")
        appearance = re.sub(r"(?:\s+(?:wearing|dressed|clad|with|in|and|a|an|his|her|their))+$", "", appearance).strip()
    age_m = _AGE.search(sentence)
    return appearance, attire, age_m.group(0) if age_m else ""


_FEATURE_PLURALS = {"glasses", "curls", "braids", "freckles", "spectacles", "pigtails", "whiskers", "dreadlocks",
                    "bangs", "eyes", "ears", "cheeks", "boots", "clothes", "jeans", "stripes", "spots", "wings", "paws"}


def _with_phrase(tail: str) -> str:
    """``with neat black hair`` from ``" with neat black hair sits by the window"``: the features
    a role noun's first mention gives (``A boy with neat black hair sits``), up to the verb."""
    m = re.match(r"\s*,?\s+with\s+([^,.;:!?]{3,80})", tail)
    if not m:
        return ""
    words: list[str] = []
    for w in m.group(1).split():
        lw = w.lower().strip("'’")
        verb = lw.endswith("s") and len(lw) > 3 and lw not in _KEEP_PLURAL and lw not in _FEATURE_PLURALS \
            and not lw.endswith("ss")
        if verb or lw.endswith("ly") or lw in ("who", "that", "as", "while", "is", "was", "in", "on", "at", "by", "to",
                                                 "from"):
            break
        words.append(w)
    words = words[:10]
    while words and words[-1].lower() in ("and", "a", "an", "the", "with", "his", "her", "its", "their", "of"):
        words.pop()
    return ("with " + " ".join(words)) if words else ""


def _proper_names(script: StoryScript) -> list[str]:
    counts: Counter[str] = Counter()
    for shot in script.iter_shots():
        prompt, listed = split_label(shot.prompt)
        for name in listed:
            counts[name] += 2  # declared by the script itself
        for sentence in _sentences(prompt):
            for m in _PROPER.finditer(sentence):
                name = m.group(1)
                first = name.split()[0]
                if first in _STOP_NAMES or name.lower() in ROLE_NOUNS:
                    continue
                before = sentence[: m.start()].split()
                if before and before[-1].lower() in _PREPOSITIONS:
                    continue
                follow = sentence[m.end():]
                if re.match(r"(?:\s[a-z]+)?\s*:", follow):
                    continue  # a label ("Note:", "Continuity anchors:"), not a character
                # A character acts (followed by a verb-like lowercase word), owns ('s), or is described.
                if re.match(r"(?:\s[a-z]+|\s*,\s*(?:a|an|the)\s)", follow):
                    counts[name] += 1
    names = [n for n, c in counts.most_common() if c >= 2]
    # Prefer the short form a script uses most ("Harry" over "Harry Potter") but keep both as mentions.
    return names


_CLAUSE = re.compile(r"(?:^|[.!?。！？；;:：,，、،\n]\s*)([^\s\d.,!?;:，。！？；：、،\"'“”()（）]{1,12})\s*[,，、،]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CJK_APPOSITIVE = re.compile(r"^[，,、]\s*((?:一|两|三)(?:个|位|名|只|头|条|匹)[^，。；]{1,30})")
_CJK_ATTIRE = re.compile(r"(?:穿着|身穿|穿|戴着)([^，。；、]{1,20})")
_CJK_PLACE = re.compile(r"[边里上下中前后外内街城河湖山海夜晚节]$")


def _uncased_names(script: StoryScript) -> list[str]:
    """Names in scripts without capital letters (Chinese, Japanese, Arabic, Hebrew, Thai ...): a
    short word that opens a clause and is followed by a comma (``小梅，一个……的女孩``,
    ``ليلى، فتاة ...``) and comes back in at least two shots. Words of cased scripts are left to
    :func:`_proper_names`."""
    prompts = [shot.prompt for shot in script.iter_shots()]
    candidates: Counter[str] = Counter()
    for p in prompts:
        for m in _CLAUSE.finditer(p):
            word = m.group(1)
            if any(ch.isupper() or ch.islower() for ch in word if ch.isalpha() and ch.isascii()):
                continue  # Latin: the capitalised-name reader's job
            if any(c.isalpha() and (c.isupper() or c.islower()) for c in word):
                continue  # another cased script (Cyrillic, Greek): capitals say what a name is
            if _CJK.search(word) and (len(word) > 4 or _CJK_PLACE.search(word)):
                continue  # a Chinese phrase or a place ("河边"), not a name
            candidates[word] += 1
    out = []
    for word, _ in candidates.most_common():
        shots_with = sum(word in p for p in prompts)
        if shots_with >= 2 or (_CJK.search(word) and any(_CJK_APPOSITIVE.match(p[p.find(word) + len(word):])
                                                          for p in prompts if word in p)):
            out.append(word)
    return out


def _describe_uncased(prompt: str, name: str) -> tuple[str, str]:
    """(appearance, attire) after the first mention of ``name`` in an uncased script."""
    i = prompt.find(name)
    tail = prompt[i + len(name):]
    appearance = attire = ""
    m = _CJK_APPOSITIVE.match(tail)
    if m:
        appearance = m.group(1).strip()
    else:
        m2 = re.match(r"\s*[,،]\s*([^,،.]{3,80})", tail)
        if m2:
            appearance = m2.group(1).strip()
    a = _CJK_ATTIRE.search(tail[:80])
    if a:
        attire = a.group(1).strip()
    return appearance[:120], attire[:80]


def infer_bible(script: StoryScript) -> Bible:
    """A best-effort bible: named characters first, then role nouns (``the cat``, ``the girl``).
    Scripts without capital letters (Chinese and others) have their names read by
    :func:`_uncased_names`."""
    shots = script.shots()
    found: dict[str, Character] = {}
    counts: Counter[str] = Counter()

    for name in _uncased_names(script)[:MAX_CHARACTERS]:
        first = next(shot.prompt for shot in shots if name in shot.prompt)
        appearance, attire = _describe_uncased(first, name)
        found[name.casefold()] = Character(name=name, appearance=appearance, attire=attire)

    names = _proper_names(script)
    full_names = {n for n in names if " " in n}
    for name in names:
        if any(name != f and name in f.split() for f in full_names):
            continue  # "Harry" folds into "Harry Potter"
        appearance = attire = age = ""
        for shot in shots:
            prompt = split_label(shot.prompt)[0]
            idx = prompt.find(name)
            if idx >= 0:
                sentence_start = prompt.rfind(".", 0, idx) + 1
                sentence = prompt[sentence_start:]
                appearance, attire, age = _describe(sentence, idx - sentence_start + len(name))
                break
        aliases = [p for p in name.split() if p != name and p not in _STOP_NAMES][:1]
        found[name.casefold()] = Character(name=name, appearance=appearance, attire=attire, age=age, aliases=aliases)

    noun_re = re.compile(
        r"\b(?:a|an|the|his|her|their)\s+((?:[\w'’-]+\s+){0,4}?)(" + "|".join(ROLE_NOUNS) + r")\b", re.IGNORECASE
    )
    named_descriptions = " ".join(c.appearance for c in found.values()).casefold()
    for shot in shots:
        for sentence in _sentences(split_label(shot.prompt)[0]):
            for m in noun_re.finditer(sentence):
                noun = m.group(2).lower()
                if set(m.group(1).lower().split()) & _FUNCTION_WORDS:
                    continue
                if noun in named_descriptions and f" {noun}" in f" {named_descriptions}":
                    continue  # "Neo, a young man ...": the man is Neo
                key = noun
                if key not in found:
                    adjectives = m.group(1).strip()
                    article = "an" if (adjectives or noun)[:1].lower() in ("a", "e", "i", "o", "u") else "a"
                    features = _with_phrase(sentence[m.end():])
                    appearance = " ".join(w for w in (article, adjectives, noun, features) if w) \
                        if adjectives or features else ""
                    _, attire, age = _describe(sentence, m.end())
                    found[key] = Character(
                        name=noun.capitalize(), appearance=appearance, attire=attire, age=age, aliases=[f"the {noun}"]
                    )
                counts[key] += 1

    for key, c in found.items():
        counts[key] += sum(is_mentioned(s.prompt, c) for s in shots)
    keep = [c for key, c in found.items() if counts[key] >= 1]
    keep.sort(key=lambda c: -counts[c.name.casefold()])
    keep = keep[:MAX_CHARACTERS]

    cast: dict[str, list[str]] = {}
    previous: list[str] = []
    scene_cast: dict[int, list[str]] = {}
    for shot in shots:
        here = [c.name for c in keep if is_mentioned(shot.prompt, c)]
        seen = scene_cast.setdefault(shot.scene_num, [])
        plural = re.search(r"\b(?:they|them|their|both|together|each other)\b|他们|她们|一起", shot.prompt, re.IGNORECASE)
        if plural and len(here) < 2:
            # "They walk together": everyone of the scene so far (the two who shared the last shots)
            here = list(dict.fromkeys(here + [n for n in reversed(seen) if n not in here]))[:max(2, len(here))]
            here = [c.name for c in keep if c.name in here]
        if not here and re.match(r"\s*(he|she|they|it|his|her|its|their)\b", shot.prompt, re.IGNORECASE):
            here = list(previous)
        cast[shot.id] = here
        seen.extend(n for n in here if n not in seen)
        previous = here or previous
    return Bible(characters=keep, cast=cast)
