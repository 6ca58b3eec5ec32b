"""`python main.py prune RUN [--keep N]`: removes the files only old versions use, never what the
current version or `undo` needs, keeps `history` complete, reports the bytes freed, holds the lock,
and leaves a consistent run wherever it is killed."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import main
from agents.director import prune as prune_mod
from agents.director.prune import prune_run
from agents.director.rundir import RunDir, RunError
from agents.runs import resume_run, revise_run, run_history, undo_run
from story.files import sha256_file
from tests.test_revision import ALL_CUTS, BEN, REPO, render

CLI = [sys.executable, str(REPO / "main.py")]
STATE = ("film.mp4", "script.json", "bible.json", "manifest.json", "memory/bank.json")


def yes(p):
    return True


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A preview run with five versions: v1 render, v2-v4 revisions, undo to v3, v5 from v3."""
    tmp = tmp_path_factory.mktemp("prune")
    run = render(tmp, ALL_CUTS)
    revise_run(run, f"shot 6: Sunset on the beach in heavy rain; grey clouds. {BEN}, shelters under a boat. Wide shot.", yes)
    revise_run(run, "reroll 2", yes)
    revise_run(run, 'replace "lanterns glowing" with "fireworks bursting"', yes)
    undo_run(run)
    revise_run(run, "insert after 02-02: A gull steals a fish from the stall. Close-up, bright light.\ndelete 4", yes)
    m = json.loads((run / "manifest.json").read_text())
    assert m["version"] == 5 and m["status"] == "complete"
    return run


def copy(base: Path, tmp_path: Path, name: str = "run") -> Path:
    dst = tmp_path / name
    shutil.copytree(base, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def tree(run: Path) -> dict[str, str]:
    """Every file of the run (bookkeeping that changes on every open left out) -> sha256."""
    skip = ("checkpoints.sqlite", ".lock", "history.json")
    return {p.relative_to(run).as_posix(): sha256_file(p) for p in run.rglob("*")
            if p.is_file() and not p.name.startswith(skip)}


def size(run: Path) -> int:
    """Bytes in the run's files (the lock and the few bytes of pruned marks in the history left out)."""
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file() and p.name not in (".lock", "history.json"))


def state(run: Path) -> dict[str, bytes]:
    return {n: (run / n).read_bytes() for n in STATE}


def needed_now(run: Path) -> dict[str, str]:
    """Files the current version reads (manifest outputs, bank keyframes) -> sha256 recorded."""
    m = json.loads((run / "manifest.json").read_text())
    bank = json.loads((run / "memory/bank.json").read_text())
    out = {s["outputs"]["video"]: s["outputs"]["video_sha256"] for s in m["shots"]}
    out.update({t: None for s in m["shots"] for t in s["outputs"]["tail"]})
    out.update({k["path"]: k["sha256"] for k in bank["keyframes"]})
    return out


def check_whole(run: Path) -> None:
    for rel, digest in needed_now(run).items():
        assert (run / rel).is_file(), rel
        if digest:
            assert sha256_file(run / rel) == digest, rel


