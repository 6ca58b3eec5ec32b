"""Patch-parallel VAE decode and encode over NCCL (engine/storymem/parallel_vae.py): the tiny Wan VAE in float32
with the engine's channels-last weights, decoded (encoded) by 2 (and 4) GPUs in row bands, equals the one-GPU
decode (encode) within 1e-4 (cuDNN picks its conv algorithm by the input's shape, so bands may sum in another
order; TF32 is off). The CPU twin over gloo, bit for bit, is tests/test_storymem_parallel_vae.py.
``python -m pytest -m gpu tests/gpu``."""

from __future__ import annotations

import os

import pytest
import torch

pytestmark = pytest.mark.gpu

LATENTS = (1, 16, 3, 12, 16)  # (B, z, f, h, w): 9 frames of 96 x 128; 12 rows split into 2 and 4 bands


def _vae(device):
    from engine.storymem.engine import channels_last_3d
    from engine.storymem.testing import tiny_vae

    torch.backends.cudnn.allow_tf32 = False
    vae = tiny_vae().to(device)
    channels_last_3d(vae)
    return vae


def _latents(device) -> torch.Tensor:
    return torch.randn(*LATENTS, generator=torch.Generator().manual_seed(1)).to(device)


VIDEO = (1, 3, 9, 96, 128)  # (B, 3, F, H, W): 96 rows split into 2 and 4 bands that stay even at 3 downsamples


def _video(device) -> torch.Tensor:
    """A first frame then zero frames (the MI2V video condition), pixels in [-1, 1]."""
    video = torch.zeros(VIDEO)
    video[:, :, 0] = torch.rand(1, 3, *VIDEO[3:], generator=torch.Generator().manual_seed(2)) * 2 - 1
    return video.to(device)


def _split(direction: str, device) -> torch.Tensor:
    """This rank's result of the patch-parallel ``direction``: the whole video (decode, (1, 3, 9, 96, 128)) or the
    whole latent distribution's parameters (encode, (1, 32, 3, 12, 16))."""
    from engine.storymem.parallel_vae import patch_parallel_decode, patch_parallel_encode

    if direction == "decode":
        return patch_parallel_decode(_vae(device), _latents(device))
    return patch_parallel_encode(_vae(device), _video(device)).parameters


def _whole(direction: str, device) -> torch.Tensor:
    """The same on one GPU, without the patch."""
    if direction == "decode":
        return _vae(device).decode(_latents(device)).sample
    return _vae(device).encode(_video(device)).latent_dist.parameters


def _worker(rank: int, size: int, init_file: str, out_dir: str, direction: str) -> None:
    import torch.distributed as dist

    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank, world_size=size, device_id=device)
    with torch.no_grad():
        result = _split(direction, device)
    torch.save(result.cpu(), os.path.join(out_dir, f"{direction}{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.parametrize("direction", ["decode", "encode"])
@pytest.mark.parametrize("gpus", [2, 4])
def test_nccl_row_bands_equal_the_one_gpu_result(tmp_path, gpus, direction):
    import torch.multiprocessing as mp

    if torch.cuda.device_count() < gpus:
        pytest.skip(f"needs {gpus} GPUs, {torch.cuda.device_count()} visible")
    with torch.no_grad():
        reference = _whole(direction, "cuda:0").cpu()
    mp.spawn(_worker, args=(gpus, str(tmp_path / "rendezvous"), str(tmp_path), direction), nprocs=gpus)
    for rank in range(gpus):
        result = torch.load(tmp_path / f"{direction}{rank}.pt")
        assert result.shape == reference.shape
        assert (result - reference).abs().max().item() <= 1e-4, rank
