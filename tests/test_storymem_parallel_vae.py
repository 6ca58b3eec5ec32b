"""Patch-parallel Wan VAE decode and encode (engine/storymem/parallel_vae.py) over real gloo worker processes on
the CPU.

Every rank decodes a band of rows; the gathered video is compared with the one-process ``vae.decode``. Every
rank encodes a band of rows up to the encoder's mid block; the latent distribution every rank returns is
compared with the one-process ``vae.encode``:

* bit for bit (``torch.equal``) with oneDNN off on both sides: the patch gives each conv exactly the slice of the
  one-process padded input, and PyTorch's own conv kernels sum every output pixel in the same order whatever
  the input height;
* within ``ONEDNN_TOLERANCE`` with the default oneDNN convolutions: oneDNN picks its kernel by the input's shape,
  so a 26-row band and a 48-row frame may sum in another order (measured: up to 1.5e-6 on the tiny VAE, 2.3e-6
  on the Wan 2.1 architecture, outputs in [-1, 1]).

MKL's sgemm (the convs' matrix product with oneDNN off) also takes another kernel when a conv output has fewer
than 12 pixels per frame (measured on this machine's AVX-512 MKL 2024.2): the sizes here keep every band's
output at 16 pixels or more (at 480p the smallest is 30 x 104).

One spawn per group size runs every case of that size (spawning costs seconds); each worker writes what it saw
to a file and the assertions run here.
"""

from __future__ import annotations

import os

import pytest
import torch

from engine.storymem import vae_chunks
from engine.storymem.parallel_vae import check_split

ONEDNN_TOLERANCE = 1e-5
LATENTS = (1, 16, 3, 6, 8)  # (B, z, f, h, w): 9 frames of 48 x 64


def _build(kind: str):
    from engine.storymem.testing import tiny_vae, wan21_vae

    return tiny_vae() if kind == "tiny" else wan21_vae()


def _latents(shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def _patch_state(vae) -> list:
    """Every hook, conv padding and swapped forward of the VAE: what the patch changes and must restore."""
    state = []
    for name, module in vae.named_modules():
        state.append((name, len(module._forward_hooks), len(module._forward_pre_hooks), "forward" in module.__dict__))
        state.append((name, getattr(module, "_padding", None), getattr(module, "padding", None)))
    return state + [getattr(vae, "_one_copy_convs", None), getattr(vae, "_patch_parallel", None)]


def _pad_calls(call) -> dict:
    """How many ``torch.cat`` and ``F.pad`` (``constant_pad_nd``) calls ``call`` makes (a ``TorchDispatchMode``)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    counts = {"aten.cat.default": 0, "aten.constant_pad_nd.default": 0}

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if str(func) in counts and not out.is_meta:  # meta tensors: the one-copy buffers' layouts, no copies
                counts[str(func)] += 1
            return out

    with Count():
        call()
    return {name.split(".")[1]: n for name, n in counts.items()}


def _refusals(cases: dict) -> dict:
    """Run each case's call: its ``ValueError`` message, or "no error"."""
    seen = {}
    for case, call in cases.items():
        try:
            call()
            seen[case] = "no error"
        except ValueError as err:
            seen[case] = str(err)
    return seen


def _tiled(vae, split, *args):
    """``split(vae, *args)`` with the VAE's tiling on (then off again)."""
    vae.enable_tiling()
    try:
        split(vae, *args)
    finally:
        vae.disable_tiling()


def _worker(rank: int, size: int, init_file: str, kind: str, shape, out_dir: str, extra_cases: bool) -> None:
    import torch.distributed as dist

    from engine.storymem.parallel_vae import PatchParallelDecode, patch_parallel_decode

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=size)
    vae, latents, seen = _build(kind), _latents(shape), {}
    before = _patch_state(vae)
    with torch.no_grad():
        torch.backends.mkldnn.enabled = False
        seen["exact"] = patch_parallel_decode(vae, latents)
        seen["restored"] = _patch_state(vae) == before
        seen["after"] = vae.decode(latents).sample  # one process again, same VAE instance
        if extra_cases:
            seen["chunked"] = patch_parallel_decode(vae, latents, chunk=2)  # frames 1-2 in one decoder call
            seen["copies"] = _pad_calls(lambda: patch_parallel_decode(vae, latents))
            torch.backends.mkldnn.enabled = True
            seen["onednn"] = patch_parallel_decode(vae, latents)
            uneven = latents[..., :5, :]  # 5 latent rows
            seen |= _refusals({
                "uneven": lambda: patch_parallel_decode(vae, uneven),
                "uneven_inside": lambda: _decode_inside(vae, uneven),
                "tiling": lambda: _tiled(vae, patch_parallel_decode, latents),
                "twice": lambda: _enter_twice(vae),
                "bilinear": lambda: _bilinear_upsampling(kind),
            })
            seen["restored_after_errors"] = _patch_state(vae) == before
            torch.backends.mkldnn.enabled = False
            seen["after_errors"] = vae.decode(latents).sample
    torch.save(seen, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _decode_inside(vae, latents):
    """The split check inside the patched decode (the mid-block hook), not only the up-front one."""
    from engine.storymem.parallel_vae import PatchParallelDecode

    with PatchParallelDecode(vae):
        vae.decode(latents)


def _bilinear_upsampling(kind: str):
    """A decoder whose upsampler interpolates between rows cannot be split: refused before any decode."""
    from engine.storymem.parallel_vae import PatchParallelDecode

    vae = _build(kind)
    vae.decoder.up_blocks[0].upsamplers[0].resample[0].mode = "bilinear"
    with PatchParallelDecode(vae):
        pass


def _enter_twice(vae):
    from engine.storymem.parallel_vae import PatchParallelDecode

    with PatchParallelDecode(vae), PatchParallelDecode(vae):
        pass


def _run(tmp_path, size: int, kind: str, shape=LATENTS, extra_cases: bool = False) -> list[dict]:
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(size, str(tmp_path / "rendezvous"), kind, shape, str(tmp_path), extra_cases), nprocs=size)
    return [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(size)]


