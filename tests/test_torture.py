"""A sample of the torture test (the full count is ``bench/torture.py``, figures in
docs/BENCHMARKS.md): kill -9 at random points of render, revise and undo, then the next command
exits 0 and the film equals the uninterrupted run's byte for byte; two writers racing into one new
run folder leave one whole run and a one-line refusal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _torture():
    spec = importlib.util.spec_from_file_location("dailies_torture", REPO / "bench" / "torture.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_torture_sample(tmp_path):
    torture = _torture()
    phases = sum(len(sc.phases) for sc in torture.SCENARIOS.values())
    lines: list[str] = []
    result = torture.torture(kills=6, races=2, seed=8, work=tmp_path, log=lines.append)
    s = result["summary"]
    failed = [r for r in result["kills"] if not r["ok"]] + [r for r in result["races"] if not r["ok"]]
    assert not failed, "\n".join(lines)
    assert s["kills"] == 6 and s["ok"] == 6 and s["corrupt_runs"] == 0 and s["races_ok"] == 2
    assert set(s["by_scenario"]) == set(torture.SCENARIOS) and phases >= 10
