"""The report written with a film shows the run's final wall time (it said "wall 0.0 s" after every
render and resume: the page was written before the driver added the pass's time to the manifest)."""

from __future__ import annotations

import json
import re

from agents.backends import BackendOptions
from agents.runs import render_script
from schemas import RunSettings
from tests.test_revision import story


def test_report_written_with_the_film_has_the_final_wall_time(tmp_path):
    settings = RunSettings(seed=1, width=160, height=96, num_frames=9)
    render_script(story(tmp_path, [True] * 8), tmp_path / "run", settings, BackendOptions(engine="preview"))
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    shown = re.search(r"wall ([\d.,]+) s", (tmp_path / "run" / "report.html").read_text()).group(1)
    assert m["wall_seconds"] > 0.05 and float(shown.replace(",", "")) == round(m["wall_seconds"], 1)