def _reference(kind: str, shape, onednn: bool, chunk: int = 1) -> torch.Tensor:
    from engine.storymem import vae_chunks

    threads, enabled = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)  # as the workers: the same float32 sums in the same order
    torch.backends.mkldnn.enabled = onednn
    try:
        with torch.no_grad():
            return vae_chunks.decode(_build(kind), _latents(shape), chunk)
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = enabled


@pytest.mark.slow
def test_two_ranks_decode_the_one_process_video_and_refuse_what_does_not_split(tmp_path):
    ranks = _run(tmp_path, 2, "tiny", extra_cases=True)
    exact = _reference("tiny", LATENTS, onednn=False)
    assert exact.shape == (1, 3, 9, 48, 64)
    for seen in ranks:  # every rank gets the whole video
        assert torch.equal(seen["exact"], exact)
        # oneDNN picks kernels by input shape: the bands may sum in another order (module docstring)
        onednn = _reference("tiny", LATENTS, onednn=True)
        assert (seen["onednn"] - onednn).abs().max().item() <= ONEDNN_TOLERANCE
        # the patch is gone afterwards: hooks and paddings as before, the same VAE decodes whole as before
        assert seen["restored"] and torch.equal(seen["after"], exact)
        assert "latents height 5 does not split into 2 equal row bands" in seen["uneven"]
        assert "latents height 5 does not split into 2" in seen["uneven_inside"]
        assert seen["tiling"].startswith("vae: tiled decoding is on")
        assert "already patched" in seen["twice"]
        assert seen["bilinear"] == "vae: decoder.up_blocks.0.upsamplers.0.resample.0 upsamples with 'bilinear', which mixes rows across bands"
        assert seen["restored_after_errors"] and torch.equal(seen["after_errors"], exact)
        assert torch.equal(seen["chunked"], _reference("tiny", LATENTS, onednn=False, chunk=2))  # chunked and split
        # one copy per conv: no F.pad anywhere; the cats are diffusers' cache and output joins, as in one process
        # (before: a cat in the halo hook, one in the exchange, and diffusers' cat and F.pad, in every causal conv)
        with torch.no_grad():
            whole = _pad_calls(lambda: vae_chunks.decode(_build("tiny"), _latents(LATENTS)))
        assert seen["copies"] == {"cat": whole["cat"] + 1, "constant_pad_nd": 0}  # + the gather of the bands


