"""The re-render forecast a revision shows is exactly what it then renders, for every kind of edit
(moves, deletes, inserts, re-rolls, cuts, keyframe pins and drops, bible and prompt edits) and for a
run with a damaged shot; both come from one definition (issue 8: "move 5 after 2" on an 8-shot film
announced 8 shots and rendered 1)."""

from __future__ import annotations

import json
import shutil

import pytest

from agents.runs import revise_run
from schemas.memory import MemorySettings
from tests.test_revision import ALL_CUTS, render, yes

MIXED = [True, True, False, True, False, True, False, True]
FILMS = {"cuts-mem10": (ALL_CUTS, MemorySettings()), "mixed-mem4": (MIXED, MemorySettings(max_size=4, sink_size=3))}
REQUESTS = [
    "move 5 after 2", "move 2 after 7", "move 8 before 1", "delete 3", "delete 1",
    "insert after 4: A cat sleeps on a barrel. Close-up.", "reroll 3", "cut 7", "continue 4",
    "drop keyframe 01-02-k1", "pin keyframe 01-03-k1", "character Ada: attire = a blue raincoat",
    "shot 6: Sunset on the beach, heavy rain. Wide shot.", "delete 2; move 4 after 6; reroll 8",
]


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    out = {}
    for name, (cuts, memory) in FILMS.items():
        tmp = tmp_path_factory.mktemp(name)
        out[name] = render(tmp, cuts, memory)
    return out


def _rendered(m) -> list[str]:
    return [s.shot_id for s in m.shots if s.version == m.version]


CASES = [("mixed-mem4", r) for r in REQUESTS] + [
    ("cuts-mem10", r) for r in ("move 5 after 2", "delete 1", "insert after 4: A cat sleeps on a barrel. Close-up.",
                                "drop keyframe 01-02-k1", "character Ada: attire = a blue raincoat")]


@pytest.mark.slow
@pytest.mark.parametrize("film, request_", CASES)
def test_forecast_equals_what_is_rendered(tmp_path, films, film, request_):
    run = tmp_path / "run"
    shutil.copytree(films[film], run)
    proposal, approved, m = revise_run(run, request_, yes)
    assert approved and m.status == "complete"
    assert proposal["rerender"] == _rendered(m), request_
    assert set(proposal["reuse"]) == {s.shot_id for s in m.shots} - set(proposal["rerender"])


@pytest.mark.slow
def test_a_shot_whose_video_is_missing_is_forecast_as_rerendered(tmp_path, films):
    run = tmp_path / "run"
    shutil.copytree(films["mixed-mem4"], run)
    m = json.loads((run / "manifest.json").read_text())
    (run / m["shots"][3]["outputs"]["video"]).unlink()  # 02-01
    proposal, approved, m2 = revise_run(run, "reroll 8", yes)
    assert "02-01" in proposal["rerender"] and "02-01" not in proposal["reuse"]
    assert proposal["rerender"] == _rendered(m2)
