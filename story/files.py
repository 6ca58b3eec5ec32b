"""File helpers every part of dailies uses: atomic writes, content hashes, safe paths.

A write that matters goes to a temporary file in the same folder, is flushed to disk, then renamed
over the target, so a crash leaves either the old file or the new one, never half of one. The
temporary file is created as ``open()`` would create the target (mode ``0o666`` less the umask, by
the kernel), not ``0o600`` as :func:`tempfile.mkstemp` would, so what a run writes can be read by
whoever a plain write would let read it (other users, a web server, batch workers on a shared
filesystem).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import unicodedata
from pathlib import Path
from typing import Any


_TEMP_ATTEMPTS = 100


def _create_temp(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A new, empty file ``folder/prefix<random>suffix`` opened for writing: (fd, path).

    Like :func:`tempfile.mkstemp` (``O_EXCL``, so never someone else's file) but with the mode a
    plain ``open()`` gives, ``0o666`` less the umask: the kernel applies the process's umask (and any
    default ACL of the folder) at creation, so there is no umask to read and no race with threads.
    Raises ``FileExistsError`` only after :data:`_TEMP_ATTEMPTS` name collisions."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(_TEMP_ATTEMPTS):
        name = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder} after {_TEMP_ATTEMPTS} attempts")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (tmp file + fsync + rename); the file gets the mode a
    plain ``open(path, "wb")`` would give a new file (``0o666`` less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, f".{path.name}.", ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty UTF-8 JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_replace(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move a fully written temporary file over ``path`` (same filesystem) and sync the folder."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(Path(path).parent)


def temp_path_for(path: str | os.PathLike) -> Path:
    """A fresh temporary path beside ``path`` keeping its suffix (for writers that need a name). The
    empty file is created with the mode a plain ``open()`` gives (``0o666`` less the umask), which a
    writer that truncates it keeps, so the file moved over ``path`` by :func:`atomic_replace` has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, f".{path.stem}.", f".tmp{path.suffix}")
    os.close(fd)
    return Path(tmp)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hash of a JSON-able object with sorted keys (stable across runs)."""
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def slug(text: str, max_len: int = 40, fallback: str = "item", *, letters: str = "ascii") -> str:
    """A file-name-safe slug of ``text``; never empty, never ``.``/``..``, so a name derived from
    story text cannot escape its folder.

    ``letters="ascii"``: ASCII letters, digits, single dashes (ids that schemas restrict to ASCII).
    ``letters="any"``: Latin letters still fold to ASCII (``Élodie`` -> ``elodie``) but letters of
    other scripts are kept (``灯笼与小女孩``, ``ليلى``), so a folder named from a Chinese or Arabic
    title stays meaningful; separators, punctuation, symbols and emoji become dashes."""
    if letters == "ascii":
        norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
        s = _SLUG_BAD.sub("-", norm).strip("-")[:max_len].strip("-")
        return s or fallback
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii").lower()
        cat = unicodedata.category(ch)
        if folded and folded.isalnum():
            out.append(folded)
        elif cat[0] in "LN" or (cat[0] == "M" and out and out[-1] != "-"):
            out.append(ch.lower())
        elif not (cat[0] == "M" and not folded):
            out.append("-")
    s = re.sub(r"-{2,}", "-", "".join(out)).strip("-")[:max_len].strip("-")
    return s or fallback


def inside(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``root / relative``, refusing any path that resolves outside ``root``."""
    root_r = Path(root).resolve()
    target = (root_r / relative).resolve()
    if target != root_r and root_r not in target.parents:
        raise ValueError(f"path {str(relative)!r} leaves the run directory {root_r}")
    return target
