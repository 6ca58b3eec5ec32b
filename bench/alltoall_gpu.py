"""The Ulysses all-to-alls of a 2-GPU shot, alone: ``all_to_all_single`` over NCCL at the sizes one self-attention
moves at 832x480x81 with M = 3 (37,440 tokens x 40 heads x 128; each rank holds half the tokens), in bf16 (diffusers'
Ulysses: q, k, v and the output, one call each) and in FP8 (the engine's ``fp8`` kernel: q|k|v packed in one call,
then the FP8 output), under NCCL settings given as environment variables (one process pair per setting).

    python bench/alltoall_gpu.py --out OUT [--gpus 2] [--iters 20] [--settings default,NCCL_P2P_NVL_CHUNKSIZE=1048576]

Writes ``OUT/alltoall_gpu.json`` and one line per measurement: ms per call (CUDA events, mean after warm-ups) and the
bytes each rank sends to the other ranks per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TOKENS, HEADS, HEAD_DIM = 37_440, 40, 128
CALLS = {  # name: (bytes per element, tensors packed in one call)
    "bf16 q (one of four per block)": (2, 1),
    "fp8 q|k|v packed": (1, 3),
    "fp8 output": (1, 1),
}
DEFAULT_SETTINGS = "default,NCCL_P2P_NVL_CHUNKSIZE=1048576,NCCL_MIN_P2P_NCHANNELS=16,NCCL_MIN_P2P_NCHANNELS=32"


def _rank(rank: int, size: int, iters: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size,
                            device_id=torch.device("cuda", rank))  # fmt: skip
    results = {}
    for name, (width, packed) in CALLS.items():
        elements = packed * TOKENS // size * HEADS * HEAD_DIM  # this rank's share
        x = torch.empty(elements * width, dtype=torch.uint8, device="cuda").random_(0, 255)
        y = torch.empty_like(x)
        for _ in range(3):
            dist.all_to_all_single(y, x)
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        dist.barrier()
        start.record()
        for _ in range(iters):
            dist.all_to_all_single(y, x)
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / iters
        sent = x.numel() * (size - 1) / size  # bytes to the other ranks
        results[name] = {"mb_per_rank": round(x.numel() / 1e6, 1), "ms": round(ms, 3), "gb_per_s_sent": round(sent / ms / 1e6, 1)}
    if rank == 0:
        Path(out).write_text(json.dumps(results))
    dist.destroy_process_group()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated: 'default' or NAME=VALUE[;NAME=VALUE]")
    parser.add_argument("--_rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_file", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a._rank is not None:
        _rank(a._rank, a.gpus, a.iters, a._port, a._file)
        return 0
    a.out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, setting in enumerate(a.settings.split(",")):
        env = dict(os.environ)
        if setting != "default":
            env.update(kv.split("=", 1) for kv in setting.split(";"))
        file = a.out / f"a2a-{i}.json"
        port = 29_600 + i
        procs = [subprocess.Popen([sys.executable, __file__, "--out", str(a.out), "--gpus", str(a.gpus), "--iters", str(a.iters),
                                   "--_rank", str(r), "--_port", str(port), "--_file", str(file)], env=env)
                 for r in range(a.gpus)]  # fmt: skip
        codes = [p.wait() for p in procs]
        if any(codes) or not file.exists():
            records.append({"setting": setting, "error": f"exit codes {codes}"})
        else:
            records.append({"setting": setting, "gpus": a.gpus, "calls": json.loads(file.read_text())})
        print(json.dumps(records[-1]), flush=True)
        (a.out / "alltoall_gpu.json").write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
