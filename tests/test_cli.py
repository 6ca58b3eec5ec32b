"""Bad input gets a one-line error naming the problem and the fix, a non-zero exit, no traceback,
and no loss or corruption of earlier work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "story" / "examples"
SMALL = ["--size", "128x80", "--frames", "9", "--quiet", "--engine", "preview"]


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, env={**os.environ, **(env or {})},
    )


def assert_one_line_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_non_json_script(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ this is not json")
    r = run_cli("render", str(bad), "--out", str(tmp_path / "run"), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "bad.json", "not valid JSON", "line 1")
    assert not (tmp_path / "run").exists()


def test_schema_violating_script(tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text(json.dumps({"story_name": "x", "story_overview": "y", "scenes": [
        {"scene_num": 1, "video_prompts": ["a", ""], "cut": [False, True]}]}))
    r = run_cli("render", str(bad), "--out", str(tmp_path / "run"), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "v.json", "scene 1, shot 1", "first shot is a cut", "shot 2", "non-empty")


def test_missing_script(tmp_path):
    r = run_cli("render", str(tmp_path / "nope.json"), "--out", str(tmp_path / "run"), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "nope.json", "not found")


def test_unwritable_out(tmp_path):
    # Works as root too: a path under a regular file can never be created.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(blocker / "run"), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "cannot write", "writable")
    assert blocker.read_text() == "x"


def test_out_is_a_file(tmp_path):
    f = tmp_path / "film"
    f.write_text("keep me")
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(f), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "is a file")
    assert f.read_text() == "keep me"


def test_out_is_a_non_run_folder(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    (d / "holiday.jpg").write_bytes(b"precious")
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(d), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "non-empty folder")
    assert (d / "holiday.jpg").read_bytes() == b"precious"
    assert sorted(p.name for p in d.iterdir()) == ["holiday.jpg"]


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    r = run_cli("resume", str(tmp_path), cwd=tmp_path)
    assert_one_line_error(r, "not a dailies run")
    r = run_cli("resume", str(tmp_path / "missing"), cwd=tmp_path)
    assert_one_line_error(r, "not a folder")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("done")
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(tmp / "run"), *SMALL, cwd=tmp)
    assert r.returncode == 0, r.stderr
    return tmp / "run"


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_schema", "empty"])
def test_corrupted_manifest_is_reported_and_nothing_is_touched(tmp_path, finished_run, damage):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    mpath = run / "manifest.json"
    good = mpath.read_text()
    mpath.write_text({
        "garbage": "\x00\x01 not json",
        "truncated": good[: len(good) // 2],
        "wrong_schema": json.dumps({"run_id": 5}),
        "empty": "",
    }[damage])
    before = _snapshot(run)
    r = run_cli("resume", str(run), cwd=tmp_path)
    assert_one_line_error(r, "manifest.json is corrupt", "nothing was changed")
    assert _snapshot(run) == before


@pytest.mark.slow
@pytest.mark.parametrize("command", [["resume"], ["report"], ["eval"], ["history"], ["undo"], ["prune"], ["doctor"],
                                     ["revise", "{run}", "shot 1: a calm sea", "--yes"]])
def test_every_run_command_refuses_a_truncated_manifest_in_one_line(tmp_path, finished_run, command):
    """The same damage gets the same clean refusal (exit 2, no traceback, nothing touched) from every
    command that opens a run."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "manifest.json").write_bytes((run / "manifest.json").read_bytes()[:500])
    before = _snapshot(run)
    args = [a.format(run=run) for a in command] if len(command) > 1 else [command[0], str(run)]
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert_one_line_error(r, "manifest.json is corrupt", "nothing was changed")
    assert _snapshot(run) == before


def test_existing_run_is_not_overwritten(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = _snapshot(run)
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(run), *SMALL, cwd=tmp_path)
    assert_one_line_error(r, "already holds a run", "resume")
    assert _snapshot(run) == before


@pytest.mark.parametrize("flag", [["--size", "830x480"], ["--size", "big"], ["--frames", "80"]])
def test_bad_flags(tmp_path, flag):
    r = run_cli("render", str(EXAMPLES / "lighthouse.json"), "--out", str(tmp_path / "r"), *flag, cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("quiet", [False, True])
def test_each_notice_is_printed_once(tmp_path, quiet):
    """A user's report: every `render` printed the engine notice twice (live, then again in the
    summary). Each notice is printed once, whether it was shown live or only in the summary."""
    script = tmp_path / "lighthouse.json"
    shutil.copy(EXAMPLES / "lighthouse.json", script)  # no bible beside it: a summary-only notice too
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAILIES_", "OPENAI_"))}
    env["DAILIES_MODELS"] = str(tmp_path / "no-weights")  # --engine auto falls back to the preview, with a notice
    flags = ["--size", "128x80", "--frames", "9", "--engine", "auto"] + (["--quiet"] if quiet else [])
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(script), "--out", str(tmp_path / "run"),
                        *flags], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    notes = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("note:")]
    assert any("engine: using the preview engine" in n for n in notes), r.stdout
    assert any("no bible file" in n for n in notes), r.stdout
    assert len(notes) == len(set(notes)), notes
