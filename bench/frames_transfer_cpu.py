"""How a worker process hands a shot's frames to the driver (engine/storymem/parallel.py): a numpy array pickled
through a multiprocessing queue against a torch tensor, which torch sends in shared memory (a file descriptor).

One shot at 832x480x81 is 97 MB of uint8 frames. Spawned worker, as MultiGpuEngine's (whose driver has torch imported,
as here); one shot at a time (the worker waits for the driver's ack); each figure is the seconds from the worker's
``put`` to the driver holding the array.

    python bench/frames_transfer_cpu.py --shots 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import numpy as np


def _worker(results, acks, kind: str, shots: int, shape) -> None:
    import torch

    for seed in range(shots):
        frames = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
        payload = frames if kind == "numpy" else torch.from_numpy(frames)
        results.put((time.perf_counter(), payload))
        acks.get()  # the driver has it (a shared tensor's sender must be alive while the driver takes it)


def measure(kind: str, shots: int, shape) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    results, acks = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_worker, args=(results, acks, kind, shots, shape))
    proc.start()
    seconds = []
    for _ in range(shots):
        sent, payload = results.get()
        frames = payload if kind == "numpy" else payload.numpy()
        seconds.append(round(time.perf_counter() - sent, 3))
        assert frames.shape == tuple(shape)
        acks.put(True)
    proc.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import torch  # noqa: F401 - the driver of MultiGpuEngine has it imported

    shape = (81, 480, 832, 3)
    for round_ in range(args.rounds):
        for kind in ("numpy", "torch"):
            print(json.dumps({"round": round_, "payload": kind, "mb": round(np.prod(shape) / 1e6, 1), "seconds": measure(kind, args.shots, shape)}), flush=True)


if __name__ == "__main__":
    main()
