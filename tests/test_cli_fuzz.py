"""Property test of the command line: generated flags for every subcommand and generated ST-Bench-like
scripts (odd values, extra keys, JSON5, junk) through the parser and the validation layer. Every case is
accepted or refused in one line (exit 2), never an internal error, and a refusal never leaves a file or
folder behind. bench/fuzz.py runs the same generator for 10,000+ cases."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import main
from tests.strategies import Paths, argv, run_case

REPO = Path(__file__).resolve().parent.parent
TWO_SHOTS = {"story_name": "Two", "story_overview": "Two shots.", "scenes": [
    {"scene_num": 1, "video_prompts": ["Mia walks on the beach at dawn. Wide shot.", "Mia waves. Close-up."],
     "cut": [True, False]}]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[str, ...]:
    """A finished tiny run, and a copy whose stored settings this version refuses (frames 5 with MM2V)."""
    root = tmp_path_factory.mktemp("runs")
    story = root / "two.json"
    story.write_text(json.dumps(TWO_SHOTS))
    done = root / "done"
    code = main.main(["render", str(story), "--out", str(done), "--size", "32x32", "--frames", "5", "--quiet",
                      "--engine", "preview"])
    assert code == 0
    old = root / "old"
    shutil.copytree(done, old)
    m = json.loads((old / "manifest.json").read_text())
    m["settings"].update(num_frames=5, continuation="mm2v")
    m["status"] = "rendering"
    (old / "manifest.json").write_text(json.dumps(m))
    return str(done), str(old)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_command_lines_are_accepted_or_refused_in_one_line(runs, data):
    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths.make(Path(tmp), runs)
        case = data.draw(argv(paths))
        outcome, message = run_case(Path(tmp), case)
        assert outcome in ("accepted", "refused") and "\n" not in message


def test_stored_settings_this_version_refuses_are_one_line(runs, capsys):
    done, old = runs
    assert main.main(["resume", old, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err
    assert f"{Path(old).resolve()} was created with --frames 5" in err and "at least 9" in err