@pytest.mark.slow
def test_three_ranks_decode_the_one_process_video_bit_for_bit(tmp_path):
    ranks = _run(tmp_path, 3, "tiny")  # bands of 2 latent rows: the middle rank has neighbours on both sides
    exact = _reference("tiny", LATENTS, onednn=False)
    assert all(torch.equal(seen["exact"], exact) and seen["restored"] for seen in ranks)


@pytest.mark.slow
def test_wan21_vae_architecture_two_ranks_bit_for_bit(tmp_path):
    shape = (1, 16, 2, 6, 6)  # the real Wan 2.1 VAE (random weights): 5 frames of 48 x 48
    ranks = _run(tmp_path, 2, "wan2.1", shape)
    exact = _reference("wan2.1", shape, onednn=False)
    assert exact.shape == (1, 3, 5, 48, 48)
    assert all(torch.equal(seen["exact"], exact) for seen in ranks)


def test_check_split_names_the_argument():
    check_split(60, 4)
    with pytest.raises(ValueError, match=r"latents height 60 does not split into 8 equal row bands.*multiple of 8"):
        check_split(60, 8)


def test_pipeline_decode_splits_over_its_vae_group_only_when_the_height_splits(monkeypatch):
    """The wiring: with ``vae_group`` of 2 ranks the pipeline decodes through ``patch_parallel_decode`` (here a
    recorder, the group faked), with an uneven height or no group through the whole ``vae.decode``; the workers'
    ``follower_output`` agrees, so ranks other than 0 decode exactly when the pipeline splits."""
    import torch.distributed as dist

    import engine.storymem.parallel_vae as parallel_vae
    from engine.storymem.parallel import ParallelContext, ParallelPlan
    from engine.storymem.testing import tiny_pipeline

    pipe, group, calls = tiny_pipeline("m2v"), object(), []

    def recorder(vae, latents, grp, chunk):
        calls.append((tuple(latents.shape), grp))
        assert chunk == pipe.vae_decode_chunk
        return torch.zeros(1, 3, 1 + 4 * (latents.shape[2] - 1), 8 * latents.shape[3], 8 * latents.shape[4])

    monkeypatch.setattr(parallel_vae, "patch_parallel_decode", recorder)
    monkeypatch.setattr(dist, "get_world_size", lambda g=None: 2 if g is group else 1)
    latents = torch.randn(1, 16, 2, 6, 8)  # (B, 16, f, h, w)
    whole = pipe.decode(latents, "pt")
    assert calls == [] and whole.shape == (1, 3, 5, 48, 64)
    pipe.vae_group = group
    assert torch.equal(pipe.decode(latents, "pt"), torch.zeros(1, 3, 5, 48, 64)) and calls == [((1, 16, 2, 6, 8), group)]
    assert pipe.decode(latents[..., :5, :], "pt").shape == (1, 3, 5, 40, 64) and len(calls) == 1  # 5 rows: whole
    context = ParallelContext(ParallelPlan.choose(2, cfg=False), 1, "cpu")
    assert context.follower_output(6) == "pt" and context.follower_output(5) == "latent"


