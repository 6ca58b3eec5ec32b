"""Explicit character details in prompts: detect a mention, check the details, inject them.

StoryMem's authors found that visual memory alone can attach the wrong look to a character in
multi-character scenes; their remedy is to spell out each character's appearance and attire in
every prompt the character appears in. This module is that remedy, shared by the planners, the
critics and the director.
"""

from __future__ import annotations

import re

from schemas.bible import Character

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text.replace("’", "'")).strip().casefold()


def _word_pattern(word: str) -> re.Pattern[str]:
    # Word boundaries that also work for non-Latin scripts: no letter/digit right before or after.
    return re.compile(r"(?<![\w])" + re.escape(_norm(word)) + r"(?![\w])")


def mention_span(prompt: str, character: Character) -> tuple[int, int] | None:
    """Span of the first mention (name or alias) of ``character`` in ``prompt``, or ``None``.

    Matching is case-insensitive on whole words; the span indexes the original prompt."""
    best: tuple[int, int] | None = None
    for word in character.mentions():
        if not word.strip():
            continue
        w = word.strip()
        # Scripts written without spaces (Chinese, Japanese, Thai): a name is found inside a run of letters.
        bounded = not re.search(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff]", w)
        pattern = r"(?<![\w])" + re.escape(w) + r"(?![\w])" if bounded else re.escape(w)
        m = re.compile(pattern, re.IGNORECASE).search(prompt)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), m.end())
    return best


def is_mentioned(prompt: str, character: Character) -> bool:
    return mention_span(prompt, character) is not None


def key_details(character: Character) -> list[str]:
    """The phrases that must appear for the prompt to carry the character's explicit details."""
    return [d for d in (character.appearance, character.attire) if d.strip()]


_WORD = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(
    "a an the and or with in on of at to for by from wearing wears wore who is are his her their its".split()
)
"""Words a description can drop or reorder without changing what it describes."""


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(_norm(text)) if w not in _FUNCTION_WORDS}


def has_detail(prompt: str, detail: str) -> bool:
    """True if the prompt carries ``detail``: the phrase itself, or every content word of it (the
    prompt may describe the character in its own order and words around them: ``a slim young man in
    his 20s with short black hair`` carries ``a slim young man with short black hair``)."""
    if _norm(detail) in _norm(prompt):
        return True
    words = _content_words(detail)
    return bool(words) and words <= _content_words(prompt)


def has_details(prompt: str, character: Character) -> bool:
    """True if every key detail of the character is in the prompt (:func:`has_detail`)."""
    return all(has_detail(prompt, d) for d in key_details(character))


def missing_details(prompt: str, characters: list[Character]) -> list[Character]:
    """Characters mentioned in ``prompt`` without their explicit details."""
    return [c for c in characters if key_details(c) and is_mentioned(prompt, c) and not has_details(prompt, c)]


def inject_details(prompt: str, characters: list[Character], *, cast: list[Character] | None = None) -> str:
    """Write each character's :meth:`Character.details` into ``prompt``.

    A mentioned character gets the details right after its first mention (``Mia enters`` ->
    ``Mia (a tall woman ..., wearing ...) enters``); a character of ``cast`` that the prompt never
    names is introduced in a leading sentence. Characters that already carry their details are
    left alone, so injecting twice changes nothing."""
    out = prompt
    absent: list[Character] = []
    for c in characters:
        if not key_details(c) or has_details(out, c):
            continue
        span = mention_span(out, c)
        if span is None:
            absent.append(c)
            continue
        start, end = span
        mentioned = out[start:end]
        out = out[:start] + c.details().replace(c.name, mentioned, 1) + out[end:]
    for c in cast or []:
        if c in absent and key_details(c):
            out = f"{c.details()} is in the shot. {out}"
    return out
