"""Issue 8, section 1: no run is ever stuck. A change of several files survives a crash at every
file operation; a revision killed right after its commit resumes; two renders racing into one new
``--out`` never corrupt it; a failed start leaves nothing behind; the engine never changes silently;
the advice for a folder without a manifest is the same from every command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.director import versions
from agents.director.rundir import RunDir, RunError
from agents.runs import resume_run, revise_run, undo_run
from story.files import sha256_file
from tests.test_revision import ALL_CUTS, BEN, render, story, yes

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--size", "160x96", "--frames", "9", "--seed", "4", "--quiet", "--engine", "preview"]


def _main(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), *args]


def _cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(_main(*args), capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _one_line_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-400:], r.stderr[-400:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


# -- multi-file transactions: a crash at any file operation ------------------------------------------

class Crash(BaseException):
    """Stands for SIGKILL: raised before the n-th file operation, never caught by the code under test."""


FS_OPS = [(os, "replace"), (os, "rename"), (os, "unlink"), (os, "rmdir"), (os, "mkdir"),
          (shutil, "copyfile"), (shutil, "rmtree"), (Path, "write_bytes"), (Path, "unlink"), (Path, "mkdir")]


class CrashAt:
    """Patch the file operations so that the ``n``-th one raises :class:`Crash` (a partial ``rmtree``
    deletes one file first, as a kill during it would)."""

    def __init__(self, monkeypatch, n: int):
        self.n, self.count, self.mp = n, 0, monkeypatch
        for owner, name in FS_OPS:
            self.mp.setattr(owner, name, self._wrap(getattr(owner, name), name))

    def _wrap(self, fn, name):
        def op(*a, **k):
            if self.count == self.n:
                self.count += 1
                if name == "rmtree":
                    files = [p for p in Path(a[0]).rglob("*") if p.is_file()]
                    if files:
                        os.remove(files[0])
                raise Crash(f"killed at {name} #{self.n}")
            self.count += 1
            return fn(*a, **k)
        return op


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """A finished run at version 2 (render + one revision), and the bytes of each version."""
    tmp = tmp_path_factory.mktemp("v2")
    run = render(tmp, ALL_CUTS)
    keep = ("film.mp4", "script.json", "bible.json", "manifest.json", "memory/bank.json", "versions/history.json")
    v1 = {n: (run / n).read_bytes() for n in keep if n != "versions/history.json"}
    revise_run(run, "reroll 8", yes)
    v2 = {n: (run / n).read_bytes() for n in keep}
    return run, v1, v2


def _state(run: Path) -> dict[str, bytes]:
    return {n: (run / n).read_bytes() for n in ("film.mp4", "script.json", "bible.json", "manifest.json",
                                                 "memory/bank.json")}


@pytest.mark.slow
def test_undo_survives_a_crash_at_every_file_operation(tmp_path, monkeypatch, two_versions):
    """`undo` is one transaction (stage, commit rename, apply, clean up): killed before any of its
    file operations, the next command sees version 2 untouched or version 1 complete, never a mix,
    and never a stuck run."""
    base, v1, v2 = two_versions
    outcomes = set()
    for n in range(10_000):
        run = tmp_path / f"c{n}"
        shutil.copytree(base, run)
        crash = CrashAt(monkeypatch, n)
        try:
            undo_run(run)
            crashed = False
        except Crash:
            crashed = True
        finally:
            monkeypatch.undo()
        # The next command recovers (exit 0 semantics): resume sees a complete film.
        m = resume_run(run)
        assert m.status == "complete"
        now = _state(run)
        old = {k: v2[k] for k in now}
        new = {k: v1[k] for k in now if k != "manifest.json"}
        if now == old:
            outcomes.add("v2")
            assert undo_run(run) == (2, 1)  # and undo still works
        else:
            assert {k: now[k] for k in new} == new, f"a mix of versions after a crash at operation {n}"
            assert json.loads(now["manifest.json"])["version"] == 1
            outcomes.add("v1")
        assert not list((run / versions.TXN).glob("*")), "a transaction folder was left behind"
        shutil.rmtree(run)
        if not crashed:
            break
    assert crash.count > 10 and outcomes == {"v1", "v2"}


@pytest.mark.slow
def test_revision_commit_survives_a_crash_at_every_file_operation(tmp_path, monkeypatch, two_versions):
    """The commit of a revision (five files in one transaction) at every kill point: opening the run
    afterwards gives all five old files or all five new ones."""
    base, v1, _ = two_versions
    run0 = tmp_path / "base"
    shutil.copytree(base, run0)
    undo_run(run0)  # back at version 1, complete
    new = {"script.json": b'{"new": 1}\n', "bible.json": b'{"new": 2}\n', "memory/bank.json": b'{"new": 3}\n',
           "versions/history.json": b"[]\n", "manifest.json": (run0 / "manifest.json").read_bytes()
           .replace(b'"status": "complete"', b'"status": "rendering"')}
    old = {k: (run0 / k).read_bytes() for k in new}
    seen = set()
    for n in range(10_000):
        run = tmp_path / f"c{n}"
        shutil.copytree(run0, run)
        rd = RunDir.open(run)
        crash = CrashAt(monkeypatch, n)
        try:
            versions.commit(rd, versions.stage(rd, "revise-v9", dict(new)))
            crashed = False
        except Crash:
            crashed = True
        finally:
            monkeypatch.undo()
        rd = RunDir.open(run)
        rd.lock()
        versions.recover(rd)
        rd.unlock()
        now = {k: (run / k).read_bytes() for k in new}
        assert now in (old, new), f"a mix of old and new files after a crash at operation {n}"
        seen.add("new" if now == new else "old")
        assert not list((run / versions.TXN).glob("*"))
        shutil.rmtree(run)
        if not crashed:
            break
    assert crash.count > 10 and seen == {"old", "new"}


@pytest.mark.slow
def test_half_removed_committed_transaction_is_not_stuck(tmp_path, two_versions):
    """What the earlier protocol left when killed while removing an applied transaction (only
    ``targets.json``, or part of the blobs): every command used to fail on ``files/0``."""
    base, v1, v2 = two_versions
    for leftover in ("targets-only", "one-blob-gone"):
        run = tmp_path / leftover
        shutil.copytree(base, run)
        ready = run / versions.TXN / "revise-v2.ready"
        (ready / "files").mkdir(parents=True)
        targets = ["script.json", "bible.json", "memory/bank.json", "versions/history.json", "manifest.json"]
        (ready / "targets.json").write_text(json.dumps(targets))
        if leftover == "one-blob-gone":
            for i, rel in enumerate(targets[1:], start=1):
                (ready / "files" / str(i)).write_bytes((run / rel).read_bytes())
        else:
            shutil.rmtree(ready / "files")
        r = _cli("resume", str(run), "--quiet")
        assert r.returncode == 0, r.stderr
        assert _state(run) == {k: v2[k] for k in _state(run)}  # applied already: nothing changes
        r = _cli("undo", str(run))
        assert r.returncode == 0, r.stderr
        assert (run / "film.mp4").read_bytes() == v1["film.mp4"]


# -- a revision killed just after its commit -------------------------------------------------------

REQUEST = f"shot 4: Noon at the fish market in a storm, stalls flapping. {BEN}, holds his hat. Wide shot."


@pytest.fixture(scope="module")
def revised_reference(tmp_path_factory):
    """Version 1 of the harbour film (kept as a pristine copy) and the same film after REQUEST."""
    tmp = tmp_path_factory.mktemp("revref")
    run = render(tmp, ALL_CUTS)
    pristine = tmp / "v1"
    shutil.copytree(run, pristine)
    revise_run(run, REQUEST, yes)
    return pristine, run


def _kill_when(cmd: list[str], ready, *, after: float = 0.0, timeout: float = 300) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.time() + timeout
    try:
        while proc.poll() is None and time.time() < deadline:
            try:
                if ready():
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.002)
        time.sleep(after)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _same_film(a: Path, b: Path) -> None:
    assert sha256_file(a / "film.mp4") == sha256_file(b / "film.mp4")


@pytest.mark.slow
def test_revision_killed_right_after_its_commit_resumes(tmp_path, revised_reference):
    """The checkpoint writer lags behind the nodes (a loaded machine): killed 15 ms after the
    manifest shows version 2, `resume` finishes the revision, then undo and revise work."""
    pristine, ref = revised_reference
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    cmd = [sys.executable, str(REPO / "tests" / "slow_checkpoints.py"), "0.15",
           "revise", str(run), REQUEST, "--yes", "--quiet"]
    _kill_when(cmd, lambda: _manifest(run)["version"] == 2, after=0.015)
    assert _manifest(run)["version"] == 2 and _manifest(run)["status"] != "complete"
    r = _cli("resume", str(run), "--quiet")
    assert r.returncode == 0, r.stdout[-600:] + r.stderr
    _same_film(run, ref)
    r = _cli("undo", str(run))
    assert r.returncode == 0, r.stderr
    _same_film(run, pristine)
    r = _cli("revise", str(run), "reroll 2", "--yes", "--quiet")
    assert r.returncode == 0, r.stderr


def test_checkpoint_behind_the_manifest_resumes(tmp_path, revised_reference):
    """However far the checkpoint lags (here: it still shows the review, or nothing at all), the
    manifest decides: a committed revision is rendered to the end."""
    pristine, ref = revised_reference
    for lag in ("review", "none"):
        run = tmp_path / lag
        shutil.copytree(ref, run)
        m = _manifest(run)
        # Version 2 committed, nothing of it rendered yet, checkpoint at the review (or gone).
        shutil.copytree(pristine / "memory", run / "memory", dirs_exist_ok=True)
        conn = sqlite3.connect(run / "checkpoints.sqlite")
        rows = conn.execute("SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id",
                            (m["thread"],)).fetchall()
        keep = 3 if lag == "review" else 0
        for (cid,) in rows[keep:]:
            conn.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?", (m["thread"], cid))
            conn.execute("DELETE FROM writes WHERE thread_id = ? AND checkpoint_id = ?", (m["thread"], cid))
        conn.commit()
        conn.close()
        m["status"] = "rendering"
        for st in m["shots"]:
            if st["version"] == 2:
                st["status"], st["version"] = "pending", 1
        (run / "manifest.json").write_text(json.dumps(m))
        (run / "film.mp4").unlink()
        for p in run.glob("shots/*.v2*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        m2 = resume_run(run)
        assert m2.status == "complete" and m2.version == 2
        _same_film(run, ref)


# -- creating a run: exclusive, atomic, nothing left by a failed start ----------------------------

def _two_stories(tmp_path: Path) -> tuple[Path, Path]:
    a = story(tmp_path, ALL_CUTS)
    data = json.loads(a.read_text())
    data["story_name"] = "Lighthouse"
    for sc in data["scenes"]:
        sc["video_prompts"] = [p.replace("harbour", "lighthouse") for p in sc["video_prompts"]]
    b = tmp_path / "lighthouse.json"
    b.write_text(json.dumps(data))
    shutil.copyfile(tmp_path / "harbour.bible.json", tmp_path / "lighthouse.bible.json")
    return a, b


def test_the_second_creator_of_a_run_is_refused_whatever_the_timing(tmp_path, monkeypatch):
    """The race made deterministic: the first render is held half-way through creating the run
    (script written, manifest not yet), the second starts then. One run, one story, one refusal.
    (Real processes racing: tests/test_torture.py, and bench/torture.py for the full count.)"""
    import threading

    from agents.backends import BackendOptions
    from agents.director import rundir
    from agents.runs import render_script
    from schemas import RunSettings

    a, b = _two_stories(tmp_path)
    out = tmp_path / "run"
    held, release = threading.Event(), threading.Event()
    real = rundir.save_script
    first = threading.current_thread()

    def save_script(script, path):
        real(script, path)
        if threading.current_thread() is first and not held.is_set():
            held.set()
            release.wait(60)

    monkeypatch.setattr(rundir, "save_script", save_script)
    settings = RunSettings(seed=4, width=160, height=96, num_frames=9)
    errors: list[BaseException] = []

    def first_render():
        try:
            render_script(a, out, settings, BackendOptions(engine="preview"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=first_render)
    first = t
    t.start()
    assert held.wait(60)
    try:
        with pytest.raises(RunError, match="in use by another dailies process|already holds a run"):
            render_script(b, out, settings, BackendOptions(engine="preview"))
    finally:
        release.set()
        t.join(300)
    assert not errors, errors
    m = _manifest(out)
    assert m["source"] == str(a) and m["status"] == "complete"
    assert json.loads((out / "script.json").read_text())["story_name"] == "Harbour"


def test_a_failed_start_leaves_no_folder(tmp_path, monkeypatch):
    """--engine storymem without weights, or a planner that refuses the request: nothing is created,
    so the same --out works as soon as the command is fixed."""
    a, _ = _two_stories(tmp_path)
    env = {"DAILIES_MODELS": "", "HOME": str(tmp_path)}
    out = tmp_path / "s" / "run"
    r = _cli("render", str(a), "--out", str(out), *SMALL[:-2], "--engine", "storymem", env=env)
    _one_line_error(r, "storymem")
    assert not out.exists()
    out = tmp_path / "l" / "run"
    r = _cli("A lighthouse keeper befriends a whale", "--shots", "1000", "--out", str(out), *SMALL, env=env)
    _one_line_error(r, "--shots")
    assert not out.exists() or not any(out.iterdir())
    r = _cli("A lighthouse keeper befriends a whale", "--shots", "3", "--out", str(out), *SMALL, env=env)
    assert r.returncode == 0, r.stderr


def test_a_planner_failure_after_creation_removes_what_it_made(tmp_path, monkeypatch):
    """Whatever fails before the first shot is rendered (here the planner, inside the graph) takes the
    run folder it created with it: re-running the same command then works."""
    from agents.backends import BackendOptions
    from agents.planner.base import PlannerError
    from agents.planner.offline import OfflinePlanner
    from agents.runs import film_from_logline
    from schemas import RunSettings

    def broken(self, *a, **k):
        raise PlannerError("the planner is down")

    settings = RunSettings(seed=1, width=160, height=96, num_frames=9)
    for pre_existing in (False, True):
        out = tmp_path / f"p{pre_existing}" / "run"
        if pre_existing:
            out.mkdir(parents=True)
            (out / ".keep").write_text("mine")
        monkeypatch.setattr(OfflinePlanner, "plan", broken)
        with pytest.raises(PlannerError):
            film_from_logline("A cat learns to fly", out, settings, BackendOptions(engine="preview"), shots=3)
        monkeypatch.undo()
        if pre_existing:
            assert sorted(p.name for p in out.iterdir()) == [".keep"]
        else:
            assert not out.exists()
        m = film_from_logline("A cat learns to fly", out, settings, BackendOptions(engine="preview"), shots=3)
        assert m.status == "complete"


def test_folder_without_manifest_gets_the_same_advice_from_resume_and_render(tmp_path):
    a, _ = _two_stories(tmp_path)
    # 1. What an interrupted creation leaves (script and bible, no manifest): resume says run the
    #    render again, and that works.
    out = tmp_path / "staging"
    out.mkdir()
    shutil.copyfile(a, out / "script.json")
    r = _cli("resume", str(out))
    _one_line_error(r, "render")
    r = _cli("render", str(a), "--out", str(out), *SMALL)
    assert r.returncode == 0, r.stderr
    # 2. Files of something else (a shots folder, a film) but no manifest: both commands say the same
    #    thing, and neither sends the user to the other.
    out = tmp_path / "other"
    (out / "shots").mkdir(parents=True)
    (out / "shots" / "01-01.mp4").write_bytes(b"x")
    shutil.copyfile(a, out / "script.json")
    r1, r2 = _cli("resume", str(out)), _cli("render", str(a), "--out", str(out), *SMALL)
    _one_line_error(r1, "not a run")
    _one_line_error(r2, "not a run")
    assert "render command again" not in r1.stderr and "resume" not in r2.stderr.split("error:", 1)[1]


def test_plan_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "story.json"
    out.write_text("my story")
    r = _cli("plan", "A cat learns to fly", "-o", str(out), "--shots", "3")
    _one_line_error(r, str(out), "--force")
    assert out.read_text() == "my story" and not (tmp_path / "story.bible.json").exists()
    (tmp_path / "b.bible.json").write_text("my bible")
    r = _cli("plan", "A cat learns to fly", "-o", str(tmp_path / "b.json"), "--shots", "3")
    _one_line_error(r, "b.bible.json", "--force")
    r = _cli("plan", "A cat learns to fly", "-o", str(out), "--shots", "3", "--force")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["scenes"]


# -- the engine: what was asked for, what ran, never a silent switch ------------------------------

@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    """A finished run started with --engine auto on a machine without StoryMem weights."""
    from agents.backends import BackendOptions
    from agents.runs import render_script
    from schemas import RunSettings

    tmp = tmp_path_factory.mktemp("auto")
    a = story(tmp, ALL_CUTS)
    render_script(a, tmp / "run", RunSettings(seed=4, width=160, height=96, num_frames=9),
                  BackendOptions(engine="auto", models_dir=None))
    return tmp / "run"


def _unfinish(src: Path, dst: Path, engine: str | None = None) -> Path:
    """A copy of a finished run with its last shot not rendered yet (optionally claiming that the
    finished shots were rendered by ``engine``)."""
    shutil.copytree(src, dst)
    m = _manifest(dst)
    m["status"] = "rendering"
    last = m["shots"][-1]
    last.update(status="pending", outputs={}, input_hash=None)
    if engine:  # as rendered there: the engine's identity is part of every input hash
        m["settings"]["engine"] = engine
        for st in m["shots"][:-1]:
            st["engine"], st["input_hash"] = engine, "0" * 64
    (dst / "manifest.json").write_text(json.dumps(m))
    (dst / "checkpoints.sqlite").unlink()
    return dst


def test_run_records_the_engine_asked_for_and_the_engine_that_ran(auto_run):
    m = _manifest(auto_run)
    assert m["settings"]["engine_requested"] == "auto" and m["settings"]["engine"] == "preview"
    assert {st["engine"] for st in m["shots"]} == {"preview"}


def test_resume_refuses_an_engine_that_is_gone_unless_asked(tmp_path, auto_run):
    run = _unfinish(auto_run, tmp_path / "run", engine="storymem")
    before = (run / "manifest.json").read_bytes()
    env = {"DAILIES_MODELS": "", "HOME": str(tmp_path)}
    r = _cli("resume", str(run), "--quiet", env=env)
    _one_line_error(r, "storymem", "--engine")
    assert (run / "manifest.json").read_bytes() == before
    r = _cli("resume", str(run), "--quiet", "--engine", "preview", env=env)
    assert r.returncode == 0, r.stderr
    r = _cli("resume", str(run), "--quiet", "--engine", "storymem", env=env)  # finished: nothing to switch
    _one_line_error(r, "finished", "--engine storymem")
    m = _manifest(run)
    assert m["status"] == "complete" and {st["engine"] for st in m["shots"]} == {"preview"}
    assert any("--engine preview" in n and "rendered again" in n for n in m["notices"]), m["notices"]
    _same_film(run, auto_run)


def test_resume_keeps_the_engine_the_shots_used_when_another_appears(tmp_path, auto_run, monkeypatch):
    """Started with `auto` when only the preview engine could run; the weights appear later: resume
    still finishes on the preview engine (the StoryMem engine is not even built)."""
    import engine.storymem.engine as sm_engine
    import engine.storymem.loading as loading

    run = _unfinish(auto_run, tmp_path / "run")
    monkeypatch.setattr(loading, "storymem_available", lambda *a, **k: (True, "weights found"))
    monkeypatch.setattr(loading, "resolve_models_dir", lambda *a, **k: tmp_path)

    class Switched(Exception):
        pass

    def built(*a, **k):
        raise Switched("resume built the StoryMem engine for a film rendered on the preview engine")

    monkeypatch.setattr(sm_engine, "StoryMemEngine", built)
    m = resume_run(run)
    assert m.status == "complete" and {st.engine for st in m.shots} == {"preview"}
    _same_film(run, auto_run)


def test_a_kill_while_the_bank_takes_its_reference_images_loses_none(tmp_path, monkeypatch):
    """The memory bank is written once, with every reference image in it: killed while the
    references were being added, resume still starts the film from all of them (MR2V)."""
    from PIL import Image

    from agents.backends import BackendOptions
    from agents.runs import render_script
    from engine.memory import MemoryBank
    from schemas import RunSettings

    a, _ = _two_stories(tmp_path)
    Image.new("RGB", (64, 64), (200, 40, 40)).save(tmp_path / "ada.png")
    bible = json.loads((tmp_path / "harbour.bible.json").read_text())
    bible["characters"][0]["reference_images"] = ["ada.png"]
    (tmp_path / "harbour.bible.json").write_text(json.dumps(bible))
    settings = RunSettings(seed=4, width=160, height=96, num_frames=9)
    ref = tmp_path / "ref"
    render_script(a, ref, settings, BackendOptions(engine="preview"))
    assert any(k.source == "reference" for k in MemoryBank.load(ref).keyframes)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for the kill: the run folder stays, as after a SIGKILL

    run = tmp_path / "run"
    monkeypatch.setattr(MemoryBank, "add_reference", killed)
    with pytest.raises(KeyboardInterrupt):
        render_script(a, run, settings, BackendOptions(engine="preview"))
    monkeypatch.undo()
    m = resume_run(run)
    assert m.status == "complete"
    assert [k.id for k in MemoryBank.load(run).keyframes] == [k.id for k in MemoryBank.load(ref).keyframes]
    _same_film(run, ref)
