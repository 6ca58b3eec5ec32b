"""Nothing lost: `kill -9` a real `main.py render` subprocess at several points, then
`main.py resume` finishes the film, finished shots are not rendered again (their files untouched),
and the film equals an uninterrupted run with the same seed, frame for frame."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.video import read_video

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--size", "192x112", "--frames", "17", "--seed", "7", "--quiet", "--engine", "preview"]


def _story(tmp_path: Path) -> Path:
    script = {
        "story_name": "Resume test",
        "story_overview": "A keeper, a whale, a storm.",
        "scenes": [
            {"scene_num": 1, "video_prompts": [
                "Dawn. Ida, a tall woman with a grey braid, wearing a yellow raincoat, climbs the lighthouse stairs. Wide shot, slow push in.",
                "Ida, a tall woman with a grey braid, wearing a yellow raincoat, looks out to sea. Medium shot, static camera.",
            ], "cut": [True, False]},
            {"scene_num": 2, "video_prompts": [
                "Night storm over the beach, a whale stranded in the surf. Wide shot, pan left.",
                "Close-up of Ida, a tall woman with a grey braid, wearing a yellow raincoat, pouring water, rain, tense mood.",
                "Sunset, calm sea, the whale swims away while Ida, a tall woman with a grey braid, wearing a yellow raincoat, waves. Wide shot, dolly out.",
            ], "cut": [True, True, True]},
        ],
    }
    bible = {"characters": [{"name": "Ida", "appearance": "a tall woman with a grey braid", "attire": "a yellow raincoat"}],
             "cast": {"01-01": ["Ida"], "01-02": ["Ida"], "02-01": [], "02-02": ["Ida"], "02-03": ["Ida"]}}
    p = tmp_path / "resume.json"
    p.write_text(json.dumps(script))
    (tmp_path / "resume.bible.json").write_text(json.dumps(bible))
    return p


def _main(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), *args]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_main(*args), cwd=cwd, capture_output=True, text=True, timeout=600)


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _accepted_files(run: Path) -> dict[str, tuple[int, int, str]]:
    """Accepted shots' files with (inode, mtime_ns, sha) as they are now."""
    from story.files import sha256_file

    out = {}
    for st in _manifest(run)["shots"]:
        if st["status"] == "accepted":
            for rel in [st["outputs"]["video"], *st["outputs"]["tail"]]:
                p = run / rel
                s = p.stat()
                out[rel] = (s.st_ino, s.st_mtime_ns, sha256_file(p))
    return out


def _kill_when(cmd: list[str], cwd: Path, run: Path, ready) -> None:
    """Start ``cmd`` and SIGKILL it as soon as ``ready(run)`` is true (or when it exits)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while proc.poll() is None and time.time() < deadline:
            try:
                if ready(run):
                    break
            except (OSError, ValueError):
                pass  # a file is being replaced right now: look again
            time.sleep(0.005)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _accepted(n):
    return lambda run: sum(s["status"] == "accepted" for s in _manifest(run)["shots"]) >= n


def _file(rel):
    return lambda run: (run / rel).exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    story = _story(tmp)
    r = _run("render", str(story), "--out", str(tmp / "run"), *SMALL, cwd=tmp)
    assert r.returncode == 0, r.stderr
    return story, tmp / "run"


@pytest.mark.parametrize("point", [
    "manifest_created", "first_tail_frame", "first_shot_accepted", "mid_continuation",
    "three_accepted", "memory_written", "film_being_written",
])
def test_kill_then_resume_equals_uninterrupted(tmp_path, reference, point):
    story, ref_run = reference
    run = tmp_path / "run"
    ready = {
        "manifest_created": _file("manifest.json"),
        "first_tail_frame": _file("shots/01-01.tail/0.png"),
        "first_shot_accepted": _accepted(1),
        "mid_continuation": _file("shots/01-02.mp4"),
        "three_accepted": _accepted(3),
        "memory_written": _file("memory/02-01-k1.png"),
        "film_being_written": lambda r: any(p.name.startswith(".film") for p in r.iterdir()) or _accepted(5)(r),
    }[point]
    _kill_when(_main("render", str(story), "--out", str(run), *SMALL), tmp_path, run, ready)
    if not (run / "manifest.json").exists():
        pytest.fail("the kill came before the run directory existed; the trigger is wrong")
    before = _accepted_files(run)

    r = _run("resume", str(run), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr

    m = _manifest(run)
    assert m["status"] == "complete"
    assert all(s["status"] == "accepted" for s in m["shots"])
    # Finished shots were not rendered again: same inode, mtime and bytes.
    after = _accepted_files(run)
    for rel, meta in before.items():
        assert after[rel] == meta, rel
    # Same frames as the uninterrupted run.
    film, ref = read_video(run / "film.mp4"), read_video(ref_run / "film.mp4")
    assert film.shape == ref.shape
    assert np.array_equal(film, ref)
    ref_m = _manifest(ref_run)
    assert [s["input_hash"] for s in m["shots"]] == [s["input_hash"] for s in ref_m["shots"]]
    for a, b in zip(m["shots"], ref_m["shots"]):
        assert a["outputs"]["video_sha256"] == b["outputs"]["video_sha256"]


def test_resume_of_a_complete_run_changes_nothing(reference, tmp_path):
    _, ref_run = reference
    before = (ref_run / "film.mp4").stat().st_mtime_ns
    r = _run("resume", str(ref_run), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (ref_run / "film.mp4").stat().st_mtime_ns == before
