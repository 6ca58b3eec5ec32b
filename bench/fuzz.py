"""Fuzz the command line: generated flags for every subcommand and generated ST-Bench-like scripts through
the parser and the validation layer, in-process (tests/strategies.py, the generator the property test
uses). Every case must be accepted or refused in one line without touching the disk; anything else is a
failure, printed with its case. ``--renders N`` also runs N accepted ``render`` cases for real at tiny
sizes (preview engine) and a third of them as revise/resume/history/undo on a copy of a finished run; each must
end with exit 0 or 2, never 1 (an internal error).

    PYTHONPATH=. python bench/fuzz.py --cases 10000 [--renders 30] [--seed 1]

Prints the counts (accepted / refused / failures), the most common refusals and the wall time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as seed_
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import main  # noqa: E402
from tests.strategies import Paths, argv, run_case  # noqa: E402

TWO_SHOTS = {"story_name": "Two", "story_overview": "Two shots.", "scenes": [
    {"scene_num": 1, "video_prompts": ["Mia walks on the beach at dawn. Wide shot.", "Mia waves. Close-up."],
     "cut": [True, False]}]}


def _runs(root: Path) -> tuple[str, ...]:
    root.mkdir(parents=True)
    story = root / "two.json"
    story.write_text(json.dumps(TWO_SHOTS))
    done = root / "done"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main.main(["render", str(story), "--out", str(done), "--size", "32x32", "--frames", "5", "--quiet",
                          "--engine", "preview"]) == 0
    old = root / "old"
    shutil.copytree(done, old)
    m = json.loads((old / "manifest.json").read_text())
    m["settings"].update(num_frames=5, continuation="mm2v")
    (old / "manifest.json").write_text(json.dumps(m))
    return str(done), str(old)


def _reason(err: str) -> str:
    """A refusal reduced to its kind (the flag or the first words), for the summary."""
    line = err.strip() or "?"
    if line.startswith("/") or line.startswith("bad"):
        line = line.split(" ", 1)[-1]  # a path first: keep what follows
    return line.split(":")[0][:60] if not line.startswith("--") else " ".join(line.split(":")[0].split()[:1])


def fuzz(cases: int, seed: int, runs: tuple[str, ...], work: Path) -> dict:
    outcomes: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    failures: list[tuple[list, str]] = []
    accepted_renders: list = []

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one(data):
        tmp = Path(tempfile.mkdtemp(dir=work))
        try:
            paths = Paths.make(tmp, runs)
            case = data.draw(argv(paths))
            try:
                with contextlib.redirect_stderr(io.StringIO()):
                    outcome, message = run_case(tmp, case)
            except BaseException:  # noqa: BLE001 -- a failure is any exception: we record it and go on
                failures.append((case[0], traceback.format_exc(limit=3)))
                outcomes["failure"] += 1
                return
            outcomes[outcome] += 1
            if outcome == "refused":
                reasons[_reason(message)] += 1
            elif case[0][0] in ("render", "revise", "resume", "history", "undo") and len(accepted_renders) < 5000:
                accepted_renders.append(case)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    seed_(seed)(one)()
    return {"outcomes": outcomes, "reasons": reasons, "failures": failures, "accepted": accepted_renders}


def real_renders(accepted: list, n: int, work: Path) -> tuple[collections.Counter, list]:
    """Run up to ``n`` accepted cases for real: ``render`` at tiny sizes (size, frames and engine forced),
    and ``revise``/``resume``/``history``/``undo`` on a copy of the run they name."""
    codes: collections.Counter = collections.Counter()
    bad = []
    renders = [c for c in accepted if c[0][0] == "render"]
    others = [c for c in accepted if c[0][0] != "render"]
    picked = renders[: n - n // 3] + others[: n // 3]
    for args_list, script, bible in picked:
        tmp = Path(tempfile.mkdtemp(dir=work))
        try:
            if args_list[0] != "render":
                cmd = list(args_list)
                if Path(cmd[1]).is_dir() and (Path(cmd[1]) / "manifest.json").exists():
                    shutil.copytree(cmd[1], tmp / "run")
                    cmd[1] = str(tmp / "run")
                err = io.StringIO()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    code = main.main(cmd + (["--quiet"] if cmd[0] in ("resume", "revise") and "--quiet" not in cmd else []))
                codes[code] += 1
                if code not in (0, 2) or "internal error" in err.getvalue():
                    bad.append((cmd, err.getvalue()[-500:]))
                continue
            (tmp / "story.json").write_bytes(script if isinstance(script, bytes) else (script or "").encode())
            if bible is not None:
                (tmp / "story.bible.json").write_text(bible)
            keep = []
            skip = False
            for a in args_list:
                if skip:
                    skip = False
                    continue
                if a in ("--size", "--frames", "--engine", "--out"):
                    skip = True
                    continue
                keep.append(a)
            keep[1] = str(tmp / "story.json") if keep[1].endswith("story.json") else keep[1]
            cmd = keep + ["--size", "32x32", "--frames", "9", "--engine", "preview", "--quiet", "--out", str(tmp / "r")]
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = main.main(cmd)
            codes[code] += 1
            if code not in (0, 2) or "internal error" in err.getvalue():
                bad.append((cmd, err.getvalue()[-500:]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return codes, bad


def cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--renders", type=int, default=0,
                    help="accepted cases to run for real: renders at tiny sizes, a third revise/resume/history/undo")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dailies-fuzz-"))
    os.environ.pop("DAILIES_LLM_MODEL", None)
    os.environ.pop("DAILIES_VLM_MODEL", None)
    try:
        t0 = time.perf_counter()
        runs = _runs(work / "runs")
        res = fuzz(a.cases, a.seed, runs, work)
        seconds = time.perf_counter() - t0
        o = res["outcomes"]
        print(f"cases: {sum(o.values())}  accepted: {o['accepted']}  refused: {o['refused']}  "
              f"failures: {o['failure']}  ({seconds:.0f} s, {sum(o.values()) / seconds:.0f} cases/s)")
        print("most common refusals:")
        for reason, n in res["reasons"].most_common(25):
            print(f"  {n:6d}  {reason}")
        for case, tb in res["failures"][:20]:
            print(f"FAILURE {case!r}\n{tb}")
        if a.renders:
            t1 = time.perf_counter()
            codes, bad = real_renders(res["accepted"], a.renders, work)
            print(f"real runs: {sum(codes.values())} (exit codes {dict(codes)}), {len(bad)} failures, "
                  f"{time.perf_counter() - t1:.0f} s")
            for cmd, tail in bad:
                print(f"RENDER FAILURE {cmd!r}\n{tail}")
        return 1 if o["failure"] or (a.renders and bad) else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cli())