def test_pipeline_encodes_split_over_its_vae_group_only_when_the_height_splits(monkeypatch):
    """The wiring: with ``vae_group`` of 2 ranks every VAE encode of the pipeline -- each memory image, the MI2V
    video condition, the cached all-zero M2V condition -- goes through ``patch_parallel_encode`` (here a
    recorder that encodes whole, the group faked) when the frame height is a multiple of 16; with a height that
    does not split (40: bands of 20, 10, 5 rows) or no group, through the whole ``vae.encode``."""
    import torch.distributed as dist

    import engine.storymem.parallel_vae as parallel_vae
    from engine.storymem.testing import tiny_pipeline

    pipe, group, calls, cpu = tiny_pipeline("m2v"), object(), [], torch.device("cpu")

    def recorder(vae, video, grp, chunk):
        calls.append((tuple(video.shape), grp))
        assert chunk == pipe.vae_encode_chunk
        return vae.encode(video).latent_dist

    monkeypatch.setattr(parallel_vae, "patch_parallel_encode", recorder)
    monkeypatch.setattr(dist, "get_world_size", lambda g=None: 2 if g is group else 1)
    generator = torch.Generator().manual_seed(3)
    memory = torch.rand(2, 3, 48, 64, generator=generator) * 2 - 1  # (M, 3, H, W)
    first = torch.rand(1, 3, 48, 64, generator=generator) * 2 - 1  # (K, 3, H, W)
    whole = (pipe.encode_memory(memory, cpu), pipe.encode_video_condition(first, 9, 48, 64, cpu))
    assert calls == []
    pipe.vae_group = group
    pipe.clear_caches()
    split = (pipe.encode_memory(memory, cpu), pipe.encode_video_condition(first, 9, 48, 64, cpu))
    assert all(torch.equal(a, b) for a, b in zip(split, whole))
    assert pipe.encode_video_condition(None, 9, 48, 64, cpu).shape == (1, 16, 3, 6, 8)  # the zero condition
    assert calls == [((1, 3, 1, 48, 64), group)] * 2 + [((1, 3, 9, 48, 64), group)] * 2
    assert pipe.encode_video_condition(first[..., :40, :], 9, 40, 64, cpu).shape == (1, 16, 3, 5, 8) and len(calls) == 4


def test_memory_format_keeps_channels_last_activations():
    """On CUDA the engine stores the VAE's conv weights channels-last and cuDNN returns channels-last
    activations; the halo rows and bands are built in that layout (the CPU tests only see contiguous ones)."""
    from engine.storymem.parallel_vae import memory_format

    x = torch.randn(1, 4, 2, 6, 8)
    assert memory_format(x) == torch.contiguous_format
    assert memory_format(x.contiguous(memory_format=torch.channels_last_3d)) == torch.channels_last_3d
    assert memory_format(x[:, :, 0].contiguous(memory_format=torch.channels_last)) == torch.channels_last
    assert memory_format(x[..., :3, :]) == torch.contiguous_format  # a strided view: made contiguous


# ---------------------------------------------------------------------------- the encode

ENCODES = {  # kind -> video (B, 3, F, H, W) per group size: 3 downsamples, so H is a multiple of 8 x ranks
    2: [("tiny", (1, 3, 9, 48, 64)), ("wan2.1", (1, 3, 5, 32, 64))],
    3: [("tiny", (1, 3, 9, 48, 64)), ("wan2.1", (1, 3, 5, 48, 64))],
}


def _videos(shape) -> dict[str, torch.Tensor]:
    """Pixels in [-1, 1]: a first frame then zero frames (an MI2V video condition), a random video, and one
    frame alone (a memory image)."""
    generator = torch.Generator().manual_seed(2)
    first_frame = torch.zeros(shape)
    first_frame[:, :, 0] = torch.rand(shape[0], 3, *shape[3:], generator=generator) * 2 - 1
    random = torch.rand(shape, generator=generator) * 2 - 1
    return {"first_frame": first_frame, "random": random, "image": random[:, :, :1]}


