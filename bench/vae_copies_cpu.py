"""diffusers' Wan VAE decode/encode (``cat`` then ``F.pad`` before every causal conv) against the same loop with
one-copy convs (engine/storymem/one_copy_conv.py, what engine/storymem/vae_chunks.py runs), on the CPU, float32,
random weights, the Wan 2.1 VAE architecture (``--vae wan2.1``) or the tiny test VAE. Prints best-of-``--repeat``
seconds and the ``cat``/``constant_pad_nd`` calls of one call, as JSON. The GPU figure comes from bench/profile_trace.py.

    python bench/vae_copies_cpu.py --vae wan2.1 --latent 1x16x3x12x16 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = {"cat": 0, "constant_pad_nd": 0}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func).split(".")[1]
        if name in self.calls and not out.is_meta:  # meta tensors: the one-copy buffers' layouts, no copies
            self.calls[name] += 1
        return out


def _best(call, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    from engine.storymem import vae_chunks
    from engine.storymem.testing import tiny_vae, wan21_vae

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", choices=["wan2.1", "tiny"], default="wan2.1")
    parser.add_argument("--latent", default="1x16x3x12x16", help="B x z x f x h x w")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vae = wan21_vae() if args.vae == "wan2.1" else tiny_vae()
    latents = torch.randn(*map(int, args.latent.split("x")), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        video = vae.decode(latents).sample.clamp(-1, 1)
        calls = {
            "decode diffusers": lambda: vae.decode(latents),
            "decode one-copy": lambda: vae_chunks.decode(vae, latents),
            "encode diffusers": lambda: vae.encode(video),
            "encode one-copy": lambda: vae_chunks.encode(vae, video),
        }
        report = {"vae": args.vae, "latents": list(latents.shape), "video": list(video.shape), "threads": args.threads}
        for name, call in calls.items():
            with _Count() as count:
                call()
            report[name] = {"seconds": round(_best(call, args.repeat), 4), **count.calls}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
