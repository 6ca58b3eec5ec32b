"""File helpers every part of dailies uses: atomic writes, content hashes, safe paths.

A write that matters goes to a temporary file in the same folder, is flushed to disk, then renamed
over the target, so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (tmp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    """A fresh temporary path beside ``path`` keeping its suffix (for writers that need a name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
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
