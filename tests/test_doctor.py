"""`python main.py doctor RUN [--repair]`: every file the manifest names is checked (with its hash);
what is missing or corrupt is said with what will be re-made, and repaired by re-making exactly that
(a keyframe from its shot's video, a shot re-rendered to the same bytes, the film re-assembled...).
`resume` and `revise` repair what they need on their own; nothing ends in "internal error"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agents.doctor import check_run, repair_run
from agents.runs import resume_run, revise_run, undo_run
from schemas.memory import MemorySettings
from story.files import sha256_file
from tests.test_revision import render, yes

REPO = Path(__file__).resolve().parent.parent
MIXED = [True, True, False, True, False, True, False, True]  # 01-03, 02-02 and 03-02 continue their predecessor


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("doc")
    run = render(tmp, MIXED, MemorySettings(max_size=4, sink_size=3))
    return run


def _m(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _files(run: Path) -> dict[str, str]:
    return {p.relative_to(run).as_posix(): sha256_file(p) for p in run.rglob("*")
            if p.is_file() and p.suffix in (".mp4", ".png") and "work" not in p.parts}


def _keyframe_of(run: Path, shot: str) -> str:
    return next(k["path"] for k in json.loads((run / "memory/bank.json").read_text())["keyframes"]
                if k.get("shot_id") == shot)


def damage(run: Path, kind: str) -> str:
    """Break one file; returns its run-relative path."""
    m = _m(run)
    by_id = {s["shot_id"]: s for s in m["shots"]}
    rel = {
        "keyframe": lambda: _keyframe_of(run, "01-02"),
        "video": lambda: by_id["02-01"]["outputs"]["video"],
        "video-corrupt": lambda: by_id["02-01"]["outputs"]["video"],
        "tail": lambda: by_id["01-02"]["outputs"]["tail"][-1],
        "contact-sheet": lambda: "contact_sheet.png",
        "film": lambda: "film.mp4",
        "bank": lambda: "memory/bank.json",
    }[kind]()
    path = run / rel
    if kind in ("video-corrupt", "bank"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    return rel


KINDS = ["keyframe", "video", "video-corrupt", "tail", "contact-sheet", "film", "bank"]
REMEDY = {"keyframe": "re-extract", "video": "re-render shot 02-01", "video-corrupt": "re-render shot 02-01",
          "tail": "re-render shot 01-02", "contact-sheet": "re-make the contact sheet", "film": "film",
          "bank": "versions/v1"}


@pytest.mark.parametrize("kind", KINDS)
def test_doctor_finds_the_damage_and_repairs_exactly_it(tmp_path, finished, kind):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    assert check_run(run).ok
    before = _files(run)
    rel = damage(run, kind)
    report = check_run(run)
    assert not report.ok
    (problem,) = [p for p in report.problems if p.path == rel]
    assert problem.state == ("corrupt" if kind in ("video-corrupt", "bank") else "missing")
    assert REMEDY[kind] in problem.remedy, problem
    mtimes = {p: (run / p).stat().st_mtime_ns for p in before if p != rel and (run / p).exists()}
    repaired = repair_run(run)
    assert repaired.ok, repaired.problems
    assert check_run(run).ok
    assert _files(run) == before  # every file back, byte for byte (the film too)
    touched = {p for p, t in mtimes.items() if (run / p).stat().st_mtime_ns != t}
    expect = {"tail": {p for p in before if p.startswith("shots/01-02")},
              "keyframe": set(), "video": {p for p in before if p.startswith("shots/02-01")}}
    expect["video-corrupt"] = expect["video"]
    if kind in expect:  # exactly what was needed was re-made: no other shot was rendered again
        assert {p for p in touched if p.startswith(("shots/", "memory/"))} <= expect[kind], touched


def test_resume_and_revise_repair_a_missing_keyframe_on_their_own(tmp_path, finished):
    """The issue's case: memory/01-02-k1.png deleted from a finished run. resume, revise, the revision
    that drops that keyframe, and undo all work (exit 0, never an internal error)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*a):
        return subprocess.run([sys.executable, str(REPO / "main.py"), *a], capture_output=True, text=True, env=env)

    for first in ("resume", "revise", "drop"):
        run = tmp_path / first
        shutil.copytree(finished, run)
        film = sha256_file(run / "film.mp4")
        rel = damage(run, "keyframe")
        kid = Path(rel).stem
        if first == "resume":
            r = cli("resume", str(run), "--quiet")
            assert r.returncode == 0, r.stderr
            assert sha256_file(run / "film.mp4") == film and (run / rel).exists()
        elif first == "revise":
            r = cli("revise", str(run), "reroll 8", "--yes", "--quiet")
            assert r.returncode == 0, r.stderr
        else:
            r = cli("revise", str(run), f"drop keyframe {kid}", "--yes", "--quiet")
            assert r.returncode == 0, r.stderr
        assert "internal error" not in r.stderr
        if first != "resume":
            r = cli("undo", str(run))
            assert r.returncode == 0, r.stderr
            assert sha256_file(run / "film.mp4") == film


