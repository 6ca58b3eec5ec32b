"""Where a profiled shot's time goes: read the Chrome traces that ``bench/engine_gpu.py --profile`` writes (one per
rank) and print, per pipeline stage (the ``stage:<name>`` ranges of :meth:`StoryMemPipeline._stage`) and for the
time outside the stages: wall seconds, GPU busy seconds (the union of the kernel intervals), idle seconds, the
kernel time per kind (NCCL, attention, GEMM, convolution, copies and the rest) and the longest kernels.

    python bench/profile_trace.py TRACE.json.gz [TRACE ...] [--top 12] [--json OUT.json]

A stage synchronises the device at both ends, so the kernels that run inside its wall interval are its own.
Times are those of the profiled run (the profiler adds a little CPU overhead per op).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

KINDS = (  # first match wins; regular expressions searched in the lower-case kernel name
    ("nccl", r"nccl"),
    ("attention", r"sdpa|fmha|flash|attn"),  # cuDNN's SDPA graphs (bf16, FP8), FlashAttention-4
    ("copy", r"nchwtonhwc|nhwctonchw"),  # cuDNN's layout transposes, before its convolutions
    # before gemm: cuDNN's convolutions are implicit GEMMs ("sm90_xmma_fprop_implicit_gemm_...", "cutlass__5x_cudnn::
    # ...fprop...", "implicit_convolve_sgemm"); "conv" but not Inductor's "convert_element_type" pointwise kernels
    ("convolution", r"conv(?!ert)|fprop|dgrad|wgrad|winograd|implicit|cudnn"),
    ("gemm", r"gemm|nvjet|cutlass|matmul|_mm_|scaled_mm"),
    ("copy", r"copy|catarray|cat_|memcpy|memset|fill|pad|index|nchwtonhwc|nhwctonchw"),
)


def kind_of(name: str) -> str:
    low = name.lower()
    for kind, pattern in KINDS:
        if re.search(pattern, low):
            return kind
    return "other"


def _union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def load(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        data = json.load(f)
    return data["traceEvents"] if isinstance(data, dict) else data


def analyse(events: list[dict], top: int = 12) -> dict:
    """Per stage (and ``outside``): wall/busy/idle seconds, seconds per kernel kind, the ``top`` kernels."""
    stages = [(e["name"][6:], e["ts"], e["ts"] + e["dur"]) for e in events  # the CPU ranges, not their GPU copies
              if e.get("ph") == "X" and e.get("cat") == "user_annotation" and str(e.get("name", "")).startswith("stage:")]  # fmt: skip
    kernels = [(e["ts"], e["ts"] + e["dur"], e["name"]) for e in events
               if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]  # fmt: skip
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e and e.get("cat") in ("cpu_op", "user_annotation", "python_function")]
    if not spans and not kernels:
        raise ValueError("the trace has no CPU ops or kernels")
    first = min([s[1] for s in stages] + [k[0] for k in kernels] + [e["ts"] for e in spans])
    last = max([s[2] for s in stages] + [k[1] for k in kernels] + [e["ts"] + e["dur"] for e in spans])
    report: dict = {"profiled_s": (last - first) / 1e6, "stages": {}}
    inside: list[tuple[float, float]] = []
    for name, a, b in stages:
        inside.append((a, b))
        report["stages"][name] = _summary([k for k in kernels if a <= k[0] < b], b - a, top)
    outside = [k for k in kernels if not any(a <= k[0] < b for a, b in inside)]
    report["stages"]["outside"] = _summary(outside, (last - first) - _union(inside), top)
    return report


def _summary(kernels, wall_us: float, top: int) -> dict:
    per_kind: dict[str, float] = defaultdict(float)
    per_name: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for a, b, name in kernels:
        per_kind[kind_of(name)] += b - a
        per_name[name][0] += b - a
        per_name[name][1] += 1
    busy = _union([(a, b) for a, b, _ in kernels])
    longest = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:top]
    return {
        "wall_s": round(wall_us / 1e6, 4), "gpu_busy_s": round(busy / 1e6, 4),
        "gpu_idle_s": round(max(wall_us - busy, 0.0) / 1e6, 4), "kernels": len(kernels),
        "kind_s": {k: round(v / 1e6, 4) for k, v in sorted(per_kind.items(), key=lambda kv: -kv[1])},
        "top": [{"name": n[:120], "s": round(v[0] / 1e6, 4), "calls": v[1]} for n, v in longest],
    }  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", type=Path, help="write the reports here too")
    a = parser.parse_args(argv)
    reports = {}
    for path in a.traces:
        report = analyse(load(path), a.top)
        reports[str(path)] = report
        print(f"== {path}: {report['profiled_s']:.3f} s profiled")
        for stage, s in report["stages"].items():
            kinds = ", ".join(f"{k} {v:.3f}" for k, v in s["kind_s"].items())
            print(f"  {stage:24s} wall {s['wall_s']:.3f}  busy {s['gpu_busy_s']:.3f}  idle {s['gpu_idle_s']:.3f}  "
                  f"kernels {s['kernels']}  [{kinds}]")  # fmt: skip
            for t in s["top"][: a.top]:
                print(f"      {t['s']:8.4f} s {t['calls']:6d} x  {t['name']}")
    if a.json:
        a.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
