"""Reference images keep their shape: the shot size follows the first reference when --size is not given
(as StoryMem's memory2video does), otherwise references are centre-cropped; the run says which."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from engine.framing import centre_crop_box, reference_framing, size_for_aspect

REPO = Path(__file__).resolve().parent.parent


def _reference_rule(w: int, h: int, area: int = 832 * 480) -> tuple[int, int]:
    """wan/memory2video.py: lat_h = round(sqrt(max_area * h/w)) // 8 // 2 * 2, h = lat_h * 8 (same for w)."""
    ar = h / w
    lat_h = round(math.sqrt(area * ar)) // 8 // 2 * 2
    lat_w = round(math.sqrt(area / ar)) // 8 // 2 * 2
    return lat_w * 8, lat_h * 8


@pytest.mark.parametrize("w, h", [(832, 480), (1024, 1024), (720, 1280), (1920, 1080), (640, 480), (333, 777)])
def test_size_follows_the_reference_rule(w, h):
    assert size_for_aspect(w, h) == _reference_rule(w, h)
    out_w, out_h = size_for_aspect(w, h)
    assert out_w % 16 == 0 and out_h % 16 == 0 and out_w * out_h <= 832 * 480


def test_centre_crop_box():
    assert centre_crop_box(1000, 480, 832, 480) == (84, 0, 916, 480)
    assert centre_crop_box(1024, 1024, 832, 480) == (0, 216, 1024, 807)
    assert centre_crop_box(832, 480, 832, 480) == (0, 0, 832, 480)


def _png(path: Path, w: int, h: int) -> Path:
    PIL.Image.fromarray(np.full((h, w, 3), 128, dtype=np.uint8)).save(path)
    return path


def test_reference_framing_says_which(tmp_path):
    square, wide = _png(tmp_path / "mia.png", 1024, 1024), _png(tmp_path / "tom.png", 1600, 900)
    size, note = reference_framing([square, wide], None)
    assert size == (624, 624) and "taken from the first reference image mia.png" in note and "tom.png centre-cropped" in note
    size, note = reference_framing([square], (832, 480))
    assert size == (832, 480) and "mia.png (1024x1024) centre-cropped" in note and "never squashed" in note
    assert reference_framing([_png(tmp_path / "same.png", 1664, 960)], (832, 480)) == ((832, 480), None)
    assert reference_framing([], None) == ((832, 480), None)


def _story(tmp_path: Path) -> Path:
    script = {"story_name": "Mia", "story_overview": "Mia walks on a beach.",
              "scenes": [{"scene_num": 1, "video_prompts": ["Mia, a girl in a red coat, walks on a beach. Wide shot."],
                          "cut": [True]}]}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(script))
    _png(tmp_path / "mia.png", 600, 800)
    bible = {"characters": [{"name": "Mia", "appearance": "a girl", "attire": "a red coat", "reference_images": ["mia.png"]}]}
    (tmp_path / "s.bible.json").write_text(json.dumps(bible))
    return tmp_path / "s.json"


@pytest.mark.slow
@pytest.mark.parametrize("size, expected, words", [(None, (544, 720), "taken from the first reference image"),
                                                   ("320x192", (320, 192), "centre-cropped")])
def test_a_run_with_references_is_framed_and_says_so(tmp_path, size, expected, words):
    story = _story(tmp_path)
    flags = ["--size", size] if size else []
    r = subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(story), "--out", str(tmp_path / "run"),
                        "--engine", "preview", "--frames", "9", "--quiet", *flags],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (m["settings"]["width"], m["settings"]["height"]) == expected
    assert any(words in n for n in m["notices"])
    assert words in " ".join(r.stdout.split())
