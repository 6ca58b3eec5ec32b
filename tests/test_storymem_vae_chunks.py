"""Wan VAE encode and decode over several frames per call (engine/storymem/vae_chunks.py) against diffusers' own
loop, on the tiny VAE and on the Wan 2.1 architecture (random weights, float32, CPU).

The chunked calls compute the same sums of the same products in other kernel shapes, so they agree with
diffusers within float32 rounding (oneDNN and MKL choose their kernels by shape); a chunking that broke the causal
caches (a frame seeing the wrong history) would be off by the size of the signal, not by 1e-6."""

from __future__ import annotations

import pytest
import torch

from engine.storymem import vae_chunks

TOLERANCE = 5e-5  # measured: at most 7.7e-6 (2e-5 with oneDNN off); outputs in [-1, 1], latents of unit scale


def _vae(kind: str):
    from engine.storymem.testing import tiny_vae, wan21_vae

    return tiny_vae() if kind == "tiny" else wan21_vae()


def _spy(vae, calls):
    vae.decoder.register_forward_pre_hook(lambda _m, args: calls.append(("decoder", args[0].shape[2])))
    vae.encoder.register_forward_pre_hook(lambda _m, args: calls.append(("encoder", args[0].shape[2])))


@pytest.mark.parametrize("kind", ["tiny", "wan2.1"])
@pytest.mark.parametrize("chunk", [2, 4, 20])
def test_chunked_decode_equals_diffusers_decode(kind, chunk):
    vae, calls = _vae(kind), []
    latents = torch.randn(1, 16, 6, 6, 8, generator=torch.Generator().manual_seed(1))  # 21 frames of 48 x 64
    with torch.no_grad():
        reference = vae.decode(latents, return_dict=False)[0]
        _spy(vae, calls)
        out = vae_chunks.decode(vae, latents, chunk)
    assert out.shape == reference.shape == (1, 3, 21, 48, 64)
    assert (out - reference).abs().max() < TOLERANCE
    expected = [1] + [min(chunk, 5 - i) for i in range(0, 5, chunk)]  # frame 0 alone, then the other 5 by `chunk`
    assert calls == [("decoder", n) for n in expected]
    assert all(c is None for c in vae._feat_map)  # the caches are cleared for the next call


@pytest.mark.parametrize("kind", ["tiny", "wan2.1"])
@pytest.mark.parametrize("chunk", [8, 12, 80])
def test_chunked_encode_equals_diffusers_encode(kind, chunk):
    vae, calls = _vae(kind), []
    video = torch.rand(1, 3, 21, 48, 64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    video[:, :, 1:] *= 0.1  # a first frame, then quieter frames (the video condition's shape)
    with torch.no_grad():
        reference = vae.encode(video).latent_dist
        _spy(vae, calls)
        out = vae_chunks.encode(vae, video, chunk)
    assert out.mean.shape == reference.mean.shape == (1, 16, 6, 6, 8)
    assert (out.mean - reference.mean).abs().max() < TOLERANCE
    assert (out.logvar - reference.logvar).abs().max() < TOLERANCE
    assert calls == [("encoder", 1)] + [("encoder", min(chunk, 20 - i)) for i in range(0, 20, chunk)]


def test_the_default_chunks_are_diffusers_own_loop_and_bad_chunks_are_refused():
    """The default chunks run diffusers' loop with one-copy convs (engine/storymem/one_copy_conv.py): the same
    conv calls on the same values, so bit for bit diffusers' output; the convs are swapped only during the call."""
    vae, swapped = _vae("tiny"), []
    latents = torch.randn(1, 16, 3, 6, 8, generator=torch.Generator().manual_seed(1))
    video = torch.rand(1, 3, 9, 48, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        reference = vae.decode(latents, return_dict=False)[0], vae.encode(video).latent_dist.mean
        for conv in (vae.decoder.conv_out, vae.encoder.conv_in):
            conv.register_forward_pre_hook(lambda m, _a: swapped.append("forward" in m.__dict__))
        assert torch.equal(vae_chunks.decode(vae, latents), reference[0])
        assert torch.equal(vae_chunks.encode(vae, video).mean, reference[1])
    assert swapped and all(swapped)
    assert not any("forward" in m.__dict__ for m in vae.modules())
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        vae_chunks.decode(vae, latents, 0)
    with pytest.raises(ValueError, match="multiple of 4"):
        vae_chunks.encode(vae, video, 6)


def test_the_wan22_layout_and_tiling_keep_diffusers_loop():
    from diffusers import AutoencoderKLWan

    from engine.storymem.testing import TINY_VAE

    wan22 = AutoencoderKLWan(**dict(TINY_VAE, is_residual=True, patch_size=2, in_channels=12, out_channels=12, scale_factor_spatial=16))
    assert "Wan 2.2" in vae_chunks.chunking_refusal(wan22)
    tiled = _vae("tiny")
    tiled.enable_tiling()
    assert vae_chunks.chunking_refusal(tiled) == "tiled VAE"
    assert vae_chunks.chunking_refusal(_vae("tiny")) is None
