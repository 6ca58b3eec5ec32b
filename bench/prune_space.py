"""Disk space of a film's versions, and what ``prune`` gives back.

Renders the lighthouse example (``story/examples/lighthouse.json``) on the preview engine, applies
ten revisions through the offline command grammar (prompts, replace, reroll, a bible change, an
insert, a delete, cut flags), then runs ``prune`` (default ``--keep 1``: the current version and the
one ``undo`` returns to stay whole). Prints the run's size after the render, after the revisions and
after the prune, the bytes ``prune`` reported and its wall time.

    .venv/bin/python bench/prune_space.py [--size 832x480] [--frames 81] [--keep 1] [--out DIR]

The full kill-anywhere sweep of prune (every step of it, not the sample the tests take) is
``DAILIES_PRUNE_KILLS=all python -m pytest tests/test_prune.py -k any_step``.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.backends import BackendOptions  # noqa: E402
from agents.director.prune import prune_run  # noqa: E402
from agents.runs import render_script, revise_run  # noqa: E402
from schemas import RunSettings  # noqa: E402

REVISIONS = [
    "shot 2: Heavy rain lashes the lighthouse lantern room; Elias polishes the lens as water streams down the glass. "
    "Medium shot.",
    'replace "dawn" with "stormy dusk"',
    "reroll 5",
    "character Elias: attire = a red wool sweater and a yellow oilskin coat",
    "insert after 03-01: The whale dives beneath a wave; foam glitters in the golden light. Wide shot, slow pan.",
    "cut 3",
    "reroll 8",
    'replace "golden" with "amber"',
    "delete 4",
    "shot 1: A storm rolls over the rocky island at night; lightning reveals the white lighthouse. Wide shot.",
]


def size(run: Path) -> int:
    return sum(p.stat().st_size for p in run.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="832x480")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--keep", type=int, default=1)
    ap.add_argument("--out", type=Path, help="run folder to create (default: a temporary one)")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    out = args.out or Path(tempfile.mkdtemp(prefix="prune-bench-")) / "run"
    settings = RunSettings(seed=0, width=w, height=h, num_frames=args.frames)
    t0 = time.perf_counter()
    render_script(ROOT / "story/examples/lighthouse.json", out, settings, BackendOptions(engine="preview"))
    rendered = size(out)
    print(f"render: {rendered} bytes ({time.perf_counter() - t0:.1f} s)", flush=True)
    for i, request in enumerate(REVISIONS, 1):
        t = time.perf_counter()
        _, approved, m = revise_run(out, request, lambda p: True)
        assert approved and m.status == "complete", (request, m.status)
        print(f"revision {i} (v{m.version}): {size(out)} bytes ({time.perf_counter() - t:.1f} s) {request[:50]!r}",
              flush=True)
    revised = size(out)
    t = time.perf_counter()
    report = prune_run(out, keep=args.keep)
    seconds = time.perf_counter() - t
    after = size(out)
    print(f"\ndevice: {platform.processor() or platform.machine()}, {platform.system()} (CPU, preview engine)")
    print(f"command: {' '.join(shlex.quote(a) for a in ['python', *sys.argv])}")
    print(f"| {w}x{h}x{args.frames}, 10 revisions | bytes |")
    print("|---|---|")
    print(f"| after the render (v1) | {rendered} ({rendered / 1e6:.1f} MB) |")
    print(f"| after 10 revisions (v11) | {revised} ({revised / 1e6:.1f} MB) |")
    print(f"| freed by `prune --keep {args.keep}` (reported) | {report.bytes_freed} ({report.bytes_freed / 1e6:.1f} MB), "
          f"{len(report.files)} files, versions {report.pruned} pruned, {report.kept} kept, {seconds:.2f} s |")
    print(f"| after the prune | {after} ({after / 1e6:.1f} MB) |")
    print(f"run: {out}")


if __name__ == "__main__":
    main()
