"""CPU cost of the critic's face identity check (dlib), alone and inside the whole product path.

    .venv/bin/python bench/identity_cpu.py [--runs 1]

Prints: the model load time, detection + embedding per 832x480 image with no face (a preview frame) and
with one face (scikit-image's astronaut placed in the frame), and the wall time of
``python main.py "LOGLINE"`` (10 preview shots at 832x480x81) with the check on and off
(``DAILIES_NO_IDENTITY=1``), and the commands that reproduce them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.scoring.faces import DlibFaces  # noqa: E402

LOGLINE = "A lonely lighthouse keeper befriends a stranded whale"


def _per_image(faces: DlibFaces, img: np.ndarray, n: int = 5) -> float:
    faces.faces(img)
    t = time.perf_counter()
    for _ in range(n):
        faces.faces(img)
    return (time.perf_counter() - t) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="whole-path runs per setting")
    args = ap.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    t = time.perf_counter()
    faces = DlibFaces()
    faces._load()
    print(f"model load (detector + landmarks + ResNet): {time.perf_counter() - t:.2f} s")
    blank = np.zeros((480, 832, 3), np.uint8)
    blank[:] = (40, 60, 90)
    astro = Path(list(importlib.util.find_spec("skimage").submodule_search_locations)[0]) / "data" / "astronaut.png"
    face = blank.copy()
    face[:, 160:640] = np.asarray(Image.open(astro).convert("RGB").resize((480, 480)))
    print(f"832x480, no face: {_per_image(faces, blank) * 1000:.0f} ms per image; "
          f"one face: {_per_image(faces, face) * 1000:.0f} ms per image ({len(faces.faces(face))} face)")
    for label, env in (("identity on", {}), ("identity off", {"DAILIES_NO_IDENTITY": "1"})):
        for i in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                r = subprocess.run([sys.executable, str(REPO / "main.py"), LOGLINE, "--out", f"{tmp}/run", "--quiet"],
                                   env={**os.environ, **env}, capture_output=True, text=True)
                wall = time.perf_counter() - t
                assert r.returncode == 0, r.stderr
                print(f"python main.py \"{LOGLINE}\" --quiet, {label}, run {i + 1}: {wall:.1f} s")
    print(f"reproduce: {sys.executable} bench/identity_cpu.py --runs {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
