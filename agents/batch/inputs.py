"""INPUT as a list of films: a text file of loglines, a folder of ST-Bench scripts, or a theme's
proposed loglines.

Problems with the input as a whole (a missing path, an unreadable or empty file, a folder without
scripts, a repeated logline) are :class:`~agents.batch.BatchError` before any work. Problems of
one film (a logline the planner refuses, a script that does not validate) are that film's failure,
reported by its worker with the planner's or the script reader's one-line reason, so one bad line
never stops the others.

Each film gets a key that names its run folder under DIR. It depends only on the film's own text
or file name, never on its position, so editing the input (adding a line, adding a script) keeps
every existing film in its folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from agents.batch import BatchError
from schemas.batch import FilmSource
from story.files import slug

MAX_FILMS = 1000


@dataclass(frozen=True)
class Film:
    """One film of the input: its key (the run folder's name) and where it comes from."""

    key: str
    source: FilmSource


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def logline_key(logline: str) -> str:
    """``a-lonely-lighthouse-keeper-befriends-3f9a2c``: the logline's first words plus a hash of
    all of it (two loglines that start alike still get two folders)."""
    return f"{slug(logline, max_len=36, fallback='film')}-{_short_hash(logline.strip())}"


def _check_dir_free_name(key: str) -> str:
    # Keys are slugs (ASCII letters, digits, dashes), never '.', '..' or a reserved name of DIR.
    if key in ("logs", "index.html", "batch.json"):
        return f"{key}-film"
    return key


def films_from_loglines(loglines: list[tuple[int, str]]) -> list[Film]:
    """Films for ``(line number, logline)`` pairs; a repeated logline is a :class:`BatchError`."""
    seen: dict[str, int] = {}
    films = []
    for line, text in loglines:
        norm = " ".join(text.split()).casefold()
        if norm in seen:
            raise BatchError(
                f"line {line} repeats the logline of line {seen[norm]}; remove one (the same logline "
                "gives the same film)"
            )
        seen[norm] = line
        films.append(Film(_check_dir_free_name(logline_key(text)),
                          FilmSource(kind="logline", logline=text, line=line)))
    return films


def read_loglines(path: Path) -> list[Film]:
    """One logline per line; blank lines and lines starting with ``#`` are skipped."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BatchError(f"cannot read INPUT {path} ({e.strerror or e}); check the path and its permissions") from None
    if b"\0" in raw:
        raise BatchError(f"INPUT {path} is not a text file; give a text file with one logline per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BatchError(f"INPUT {path} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    pairs = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    pairs = [(n, line) for n, line in pairs if line and not line.startswith("#")]
    if not pairs:
        raise BatchError(f"INPUT {path} has no loglines; write one logline per line")
    if len(pairs) > MAX_FILMS:
        raise BatchError(f"INPUT {path} has {len(pairs)} loglines, more than {MAX_FILMS}; split it into several batches")
    return films_from_loglines(pairs)


def read_scripts(folder: Path) -> list[Film]:
    """Every ``*.json`` in the folder except ``*.bible.json`` (each script's bible, used when beside it)."""
    try:
        scripts = sorted(p for p in folder.iterdir()
                         if p.suffix.lower() == ".json" and not p.name.lower().endswith(".bible.json")
                         and not p.name.startswith(".") and p.is_file())
    except OSError as e:
        raise BatchError(f"cannot list INPUT {folder} ({e.strerror or e}); check its permissions") from None
    if not scripts:
        raise BatchError(f"INPUT {folder} holds no .json scripts; give a folder of ST-Bench scripts or a loglines file")
    if len(scripts) > MAX_FILMS:
        raise BatchError(f"INPUT {folder} has {len(scripts)} scripts, more than {MAX_FILMS}; split it into several batches")
    films, taken = [], set()
    for p in scripts:
        key = _check_dir_free_name(slug(p.stem, max_len=40, fallback="script"))
        if key in taken:  # "a b.json" and "a-b.json"
            key = f"{key}-{_short_hash(p.name)}"
        taken.add(key)
        bible = p.with_name(p.stem + ".bible.json")
        films.append(Film(key, FilmSource(kind="script", script=str(p.resolve()),
                                          bible=str(bible.resolve()) if bible.is_file() else None)))
    return films


def read_input(path: str | Path) -> tuple[str, list[Film]]:
    """``("loglines" | "scripts", films)`` for INPUT, or a one-line :class:`BatchError`."""
    p = Path(path)
    if not p.exists():
        raise BatchError(
            f"INPUT {p} does not exist; give a text file of loglines, a folder of ST-Bench scripts, "
            'or --theme "..." --count N'
        )
    if p.is_dir():
        return "scripts", read_scripts(p)
    if p.suffix.lower() == ".json":
        raise BatchError(
            f"INPUT {p} is one script; `batch` takes a folder of scripts (or render it with "
            f"`python main.py render {p}`)"
        )
    return "loglines", read_loglines(p)