def _encode_worker(rank: int, size: int, init_file: str, out_dir: str, extra_cases: bool) -> None:
    import torch.distributed as dist

    from engine.storymem.parallel_vae import patch_parallel_encode

    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=size)
    seen = {}
    with torch.no_grad():
        for kind, shape in ENCODES[size]:
            vae, videos = _build(kind), _videos(shape)
            before = _patch_state(vae)
            for name, video in videos.items():
                seen[kind, name] = patch_parallel_encode(vae, video).parameters  # (B, 2z, f, h, w)
            seen[kind, "restored"] = _patch_state(vae) == before
            seen[kind, "after"] = vae.encode(videos["random"]).latent_dist.parameters  # one process, same instance
        if extra_cases:
            vae, video = _build("tiny"), _videos((1, 3, 5, 48, 64))["random"]
            seen["chunked"] = patch_parallel_encode(vae, _videos((1, 3, 9, 48, 64))["random"], chunk=8).parameters
            seen["copies"] = _pad_calls(lambda: patch_parallel_encode(vae, video))
            before = _patch_state(vae)
            seen |= _refusals({
                "uneven": lambda: patch_parallel_encode(vae, video[..., :47, :]),  # 47 rows: no 2 equal bands
                "odd_band": lambda: patch_parallel_encode(vae, video[..., :36, :]),  # bands of 18, 9, ...
                "odd_band_inside": lambda: _encode_inside(vae, video[..., :36, :]),
                "tiling": lambda: _tiled(vae, patch_parallel_encode, video),
                "twice": lambda: _encode_while_decode_patched(vae, video),
                "twice_encode": lambda: _enter_encode_twice(vae),
                "other_downsampler": lambda: _encode_other_downsampler(video),
                "wan2.2": lambda: patch_parallel_encode(_wan22_layout(), video),
            })
            seen["restored_after_errors"] = _patch_state(vae) == before
            seen["after_errors"] = vae.encode(video).latent_dist.parameters
    torch.save(seen, os.path.join(out_dir, f"encode{rank}.pt"))
    dist.destroy_process_group()


def _encode_inside(vae, video):
    """The split check inside the patched encode (the encoder's pre-hook), not only the up-front one."""
    from engine.storymem.parallel_vae import PatchParallelEncode

    with PatchParallelEncode(vae):
        vae.encode(video)


def _encode_while_decode_patched(vae, video):
    from engine.storymem.parallel_vae import PatchParallelDecode, patch_parallel_encode

    with PatchParallelDecode(vae):
        patch_parallel_encode(vae, video)


def _enter_encode_twice(vae):
    from engine.storymem.parallel_vae import PatchParallelEncode

    with PatchParallelEncode(vae), PatchParallelEncode(vae):
        pass


def _encode_other_downsampler(video):
    """A downsampler padded on every side mixes rows in another way: refused before any encode."""
    from engine.storymem.parallel_vae import patch_parallel_encode

    vae = _build("tiny")
    vae.encoder.down_blocks[2].resample[0].padding = (1, 1, 1, 1)
    patch_parallel_encode(vae, video)


def _wan22_layout():
    """A tiny VAE in the Wan 2.2 layout (patchify 2, residual down blocks with AvgDown3D shortcuts)."""
    from diffusers import AutoencoderKLWan

    from engine.storymem.testing import TINY_VAE

    config = dict(TINY_VAE, is_residual=True, patch_size=2, in_channels=12, out_channels=12, scale_factor_spatial=16)
    return AutoencoderKLWan(**config).eval().requires_grad_(False)


def _encode_reference(vae, video: torch.Tensor, chunk: int = 4) -> torch.Tensor:
    from engine.storymem import vae_chunks

    threads, enabled = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)  # as the workers: the same float32 sums in the same order
    torch.backends.mkldnn.enabled = False
    try:
        with torch.no_grad():
            return vae_chunks.encode(vae, video, chunk).parameters  # (B, 2z, f, h, w)
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = enabled


def _run_encode(tmp_path, size: int, extra_cases: bool = False) -> list[dict]:
    import torch.multiprocessing as mp

    mp.spawn(_encode_worker, args=(size, str(tmp_path / "rendezvous"), str(tmp_path), extra_cases), nprocs=size)
    return [torch.load(tmp_path / f"encode{rank}.pt") for rank in range(size)]


