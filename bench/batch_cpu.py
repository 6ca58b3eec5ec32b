"""CPU benchmark of ``main.py batch``: Ray's overhead, and 2 preview films at once on 2 cores.

The same N logline films (offline planner, preview engine, heuristic critic) are rendered three
ways, each in a fresh Python process, side by side in one run:

    one-by-one   one process renders the films in order with the batch's worker function
                 (:func:`agents.batch.work.run_film`), no Ray: the baseline;
    cli-each     ``python main.py "LOGLINE"`` once per film, in order: how a person renders films
                 one by one without ``batch`` (each process pays Python's start and imports);
    ray-1        the batch driver on a local Ray cluster started for it (2 CPUs), one film at a
                 time (``--max-parallel 1``): the same work plus everything Ray adds (cluster
                 start and stop, worker processes, task dispatch, the progress actor, the index);
    ray-2        the same with two films at once (one per core).

Ray's overhead = (ray-1 - one-by-one) / ray-1 of the process wall time (against cli-each too). Speed-up of parallel
preview films = ray-1 / ray-2. Each child prints its own breakdown (Ray start, films, Ray stop).

    .venv/bin/python bench/batch_cpu.py [--films 4 --shots 10 --size 832x480 --frames 81 --repeat 1]

Prints the figures and the command that reproduces them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LOGLINES = [
    "A lonely lighthouse keeper befriends a stranded whale",
    "A robot learns to garden on a rooftop in the city",
    "A girl races her grandfather across a frozen lake",
    "A shy baker falls in love with a travelling musician",
    "An old sailor searches for a lost music box in a harbour town",
    "A young astronaut repairs a broken antenna on the moon",
    "A stray dog guides a lost child through a snowy forest",
    "A retired detective delivers a mysterious parcel in Paris at night",
]
VARIANTS = ("one-by-one", "cli-each", "ray-1", "ray-2")


def _settings(args) -> dict:
    from schemas.run import RunSettings

    w, h = (int(x) for x in args.size.split("x"))
    return RunSettings(width=w, height=h, num_frames=args.frames, seed=0).model_dump(mode="json")


def _films(args):
    from agents.batch.inputs import films_from_loglines

    return films_from_loglines(list(enumerate(LOGLINES[: args.films], start=1)))


def child(args) -> dict:
    """Run one variant in this process; return its breakdown."""
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {"engine": "preview"}
    films = _films(args)
    t_imports = time.perf_counter()
    if args.variant == "one-by-one":
        from agents.batch.work import FilmJob, run_film

        per = []
        for f in films:
            job = FilmJob(key=f.key, run_dir=str(out / f.key), source=f.source.model_dump(), settings=_settings(args),
                          options=options, shots=args.shots)
            o = run_film(job)
            assert o.status == "complete", o.reason
            per.append(o.seconds)
        t_end = time.perf_counter()
        return {"variant": args.variant, "imports_s": t_imports - T_START, "films_s": t_end - t_imports,
                "per_film_s": per, "total_s": t_end - T_START, "own_s": own_seconds(out)}

    from agents.batch import driver
    from agents.batch.index import merge, now, save_index, to_run
    from schemas.batch import BatchIndex, BatchInput

    t0 = time.perf_counter()
    started = driver.connect(None, num_cpus=2)
    t_connect = time.perf_counter()
    stamp = now()
    index = merge(out, None, BatchIndex(created_at=stamp, updated_at=stamp, input=BatchInput(kind="loglines"),
                                       settings=_settings(args)), films)
    save_index(out, index)
    run = driver.BatchRun(out=out, settings=_settings(args), options=options, gpus=0,
                          max_parallel=1 if args.variant == "ray-1" else None, shots=args.shots)
    ok = driver.run_batch(index, to_run(index, retry_failed=False), run)
    t_run = time.perf_counter()
    assert ok and all(f.status == "complete" for f in index.films), [(f.key, f.reason) for f in index.films]
    if started:
        driver.shutdown()
    t_end = time.perf_counter()
    return {"variant": args.variant, "own_s": own_seconds(out), "imports_s": t0 - T_START, "ray_start_s": t_connect - t0,
            "films_s": t_run - t_connect, "ray_stop_s": t_end - t_run, "total_s": t_end - T_START,
            "per_film_task_s": [f.task_seconds for f in index.films],
            "per_film_own_s": [f.wall_seconds for f in index.films]}


def own_seconds(folder: Path) -> float:
    """The films' own time: the sum of ``wall_seconds`` in the run manifests under ``folder`` (the
    director's time on each film, the same work in every variant)."""
    return sum(json.loads(m.read_text())["wall_seconds"] for m in Path(folder).glob("*/manifest.json"))


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--films", type=int, default=4)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--size", default="832x480")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the variants (interleaved)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}")
    ap.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not 1 <= args.films <= len(LOGLINES):
        ap.error(f"--films must be 1..{len(LOGLINES)}")
    if args.variant:
        print(json.dumps(child(args)))
        return 0
    chosen = [v for v in VARIANTS if v in args.variants.split(",")]
    if not chosen:
        ap.error(f"--variants: choose from {','.join(VARIANTS)}")

    common = ["--films", str(args.films), "--shots", str(args.shots), "--size", args.size, "--frames", str(args.frames)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"}
    rows: list[dict] = []
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.films} films x {args.shots} shots at {args.size}x{args.frames}")
    with tempfile.TemporaryDirectory(prefix="dailies-batch-bench-") as tmp:
        for r in range(args.repeat):
            for v in chosen:
                load = loadavg()
                t0 = time.perf_counter()
                if v == "cli-each":
                    for n, f in enumerate(LOGLINES[: args.films]):
                        c = subprocess.run([sys.executable, str(REPO / "main.py"), f, "--out", f"{tmp}/{v}-{r}/{n}",
                                            "--shots", str(args.shots), "--size", args.size, "--frames",
                                            str(args.frames), "--seed", "0", "--engine", "preview", "--quiet"],
                                           env=env, capture_output=True, text=True)
                        if c.returncode != 0:
                            print(c.stdout, c.stderr, file=sys.stderr)
                            return 1
                    wall = time.perf_counter() - t0
                    rows.append({"variant": v, "round": r + 1, "wall_s": wall, "load_before": load,
                                 "own_s": own_seconds(Path(f"{tmp}/{v}-{r}"))})
                    print(f"round {r + 1} {v:<10} process wall {wall:7.1f} s  ({args.films} processes; load before "
                          f"{load})", flush=True)
                    continue
                p = subprocess.run([sys.executable, __file__, *common, "--variant", v, "--dir", f"{tmp}/{v}-{r}"],
                                   env=env, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                if p.returncode != 0:
                    print(p.stdout, p.stderr, file=sys.stderr)
                    return 1
                rec = json.loads(p.stdout.strip().splitlines()[-1])
                rec.update(round=r + 1, wall_s=wall, load_before=load)
                rows.append(rec)
                extra = (f"  ray start {rec['ray_start_s']:.1f} s, films {rec['films_s']:.1f} s, ray stop "
                         f"{rec['ray_stop_s']:.1f} s" if "ray_start_s" in rec else f"  films {rec['films_s']:.1f} s")
                print(f"round {r + 1} {v:<10} process wall {wall:7.1f} s  (films' own {rec['own_s']:.1f} s; imports "
                      f"{rec['imports_s']:.1f} s{extra}; load before {load})", flush=True)
    for r in range(1, args.repeat + 1):
        by = {x["variant"]: x for x in rows if x["round"] == r}
        wall = {v: x["wall_s"] for v, x in by.items()}
        if {"one-by-one", "ray-1"} <= set(by):
            base, r1 = wall["one-by-one"], wall["ray-1"]
            fixed = by["ray-1"]["ray_start_s"] + by["ray-1"]["ray_stop_s"]
            print(f"round {r}: Ray overhead {100 * (r1 - base) / r1:.1f} % of the wall time against one-by-one "
                  f"({r1 - base:+.1f} s, of which Ray start + stop {fixed:.1f} s)")
            # Time outside the films' own work, within each process: robust to other load on the machine,
            # which slows the films' own work and the rest alike within one run.
            extra = {v: x["wall_s"] - x["own_s"] for v, x in by.items() if v != "ray-2"}
            added = extra["ray-1"] - extra["one-by-one"]
            print(f"round {r}: time outside the films' own work: "
                  + ", ".join(f"{v} {e:.1f} s" for v, e in extra.items())
                  + f" -> Ray adds {added:.1f} s = {100 * added / r1:.1f} % of ray-1's wall time")
        if {"ray-1", "ray-2"} <= set(by):
            print(f"round {r}: 2 films at once: {wall['ray-1'] / wall['ray-2']:.2f}x faster than ray-1"
                  + (f", {wall['one-by-one'] / wall['ray-2']:.2f}x faster than one-by-one" if "one-by-one" in wall
                     else ""))
    print("command:", shlex.join([sys.executable, "bench/batch_cpu.py", *common, "--repeat", str(args.repeat),
                                  "--variants", ",".join(chosen)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