def test_prune_removes_only_old_versions_files_and_keeps_undo(base, tmp_path):
    run, ref = copy(base, tmp_path), copy(base, tmp_path, "ref")
    before, film, total = tree(run), sha256_file(run / "film.mp4"), size(run)
    report = prune_run(run)
    after = tree(run)
    # The current version (5) and the version undo returns to (3) stay whole; 1, 2, 4 are pruned.
    assert report.pruned == [1, 2, 4] and report.kept == [5, 3] and report.undo_target == 3
    assert sha256_file(run / "film.mp4") == film
    check_whole(run)
    assert set(after) <= set(before) and all(after[k] == before[k] for k in after)  # only removals
    removed = set(before) - set(after)
    assert removed == set(report.files)
    assert {"film_v1.mp4", "film_v2.mp4", "film_v4.mp4"} <= removed and "film_v3.mp4" not in removed
    assert "shots/03-01.v2.mp4" in removed and "shots/01-02.v3.mp4" not in removed  # v2's shot 6; v3's reroll
    assert not (run / "shots/03-01.v2.tail").exists()  # emptied tail folders go too
    assert report.bytes_freed == total - size(run) > 0
    # Every version's record is kept; pruned ones are marked, and their snapshots still say what they were.
    records, current = run_history(run)
    assert current == 5 and [r.version for r in records] == [1, 2, 3, 4, 3, 5]
    assert {r.version for r in records if r.pruned} == {1, 2, 4}
    assert all((run / f"versions/v{v}/script.json").exists() for v in range(1, 6))
    # undo to v3 gives exactly what it gives on the run that was never pruned; resume has nothing to do.
    assert undo_run(run) == undo_run(ref) == (5, 3)
    assert state(run) == state(ref)
    check_whole(run)
    m = resume_run(run)
    assert m.status == "complete" and state(run) == state(ref)
    # A second undo would need v2, which was pruned: refused, nothing changed.
    with pytest.raises(RunError, match="version 2 .* was pruned"):
        undo_run(run)
    assert state(run) == state(ref)
    # v3 is current again, v5 the most recent before it: with --keep 2 nothing goes; with 1, v5 does.
    r = prune_run(run, keep=2)
    assert (r.pruned, r.earlier, r.kept, r.bytes_freed) == ([], [1, 2, 4], [3, 5], 0)
    r = prune_run(run)
    assert r.pruned == [5] and r.kept == [3] and "film_v5.mp4" in r.files and r.bytes_freed > 0
    check_whole(run)
    # Revisions go on reusing the kept shots.
    _, _, m = revise_run(run, "reroll 1", yes)
    assert m.status == "complete" and m.version == 6
    assert [s.version for s in m.shots].count(6) >= 1 and sha256_file(run / "shots/01-02.v3.mp4") == before["shots/01-02.v3.mp4"]


def test_keep_n_keeps_the_most_recently_current_versions(base, tmp_path):
    run = copy(base, tmp_path)
    report = prune_run(run, keep=3)
    # Most recently current: 5, then 3 (made current again by the undo), then 4.
    assert report.kept == [5, 3, 4] and report.pruned == [1, 2]
    assert (run / "film_v4.mp4").exists() and not (run / "film_v2.mp4").exists()
    report = prune_run(run, keep=5)  # pruned versions stay pruned; nothing else goes
    assert report.pruned == [] and report.files == []
    with pytest.raises(RunError, match="--keep 0"):
        prune_run(run, keep=0)


