"""story/files.py: atomic writes give files the mode a plain ``open()`` would (0o666 less the umask), so a
run's outputs can be read by other users, a web server or batch workers on a shared filesystem."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from story.files import atomic_replace, atomic_write_bytes, atomic_write_json, temp_path_for

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027, 0o077], ids=oct)
def test_atomic_writes_get_the_mode_plain_open_gives(tmp_path, mask):
    with umask(mask):
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what a non-atomic write would give
        atomic_write_bytes(tmp_path / "a.bin", b"data")
        atomic_write_json(tmp_path / "sub" / "b.json", {"k": 1})
        tmp = temp_path_for(tmp_path / "c.png")
        tmp.write_bytes(b"png")  # a writer (PIL, ffmpeg) truncates the empty file it is given
        atomic_replace(tmp, tmp_path / "c.png")
    want = 0o666 & ~mask
    assert mode(plain) == want
    for name in ("a.bin", "sub/b.json", "c.png"):
        assert mode(tmp_path / name) == want, (name, oct(mode(tmp_path / name)), oct(want))


def test_overwriting_keeps_the_new_files_mode_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "m.json"
    with umask(0o022):
        atomic_write_json(target, {"v": 1})
        atomic_write_json(target, {"v": 2})
    assert mode(target) == 0o644 and target.read_text().strip().endswith("}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_temporaries_never_collide_across_threads(tmp_path):
    """Many writers at once beside one target: every temporary is a new file (O_EXCL), none is lost."""
    made: list[Path] = []
    lock = threading.Lock()

    def work():
        for _ in range(50):
            p = temp_path_for(tmp_path / "shot.mp4")
            with lock:
                made.append(p)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 200 and all(p.is_file() and p.name.startswith(".shot.") for p in made)


@pytest.mark.slow
def test_a_fresh_run_under_umask_022_is_readable_by_everyone(tmp_path):
    """The user's report: film.mp4, report.html, manifest.json, shots and PNGs were 0600 under umask 022."""
    run = tmp_path / "run"
    small = ["--size", "128x80", "--frames", "9", "--quiet", "--engine", "preview"]
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(REPO / "story/examples/lighthouse.json"),
                        "--out", str(run), *small], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       preexec_fn=lambda: os.umask(0o022))
    assert r.returncode == 0, r.stderr
    files = [p for p in run.rglob("*") if p.is_file()]
    names = {p.relative_to(run).as_posix() for p in files}
    assert {"film.mp4", "manifest.json", "contact_sheet.png", "script.json"} <= names
    assert any(n.startswith("shots/") and n.endswith(".mp4") for n in names)
    assert any(n.startswith("memory/") and n.endswith(".png") for n in names)
    wrong = {p.relative_to(run).as_posix(): oct(mode(p)) for p in files if mode(p) != 0o644}
    assert not wrong, wrong
    dirs = {p.relative_to(run).as_posix(): oct(mode(p)) for p in run.rglob("*") if p.is_dir() and mode(p) != 0o755}
    assert not dirs, dirs