def test_a_shot_that_renders_differently_is_rerendered_with_what_depends_on_it(tmp_path, finished, monkeypatch):
    """An engine that does not reproduce its bytes (a GPU may not): the damaged shot cannot be
    restored as it was, so it is rendered again as a new take, and the shots whose inputs that
    changes follow (02-02 continues 02-01); the run ends complete and healthy."""
    from engine.preview import PreviewEngine

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    damage(run, "video")
    real = PreviewEngine.render_shot

    def other_take(self, request, progress=None):
        frames = real(self, request, progress=progress)
        return 255 - frames

    monkeypatch.setattr(PreviewEngine, "render_shot", other_take)
    report = repair_run(run)
    assert report.ok, report.problems
    m = _m(run)
    assert m["status"] == "complete"
    changed = [s["shot_id"] for s in m["shots"] if s["outputs"]["video_sha256"] !=
               {t["shot_id"]: t for t in _m(finished)["shots"]}[s["shot_id"]]["outputs"]["video_sha256"]]
    assert changed[0] == "02-01" and "02-02" in changed and "01-01" not in changed
    monkeypatch.undo()
    assert check_run(run).ok


def test_doctor_cli(tmp_path, finished):
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*a):
        return subprocess.run([sys.executable, str(REPO / "main.py"), *a], capture_output=True, text=True, env=env)

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    r = cli("doctor", str(run))
    assert r.returncode == 0 and "no problems" in r.stdout, r.stdout + r.stderr
    rel = damage(run, "video")
    r = cli("doctor", str(run))
    assert r.returncode == 1 and rel in r.stdout and "missing" in r.stdout and "--repair" in r.stdout, r.stdout
    assert "Traceback" not in r.stderr
    r = cli("doctor", str(run), "--repair")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "shot 02-01: rendered again to the same bytes" in r.stdout and (run / rel).exists()
    r = cli("doctor", str(tmp_path / "nope"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_undo_gives_back_the_contact_sheet_too(tmp_path, finished):
    """Found by the torture test: undo restored the manifest (which names the contact sheet's hash)
    but left the newer version's contact sheet in place."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    sheet = (run / "contact_sheet.png").read_bytes()
    revise_run(run, "reroll 8", yes)
    assert (run / "contact_sheet.png").read_bytes() != sheet
    undo_run(run)
    assert (run / "contact_sheet.png").read_bytes() == sheet
    assert check_run(run).ok


def test_a_shot_analysis_deleted_while_the_run_was_stopped_is_extracted_again(tmp_path, finished, monkeypatch):
    """Stopped between keyframe extraction and critique (the checkpoint says `critique` next), then
    work/<shot>/ is deleted: resume extracts it again from the shot's video and ends like an
    uninterrupted run."""
    from agents.backends import BackendOptions
    from agents.director.nodes import DirectorNodes
    from agents.runs import render_script
    from schemas import RunSettings
    from tests.test_revision import story

    class Stop(BaseException):
        pass

    calls = {"n": 0}
    real = DirectorNodes.critique

    def critique(self, state):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Stop()
        return real(self, state)

    monkeypatch.setattr(DirectorNodes, "critique", critique)
    settings = RunSettings(seed=4, memory=MemorySettings(max_size=4, sink_size=3), width=160, height=96, num_frames=17)
    with pytest.raises(Stop):
        render_script(story(tmp_path, MIXED), tmp_path / "run", settings, BackendOptions(engine="preview"))
    monkeypatch.undo()
    run = tmp_path / "run"
    shutil.rmtree(run / "work" / "01-03")
    m = resume_run(run)
    assert m.status == "complete"
    assert sha256_file(run / "film.mp4") == sha256_file(finished / "film.mp4")


def test_damage_nothing_can_repair_is_a_one_line_refusal(tmp_path, finished):
    """A corrupt history (no copy of it is kept): doctor says so, resume and revise refuse in one
    line pointing to doctor, and nothing is changed."""
    from agents.director.rundir import RunError

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    (run / "versions" / "history.json").write_text("{not json")
    report = check_run(run)
    assert [p.path for p in report.unrepairable] == ["versions/history.json"]
    before = (run / "manifest.json").read_bytes()
    for attempt in (lambda: resume_run(run), lambda: revise_run(run, "reroll 8", yes)):
        with pytest.raises(RunError, match="history.json is corrupt.*doctor"):
            attempt()
    assert (run / "manifest.json").read_bytes() == before


def test_an_interrupted_revision_is_a_problem_doctor_and_history_name_with_its_fix(tmp_path, finished, monkeypatch):
    """A user's report: after killing `revise RUN "shot 1: ..." --yes` mid-render, `doctor` said "no
    problems" and `history` listed "v2 (current)" while film.mp4 was still version 1's."""
    from agents.director.nodes import DirectorNodes

    class Killed(BaseException):
        pass

    def killed(self, state):
        raise Killed()

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    film_v1 = sha256_file(run / "film.mp4")
    monkeypatch.setattr(DirectorNodes, "critique", killed)  # stops after the commit, in the first re-render
    with pytest.raises(Killed):
        revise_run(run, "shot 1: Dawn over a stormy harbour, waves breaking on the pier. Wide shot.", yes)
    monkeypatch.undo()
    assert _m(run)["version"] == 2 and _m(run)["status"] != "complete"
    assert sha256_file(run / "film.mp4") == film_v1

    report = check_run(run)
    assert report.ok and report.unfinished and "version 2" in report.unfinished and "version 1's" in report.unfinished
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*a):
        return subprocess.run([sys.executable, str(REPO / "main.py"), *a], capture_output=True, text=True, env=env)

    r = cli("doctor", str(run))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no problems" not in r.stdout and "unfinished" in r.stdout
    assert f"python main.py resume {run}" in " ".join(r.stdout.split()), r.stdout
    r = cli("history", str(run))
    assert r.returncode == 0 and "v2 (current, unfinished)" in r.stdout, r.stdout
    assert f"python main.py resume {run}" in " ".join(r.stdout.split()), r.stdout
    # The fix it names works, and then all is well again.
    r = cli("resume", str(run), "--quiet")
    assert r.returncode == 0, r.stderr
    assert sha256_file(run / "film.mp4") != film_v1
    r = cli("doctor", str(run))
    assert r.returncode == 0 and "no problems" in r.stdout, r.stdout
    r = cli("history", str(run))
    assert "v2 (current)" in r.stdout and "unfinished" not in r.stdout, r.stdout


def test_a_first_render_that_stopped_part_way_is_unfinished_too(tmp_path, finished):
    """The same for version 1: a killed render has no film; doctor says so and names `resume`."""
    from agents.director.rundir import RunDir
    from agents.doctor import unfinished

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    m = _m(run)
    m["status"] = "rendering"
    m["shots"][-1]["status"] = "pending"
    (run / "manifest.json").write_text(json.dumps(m))
    text = unfinished(RunDir.open(run))
    assert text and "1 of 8 shots still to render: 03-03" in text and "no film" in text
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "doctor", str(run)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 1 and "resume" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_a_lost_manifest_is_put_back_from_the_kept_version(finished, tmp_path, capsys, how):
    # Reported: with manifest.json corrupt or deleted every command said "restore it from a backup" or "not a
    # run", though versions/v1/ keeps the manifest of the finished version.
    import main

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    before = (sha256_file(run / "film.mp4"), _files(run))
    manifest = run / "manifest.json"
    if how == "truncated":
        manifest.write_bytes(manifest.read_bytes()[:500])
    else:
        manifest.unlink()
    assert main.main(["doctor", str(run)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"python main.py doctor {run} --repair" in err and "version 1" in err
    assert main.main(["doctor", str(run), "--repair", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "manifest.json put back from version 1" in out
    assert (sha256_file(run / "film.mp4"), _files(run)) == before
    assert main.main(["doctor", str(run)]) == 0 and main.main(["history", str(run)]) == 0


def test_a_corrupt_manifest_with_no_kept_version_still_says_backup(tmp_path, capsys):
    import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{")
    assert main.main(["doctor", str(run)]) == 2
    assert "restore it from a backup" in capsys.readouterr().err