def test_prune_takes_the_runs_lock_and_refuses_unfinished_runs(base, tmp_path):
    run = copy(base, tmp_path)
    before = tree(run)
    holder = RunDir.open(run)
    holder.lock()
    try:
        with pytest.raises(RunError, match="in use"):
            prune_run(run)
        r = subprocess.run([*CLI, "prune", str(run)], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "in use" in r.stderr
    finally:
        holder.unlock()
    assert tree(run) == before
    # A kept version whose snapshot cannot be read: nothing is marked, nothing removed.
    good = (run / "versions/v3/bank.json").read_bytes()
    (run / "versions/v3/bank.json").write_text("{not json")
    with pytest.raises(RunError, match="v3/bank.json is unreadable .* nothing was removed"):
        prune_run(run)
    assert not any(r.pruned for r in run_history(run)[0])
    (run / "versions/v3/bank.json").write_bytes(good)
    assert tree(run) == before
    m = json.loads((run / "manifest.json").read_text())
    m["status"] = "rendering"
    (run / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RunError, match="not finished .* resume"):
        prune_run(run)
    with pytest.raises(RunError, match="not a folder"):
        prune_run(tmp_path / "nope")


def test_cli_prune_reports_bytes_and_history_lists_pruned_versions(base, tmp_path):
    run = copy(base, tmp_path)
    total = size(run)
    wide = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([*CLI, "prune", str(run), "--keep", "3"], capture_output=True, text=True, env=wide)
    assert r.returncode == 0, r.stderr
    freed = total - size(run)
    assert f"({freed} bytes)" in r.stdout and "Pruned v1, v2:" in r.stdout and "v5 (current), v3 (undo), v4" in r.stdout
    r = subprocess.run([*CLI, "history", str(run)], capture_output=True, text=True, env=wide)
    assert r.returncode == 0 and r.stdout.count("(pruned)") == 2 and "v4 " in r.stdout
    r = subprocess.run([*CLI, "prune", str(run), "--keep", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "keep at least 1" in r.stderr and "Traceback" not in r.stderr


# -- kills ------------------------------------------------------------------------------------
class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not even `finally` cleanup that matters)."""


def check_after_kill(run: Path, ref_undone: dict[str, bytes], film: str, final: dict[str, str]) -> None:
    """What must hold wherever a prune was killed: the current film is byte-identical, `history`
    reads, `undo` returns to v3 as on an unpruned run, `resume` has nothing to do, and running
    `prune` again ends where an uninterrupted prune ends."""
    assert sha256_file(run / "film.mp4") == film
    check_whole(run)
    records, current = run_history(run)
    assert current == 5 and [r.version for r in records] == [1, 2, 3, 4, 3, 5]
    assert {r.version for r in records if r.pruned} in (set(), {1, 2, 4})
    # The commands themselves (in this process: the same code as `python main.py ...` without start-up).
    assert main.main(["history", str(run)]) == 0
    assert main.main(["prune", str(run)]) == 0
    assert tree(run) == final
    assert not [d for d in (run / "shots").glob("*.tail") if not any(d.iterdir())]  # no empty tail folders left
    assert main.main(["undo", str(run)]) == 0 and state(run) == ref_undone
    assert main.main(["resume", str(run), "--quiet"]) == 0 and state(run) == ref_undone


@pytest.fixture(scope="module")
def outcomes(base, tmp_path_factory):
    """The run after an uninterrupted prune, and v3's state after undo on an unpruned copy."""
    tmp = tmp_path_factory.mktemp("outcomes")
    done, ref = copy(base, tmp, "done"), copy(base, tmp, "ref")
    n = len(prune_run(done).files)
    undo_run(ref)
    return tree(done), state(ref), n


def test_a_prune_killed_at_any_step_leaves_a_consistent_run(base, tmp_path, outcomes, monkeypatch):
    final, ref_undone, n = outcomes
    film = sha256_file(base / "film.mp4")
    assert n > 20
    real_unlink, real_replace = os.unlink, os.replace
    # Kill points: before the history mark is renamed into place, then before each unlink, then at the
    # end. A sample here; DAILIES_PRUNE_KILLS=all tries every one (bench/prune_space.py --kills does).
    points = [-1, *range(n + 1)]
    if os.environ.get("DAILIES_PRUNE_KILLS") != "all":
        points = sorted({-1, 0, 1, n // 3, n // 2, n - 1, n, *random.Random(n).sample(range(n), 3)})
    for k in points:
        run = copy(base, tmp_path, f"k{k}")
        calls = {"unlink": 0}

        def replace(src, dst, *a, **kw):
            if k == -1 and str(dst).endswith("history.json"):
                raise Killed
            return real_replace(src, dst, *a, **kw)

        def unlink(path, *a, **kw):
            if calls["unlink"] == k:
                raise Killed
            calls["unlink"] += 1
            return real_unlink(path, *a, **kw)

        monkeypatch.setattr(prune_mod.os, "unlink", unlink)
        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(Killed) if k < n else _nothing():
            prune_run(run)
        monkeypatch.undo()
        if k == -1:
            assert tree(run) == tree(base)  # killed before the commit point: nothing changed
        check_after_kill(run, ref_undone, film, final)
        shutil.rmtree(run)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


SLOW_PRUNE = """
import os, sys, time
real = os.unlink
def slow(path, *a, **kw):
    time.sleep(0.02)
    return real(path, *a, **kw)
os.unlink = slow
sys.argv = ["main.py", "prune", sys.argv[1]]
import main
sys.exit(main.main())
"""


@pytest.mark.slow
def test_kill_9_at_random_points_during_prune(base, tmp_path, outcomes):
    """Real SIGKILLs at random moments of a `prune` process (its deletions slowed down so that the
    kills land anywhere: before, during and after the commit point and the deletions)."""
    final, ref_undone, n = outcomes
    film = sha256_file(base / "film.mp4")
    rng = random.Random(int(os.environ.get("DAILIES_KILL_SEED", "15")))
    landed = set()
    for trial in range(4):
        run = copy(base, tmp_path, f"t{trial}")
        proc = subprocess.Popen([sys.executable, "-c", SLOW_PRUNE, str(run)], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if trial == 0:  # anywhere from start-up to the first deletions
            time.sleep(rng.uniform(0.2, 3.0))
        else:  # after the commit point, anywhere in the deletions
            history, deadline = run / "versions/history.json", time.time() + 60
            while proc.poll() is None and b'"pruned": "' not in history.read_bytes() and time.time() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.02 * n))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone = len(set(tree(base)) - set(tree(run)))
        landed.add("before" if gone == 0 else "done" if gone == n else "during")
        check_after_kill(run, ref_undone, film, final)
        shutil.rmtree(run)
    assert "during" in landed, landed
