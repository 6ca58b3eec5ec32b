"""Deviation of the lossy arithmetic from ``exact`` for one Wan2.2-A14B forward at full size (issue 9): random bf16
weights, M = 3 memory latent frames (37,440 tokens), eager. The same model is measured three times on the same
inputs: ``exact`` (bf16, diffusers' cuDNN SDPA), then with the ``fp8`` self-attention installed, then also with the
FP8 linear layers (= ``fast``'s arithmetic; ``turbo`` adds its LoRA and sampler). Relative L2 of the output.

    python bench/deviation_gpu.py --out /tmp/dev
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    from bench.engine_gpu import Dims, random_transformer
    from engine.storymem.attention import install_attention
    from engine.storymem.deviation import forward_inputs, relative_l2
    from engine.storymem.fp8 import quantize_linears

    dims = Dims(tiny=False)
    torch.manual_seed(1)
    model = random_transformer(dims, torch.device("cuda"), torch.bfloat16)
    model.set_attention_backend("_native_cudnn")
    inputs = forward_inputs(model, 3 + dims.latent_frames, dims.latent_h, dims.latent_w, seed=0)
    results = {"date": time.strftime("%Y-%m-%d"), "device": torch.cuda.get_device_name(), "tokens": dims.tokens(3)}

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return model(**inputs, return_dict=False)[0].float().cpu()

    exact = forward()
    install_attention(model, "fp8", None)
    results["fp8 self-attention only"] = relative_l2(forward(), exact)
    quantize_linears(model, "scaled_mm")
    results["fast arithmetic (fp8 attention + fp8 linears)"] = relative_l2(forward(), exact)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deviation_gpu.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
