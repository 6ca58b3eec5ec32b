"""Torture test: ``kill -9`` dailies at random points of its commands, then run the next command;
every time, that command exits 0 and the film equals an uninterrupted run's, byte for byte, and
``doctor`` finds nothing wrong. Plus two writers racing to create one run: zero corrupt runs.

    python bench/torture.py --kills 36 --races 20          # the full count (docs/BENCHMARKS.md)
    python bench/torture.py --kills 6 --races 2 --seed 1   # a sample (tests/test_torture.py)

How a kill is placed: each scenario (a command on a prepared run) names the phases to aim at, as
events of the ``DAILIES_TRACE`` log (``node render``, ``node commit``, ``txn apply ...``). An
uninterrupted reference run of the scenario measures how often each phase occurs and how long each
occurrence lasts; a kill picks one occurrence at random, waits for its event in the trace, then a
random part of its measured duration, and sends SIGKILL. The event last written before the kill
is recorded as the phase actually hit.

Adding a command: register a :class:`Scenario` with :func:`register`: how to prepare
its run from the reference runs, its command line, the phases to aim at, the command(s) that finish
the job after a kill (``next_command``, called until it returns None) and the film expected then.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
SIZE = ["--size", "160x96", "--frames", "9", "--seed", "4", "--engine", "preview", "--quiet"]
REQUEST = "shot 3: The old fisherman drops his net into a stormy sea, waves crashing. Wide shot, handheld."

ADA = "Ada, a young woman with short red hair, wearing a green raincoat"
BEN = "Ben, an old fisherman with a white beard, wearing a yellow sou'wester"
STORY = {
    "story_name": "Harbour",
    "story_overview": "A day at a harbour.",
    "scenes": [
        {"scene_num": 1, "video_prompts": [
            f"Dawn over a quiet harbour, boats rocking. {BEN}, coils a rope on the pier. Wide shot, slow pan right.",
            f"{ADA}, walks along the pier with a basket. Medium shot, morning light, static camera.",
            f"{BEN}, waves at her from his boat. Medium shot, warm light.",
            f"{BEN}, pulls the boat's rope tight, gulls circling. Close-up, warm light.",
        ], "cut": [True, True, True, False]},
        {"scene_num": 2, "video_prompts": [
            f"Noon at the fish market, crowded stalls and gulls overhead. {ADA}, buys a fish. Wide shot, tracking.",
            f"Sunset on the beach, the sky orange. {BEN}, sits alone by the water. Wide shot, dolly out.",
        ], "cut": [True, True]},
    ],
}
BIBLE = {"characters": [
    {"name": "Ada", "appearance": "a young woman with short red hair", "attire": "a green raincoat"},
    {"name": "Ben", "appearance": "an old fisherman with a white beard", "attire": "a yellow sou'wester"}],
    "cast": {"01-01": ["Ben"], "01-02": ["Ada"], "01-03": ["Ben"], "01-04": ["Ben"], "02-01": ["Ada"],
             "02-02": ["Ben"]}}


def main_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "main.py"), *args]


def env(trace: Path | None = None) -> dict:
    e = {**os.environ, "PYTHONPATH": str(REPO)}
    e.pop("DAILIES_TRACE", None)
    if trace is not None:
        e["DAILIES_TRACE"] = str(trace)
    return e


def run_cli(args: list[str], trace: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env(trace), timeout=900)


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def film_sha(run: Path) -> str | None:
    import hashlib

    p = run / "film.mp4"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None


# -- reference runs -----------------------------------------------------------------------------------
@dataclass
class Refs:
    """Uninterrupted runs every scenario starts from or compares with."""

    root: Path
    script: Path
    runs: dict[str, Path] = field(default_factory=dict)
    """``v1``: the finished first render; ``v2``: the same after REQUEST (both kept pristine)."""
    films: dict[str, str] = field(default_factory=dict)
    """Film SHA-256 by name: ``v1``, ``v2``."""
    traces: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    """The reference trace of each scenario: (time, event)."""


def read_trace(path: Path) -> list[tuple[float, str]]:
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3:
                out.append((float(parts[0]), parts[2]))
    return out


def build_refs(root: Path) -> Refs:
    root.mkdir(parents=True, exist_ok=True)
    script = root / "harbour.json"
    script.write_text(json.dumps(STORY))
    (root / "harbour.bible.json").write_text(json.dumps(BIBLE))
    refs = Refs(root, script)
    for sc in SCENARIOS.values():  # each scenario's uninterrupted run, traced
        run = root / f"ref-{sc.name}" / "run"
        sc.setup(refs, run)
        trace = run.parent / "trace.log"
        r = run_cli(sc.command(refs, run), trace)
        if r.returncode != 0:
            raise SystemExit(f"reference {sc.name} failed: {r.stderr[-800:]}")
        refs.traces[sc.name] = read_trace(trace)
        if sc.after_reference:
            sc.after_reference(refs, run)
    return refs


# -- scenarios ----------------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    phases: tuple[str, ...]
    """Trace events (prefixes) the kills aim at."""
    setup: Callable[[Refs, Path], None]
    """Make the run folder the command works on (a new path, or a copy of a reference run)."""
    command: Callable[[Refs, Path], list[str]]
    next_command: Callable[[Refs, Path, int], list[str] | None]
    """After a kill: the next command to run (step 0, 1, ...; each must exit 0), None when done."""
    expect: Callable[[Refs], str]
    """The film SHA-256 the run must have once the job is finished."""
    after_reference: Callable[[Refs, Path], None] | None = None
    """Keeps what the uninterrupted run made (a reference for later scenarios)."""
    check: Callable[[Refs, Path], str | None] | None = None
    """An extra check after the job is finished (None: fine, else what is wrong)."""


SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    SCENARIOS[scenario.name] = scenario
    return scenario


def _copy(src: str):
    def setup(refs: Refs, run: Path) -> None:
        run.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(refs.runs[src], run)
    return setup


def _keep(name: str):
    def after(refs: Refs, run: Path) -> None:
        keep = refs.root / f"pristine-{name}"
        shutil.copytree(run, keep)
        refs.runs[name], refs.films[name] = keep, film_sha(run)
    return after


def _render_next(refs: Refs, run: Path, step: int) -> list[str] | None:
    if step > 0:
        return None
    if not (run / "manifest.json").exists():  # killed while the run was being created: the same command
        return main_cmd("render", str(refs.script), "--out", str(run), *SIZE)
    return main_cmd("resume", str(run), "--quiet")


def _revise_next(refs: Refs, run: Path, step: int) -> list[str] | None:
    if step == 0:
        return main_cmd("resume", str(run), "--quiet")
    if step == 1 and manifest(run)["version"] == 1:  # killed before the commit: nothing changed, ask again
        return main_cmd("revise", str(run), REQUEST, "--yes", "--quiet")
    return None


def _revise_check(refs: Refs, run: Path) -> str | None:
    r = run_cli(main_cmd("undo", str(run)))
    if r.returncode != 0:
        return f"undo after the revision exited {r.returncode}: {r.stderr.strip()[-300:]}"
    if film_sha(run) != refs.films["v1"]:
        return "undo after the revision did not give version 1's film back"
    return None


def _undo_next(refs: Refs, run: Path, step: int) -> list[str] | None:
    if step == 0:
        return main_cmd("resume", str(run), "--quiet")
    if step == 1 and manifest(run)["version"] == 2:  # killed before the switch: undo again
        return main_cmd("undo", str(run))
    return None


register(Scenario(
    name="render",
    phases=("node render", "node critique", "node update_memory", "node assemble"),
    setup=lambda refs, run: run.parent.mkdir(parents=True, exist_ok=True),
    command=lambda refs, run: main_cmd("render", str(refs.script), "--out", str(run), *SIZE),
    next_command=_render_next,
    expect=lambda refs: refs.films["v1"],
    after_reference=_keep("v1"),
))
register(Scenario(
    name="revise",
    phases=("node propose", "node commit", "node render", "node assemble"),
    setup=_copy("v1"),
    command=lambda refs, run: main_cmd("revise", str(run), REQUEST, "--yes", "--quiet"),
    next_command=_revise_next,
    expect=lambda refs: refs.films["v2"],
    after_reference=_keep("v2"),
    check=_revise_check,
))
register(Scenario(
    name="undo",
    phases=("command undo", "txn commit", "txn apply"),
    setup=_copy("v2"),
    command=lambda refs, run: main_cmd("undo", str(run)),
    next_command=_undo_next,
    expect=lambda refs: refs.films["v1"],
    after_reference=_keep("undone"),
))


def _prune_next(refs: Refs, run: Path, step: int) -> list[str] | None:
    # Killed anywhere: the same prune again finishes it.
    return main_cmd("prune", str(run)) if step == 0 else None


def _prune_check(refs: Refs, run: Path) -> str | None:
    """Version 2 (current before the undo) is pruned: listed as pruned, its film and shots gone,
    version 1 whole (the film equal is checked by the caller, doctor by the caller)."""
    records = json.loads((run / "versions" / "history.json").read_text())
    if not any(r["version"] == 2 and r.get("pruned") for r in records):
        return "history does not list version 2 as pruned"
    if (run / "film_v2.mp4").exists() or list((run / "shots").glob("*.v2.mp4")):
        return "files only version 2 used are still there"
    h = run_cli(main_cmd("history", str(run)))
    if h.returncode != 0 or "pruned" not in h.stdout:
        return f"history after the prune exited {h.returncode} or does not say pruned"
    return None


register(Scenario(
    name="prune",
    phases=("prune start", "prune mark", "prune delete"),
    setup=_copy("undone"),
    command=lambda refs, run: main_cmd("prune", str(run)),
    next_command=_prune_next,
    expect=lambda refs: refs.films["v1"],
    check=_prune_check,
))


# -- one kill ----------------------------------------------------------------------------------------
def occurrences(trace: list[tuple[float, str]], phase: str) -> list[float]:
    """Durations (s) of each occurrence of ``phase`` in a reference trace (until the next event)."""
    out = []
    for i, (t, ev) in enumerate(trace):
        if ev.startswith(phase):
            end = trace[i + 1][0] if i + 1 < len(trace) else t + 0.05
            out.append(max(end - t, 0.001))
    return out


def kill_once(refs: Refs, sc: Scenario, phase: str, work: Path, rng: random.Random) -> dict:
    run = work / "run"
    sc.setup(refs, run)
    trace = work / "trace.log"
    durations = occurrences(refs.traces[sc.name], phase) or [0.05]
    k = rng.randrange(len(durations))
    delay = rng.uniform(0, durations[k])
    proc = subprocess.Popen(sc.command(refs, run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env(trace))
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline:
        if sum(ev.startswith(phase) for _, ev in read_trace(trace)) > k:
            break
        time.sleep(0.002)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    events = read_trace(trace)
    hit = events[-1][1] if events else "(start)"
    rec = {"scenario": sc.name, "aim": phase, "occurrence": k + 1, "delay_ms": round(delay * 1000, 1),
           "killed": killed, "hit": hit, "steps": [], "ok": False}
    for step in range(4):
        cmd = sc.next_command(refs, run, step)
        if cmd is None:
            break
        r = run_cli(cmd)
        rec["steps"].append({"command": " ".join(cmd[2:3]), "rc": r.returncode,
                             "error": r.stderr.strip().splitlines()[-1][:300] if r.returncode else ""})
        if r.returncode != 0:
            return rec
    rec["film_equal"] = film_sha(run) == sc.expect(refs)
    d = run_cli(main_cmd("doctor", str(run)))
    rec["doctor_rc"] = d.returncode
    rec["check"] = sc.check(refs, run) if sc.check and rec["film_equal"] else None
    rec["ok"] = rec["film_equal"] and d.returncode == 0 and rec["check"] is None
    return rec


# -- the race ----------------------------------------------------------------------------------------
def race_once(refs: Refs, work: Path) -> dict:
    """Two renders of different scripts into one new ``--out``, started within a millisecond."""
    other = refs.root / "lighthouse.json"
    if not other.exists():
        data = json.loads(refs.script.read_text())
        data["story_name"] = "Lighthouse"
        for sc in data["scenes"]:
            sc["video_prompts"] = [p.replace("harbour", "lighthouse") for p in sc["video_prompts"]]
        other.write_text(json.dumps(data))
        shutil.copyfile(refs.root / "harbour.bible.json", refs.root / "lighthouse.bible.json")
    out = work / "run"
    work.mkdir(parents=True, exist_ok=True)
    go = work / "go"
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--wait-for", str(go), "render",
                               str(s), "--out", str(out), *SIZE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env()) for s in (refs.script, other)]
    time.sleep(3)
    go.write_text("go")
    results = [p.communicate(timeout=900) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    losers = [r[1].strip() for r in results if r[2] != 0]
    rec = {"codes": codes, "loser": losers[0][-200:] if losers else "", "corrupt": True}
    try:
        m = manifest(out)
        story = json.loads((out / "script.json").read_text())["story_name"]
        winner = refs.script if m["source"] == str(refs.script) else other
        rec["whole"] = story == json.loads(winner.read_text())["story_name"] and m["status"] == "complete"
    except (OSError, ValueError, KeyError) as e:
        rec["whole"], rec["error"] = False, f"{type(e).__name__}: {e}"
    rec["resume_rc"] = run_cli(main_cmd("resume", str(out), "--quiet")).returncode
    rec["doctor_rc"] = run_cli(main_cmd("doctor", str(out))).returncode
    one_line = len(losers) == 1 and len(losers[0].splitlines()) == 1 and "internal error" not in losers[0]
    rec["corrupt"] = not (rec["whole"] and rec["resume_rc"] == 0 and rec["doctor_rc"] == 0)
    rec["ok"] = codes == [0, 2] and one_line and not rec["corrupt"]
    return rec


# -- driver ------------------------------------------------------------------------------------------
def torture(kills: int, races: int, seed: int, work: Path, log=print) -> dict:
    rng = random.Random(seed)
    orders = {sc.name: random.Random(f"{seed}-{sc.name}").sample(sc.phases, len(sc.phases)) for sc in SCENARIOS.values()}

    def rng_plan(i: int):  # scenarios in turn; each one's phases in a shuffled cycle
        scs = list(SCENARIOS.values())
        sc = scs[i % len(scs)]
        return sc, orders[sc.name][(i // len(scs)) % len(sc.phases)]

    t0 = time.time()
    refs = build_refs(work / "refs")
    log(f"reference runs ready ({time.time() - t0:.0f} s): " + ", ".join(f"{k}={v[:12]}" for k, v in refs.films.items()))
    records = []
    for i in range(kills):
        sc, phase = rng_plan(i)
        rec = kill_once(refs, sc, phase, work / f"kill-{i:03d}", rng)
        records.append(rec)
        log(f"kill {i + 1}/{kills}: {sc.name:7s} aim={phase:20s} hit={rec['hit'][:32]:32s} "
            f"{'ok' if rec['ok'] else 'FAILED ' + json.dumps(rec)}")
    race_records = []
    for i in range(races):
        rec = race_once(refs, work / f"race-{i:03d}")
        race_records.append(rec)
        log(f"race {i + 1}/{races}: codes={rec['codes']} {'ok' if rec['ok'] else 'FAILED ' + json.dumps(rec)}")
    summary = {
        "kills": len(records),
        "killed_mid_command": sum(r["killed"] for r in records),
        "recovered_exit_0": sum(all(s["rc"] == 0 for s in r["steps"]) for r in records),
        "film_equal": sum(bool(r.get("film_equal")) for r in records),
        "doctor_clean": sum(r.get("doctor_rc") == 0 for r in records),
        "ok": sum(r["ok"] for r in records),
        "hit_phases": dict(Counter(r["hit"].split(" ")[0] + " " + r["hit"].split(" ")[1] if " " in r["hit"] else r["hit"]
                                   for r in records)),
        "by_scenario": dict(Counter(r["scenario"] for r in records)),
        "races": len(race_records),
        "races_ok": sum(r["ok"] for r in race_records),
        "corrupt_runs": sum(r["corrupt"] for r in race_records),
        "seconds": round(time.time() - t0, 1),
    }
    return {"summary": summary, "kills": records, "races": race_records}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--wait-for"]:  # a racer: import everything, wait for the go-file, run the command
        sys.path.insert(0, str(REPO))
        import main as dailies
        from agents import runs  # noqa: F401
        from cli import commands  # noqa: F401

        go = Path(argv[1])
        deadline = time.time() + 120
        while not go.exists() and time.time() < deadline:
            time.sleep(0.0005)
        return dailies.main(argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=36, help="kill -9 points (default 36)")
    ap.add_argument("--races", type=int, default=20, help="two-writer races (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--json", type=Path, help="write every record here")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="dailies-torture-"))
    try:
        result = torture(args.kills, args.races, args.seed, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    s = result["summary"]
    return 0 if s["ok"] == s["kills"] and s["races_ok"] == s["races"] else 1


if __name__ == "__main__":
    sys.exit(main())