def _assert_encodes_match(ranks: list[dict], size: int) -> None:
    for kind, shape in ENCODES[size]:
        vae = _build(kind)
        for name, video in _videos(shape).items():
            exact = _encode_reference(vae, video)
            assert exact.shape == (1, 32, 1 + (video.shape[2] - 1) // 4, shape[3] // 8, shape[4] // 8)
            for rank, seen in enumerate(ranks):  # every rank gets the whole latent distribution, bit for bit
                assert torch.equal(seen[kind, name], exact), (kind, name, rank)
        for seen in ranks:  # the patch is gone afterwards; the same VAE encodes whole as before
            assert seen[kind, "restored"]
            assert torch.equal(seen[kind, "after"], _encode_reference(vae, _videos(shape)["random"]))


@pytest.mark.slow
def test_two_ranks_encode_the_one_process_latents_and_refuse_what_does_not_split(tmp_path):
    ranks = _run_encode(tmp_path, 2, extra_cases=True)
    _assert_encodes_match(ranks, 2)
    for seen in ranks:  # every rank refuses with the same message, before any collective (no rank hangs)
        assert seen["uneven"] == (
            "video height 47 does not split into 2 equal row bands for a patch-parallel VAE encode; use a frame "
            "height that is a multiple of 16 (2 ranks x 8)"
        )
        assert seen["odd_band"] == (
            "video height 36 splits into 2 bands of 18 rows, which are 9 rows (odd) at the encoder's downsample 2 "
            "of 3; a stride-2 downsample needs even bands: use a frame height that is a multiple of 16 (2 ranks x 8)"
        )
        assert seen["odd_band_inside"] == seen["odd_band"]
        assert seen["tiling"] == "vae: tiled encoding is on (vae.disable_tiling() first); tiles and row bands do not mix"
        assert seen["twice"] == "vae: this VAE is already patched for patch-parallel decoding"
        assert seen["twice_encode"] == "vae: this VAE is already patched for patch-parallel encoding"
        assert seen["other_downsampler"].startswith("vae: encoder.down_blocks.2 is not Wan's downsampler")
        assert seen["wan2.2"].startswith("vae: the Wan 2.2 VAE layout (patchify, AvgDown3D shortcuts) is not split")
        assert seen["restored_after_errors"]
        video = _videos((1, 3, 5, 48, 64))["random"]
        assert torch.equal(seen["after_errors"], _encode_reference(_build("tiny"), video))
        chunked = _encode_reference(_build("tiny"), _videos((1, 3, 9, 48, 64))["random"], chunk=8)  # 8 frames in one call
        assert torch.equal(seen["chunked"], chunked)
        with torch.no_grad():  # the one-process encode pads before each downsampler (ZeroPad2d: one copy)
            whole = _pad_calls(lambda: vae_chunks.encode(_build("tiny"), video))
        assert whole["constant_pad_nd"] == 6  # 3 downsamplers x 2 encoder calls
        assert seen["copies"] == {"cat": whole["cat"] + 2, "constant_pad_nd": 0}  # + the gather before each mid block


@pytest.mark.slow
def test_three_ranks_encode_the_one_process_latents_bit_for_bit(tmp_path):
    _assert_encodes_match(_run_encode(tmp_path, 3), 3)  # the middle rank has neighbours on both sides


def test_check_encode_split_names_the_height_and_the_fix():
    from engine.storymem.parallel_vae import check_encode_split, encode_refusal

    check_encode_split(480, 4, 3)  # 480p: bands of 120, 60, 30 rows at the downsamples
    check_encode_split(480, 2, 3)
    with pytest.raises(ValueError, match=r"video height 480 splits into 8 bands of 60 rows, which are 15 rows \(odd\) at the encoder's downsample 3 of 3.*multiple of 64"):
        check_encode_split(480, 8, 3)
    with pytest.raises(ValueError, match=r"video height 480 does not split into 7 equal row bands.*multiple of 56"):
        check_encode_split(480, 7, 3)
    from engine.storymem.testing import tiny_vae

    assert encode_refusal(tiny_vae(), 48, 2) is None and encode_refusal(tiny_vae(), 48, 3) is None
    assert encode_refusal(tiny_vae(), 40, 2).startswith("video height 40 splits into 2 bands of 20 rows")
    assert encode_refusal(_wan22_layout(), 64, 2).startswith("vae: the Wan 2.2 VAE layout")
    from diffusers import AutoencoderKLWan

    from engine.storymem.testing import TINY_VAE

    attending = AutoencoderKLWan(**dict(TINY_VAE, attn_scales=[0.5]))  # attention in the down blocks
    assert encode_refusal(attending, 48, 2) == "vae: encoder.down_blocks.4 attends over the whole frame; it cannot run on row bands"
