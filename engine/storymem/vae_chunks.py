"""Wan VAE encode and decode over several frames per call: the same causal computation as diffusers'
``AutoencoderKLWan._encode`` / ``_decode`` (``diffusers/models/autoencoders/autoencoder_kl_wan.py``), with fewer and
larger convolutions.

diffusers runs the decoder once per latent frame (21 calls for an 81-frame shot) and the encoder once per 4 pixel
frames (21 calls), each call a few dozen small kernels. In Wan's VAE every convolution is causal in time and
carries the last frames of the previous call in ``feat_cache`` (``WanCausalConv3d``: 2 frames; the stride-2
``(3, 1, 1)`` time conv of a ``downsample3d``: 1 frame; the time conv of an ``upsample3d``: 2 frames), and every
other layer acts frame by frame (the RMS norm over channels, SiLU, the 2D convs of the resamplers, the attention of
the mid block over one frame's pixels). So the frames after the first may go through in chunks of any length --
for the encoder a multiple of 4 pixel frames, so that each of its two stride-2 time downsamples sees the frame
pairs it sees in diffusers' loop -- and each output value is the same sum of the same products: only the kernels'
shapes change, hence at most their rounding order (tests/test_storymem_vae_chunks.py; the frame-0 call stays alone,
as in diffusers, since Wan treats the first frame apart: ``first_chunk`` and the ``"Rep"`` cache of the upsamplers).

Larger chunks trade memory for speed: the activations grow with the chunk (measured in docs/BENCHMARKS.md). A chunk
of 1 latent frame (decode) or 4 pixel frames (encode) is diffusers' own loop, called as is. Only the Wan 2.1 VAE
layout (the one Wan2.2-A14B uses) is chunked; the Wan 2.2 layout (patchify, residual up/down blocks whose
shortcuts treat the first chunk apart) and tiling go through diffusers' loop unchanged. The patch-parallel VAE
(:mod:`engine.storymem.parallel_vae`) hooks the same modules, so both compose.

Both functions run with :func:`one_copy_convs`: every causal conv builds its padded input in one copy
(:class:`engine.storymem.one_copy_conv.OneCopyConvs`) instead of diffusers' ``cat`` then ``F.pad``, bit for bit the
same values and conv calls, so chunk 1 / 4 still equals ``vae.decode`` / ``vae.encode`` exactly; a VAE
:func:`chunking_refusal` names keeps diffusers' loop untouched.
"""

from __future__ import annotations

import contextlib

import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

__all__ = ["chunking_refusal", "decode", "encode", "one_copy_convs"]

ENCODE_FRAME_MULTIPLE = 4
"""Pixel frames per latent frame of Wan's VAE: an encoder chunk must hold a multiple of it."""


def chunking_refusal(vae) -> str | None:
    """Why ``vae`` runs through diffusers' own loop whatever the chunk (None when it can be chunked)."""
    if getattr(vae.config, "patch_size", None) is not None or getattr(vae.config, "is_residual", False):
        return "the Wan 2.2 VAE layout treats the first chunk apart in its residual blocks"
    if getattr(vae, "use_tiling", False):
        return "tiled VAE"
    return None


def one_copy_convs(vae):
    """Context manager: every ``WanCausalConv3d`` of ``vae`` builds its padded input in one copy while open
    (:class:`engine.storymem.one_copy_conv.OneCopyConvs`; outputs bit for bit diffusers'). Changes nothing for a
    VAE :func:`chunking_refusal` names (diffusers' own loop, untouched) or one already swapped (inside the
    patch-parallel VAE, which swapped them with halo rows)."""
    from engine.storymem.one_copy_conv import OneCopyConvs

    if chunking_refusal(vae) or getattr(vae, "_one_copy_convs", None) is not None:
        return contextlib.nullcontext()
    return OneCopyConvs(vae)


def _onload(vae) -> None:
    """What diffusers' ``apply_forward_hook`` does before ``encode``/``decode``: an accelerate offload hook's move."""
    hook = getattr(vae, "_hf_hook", None)
    if hook is not None and hasattr(hook, "pre_forward"):
        hook.pre_forward(vae)


def decode(vae, z: torch.Tensor, chunk: int = 1) -> torch.Tensor:
    """``z`` ``(B, z_dim, f, h, w)`` (de-normalised latents, the VAE's dtype and device) -> the video ``(B, 3, F, H,
    W)`` clamped to [-1, 1], as ``vae.decode(z).sample``: frame 0 alone, then ``chunk`` latent frames per decoder
    call. ``chunk`` 1 (or a VAE :func:`chunking_refusal` names) is diffusers' loop itself. ``ValueError`` for
    ``chunk < 1``."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 latent frame, got {chunk}")
    if chunking_refusal(vae):
        return vae.decode(z, return_dict=False)[0]
    with one_copy_convs(vae):
        if chunk == 1 or z.shape[2] <= 2 or (getattr(vae, "use_slicing", False) and z.shape[0] > 1):
            return vae.decode(z, return_dict=False)[0]
        return _decode_chunks(vae, z, chunk)


def _decode_chunks(vae, z: torch.Tensor, chunk: int) -> torch.Tensor:
    _onload(vae)
    vae.clear_cache()
    try:
        x = vae.post_quant_conv(z)  # (B, z_dim, f, h, w)
        vae._conv_idx = [0]
        parts = [vae.decoder(x[:, :, :1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, first_chunk=True)]  # (B, 3, 1, H, W)
        for start in range(1, x.shape[2], chunk):
            vae._conv_idx = [0]
            parts.append(vae.decoder(x[:, :, start : start + chunk], feat_cache=vae._feat_map, feat_idx=vae._conv_idx))  # (B, 3, 4c, H, W)
        return torch.clamp(torch.cat(parts, dim=2), min=-1.0, max=1.0)
    finally:
        vae.clear_cache()


def encode(vae, x: torch.Tensor, chunk: int = ENCODE_FRAME_MULTIPLE) -> DiagonalGaussianDistribution:
    """``x`` ``(B, 3, F, H, W)`` (pixels in [-1, 1], the VAE's dtype and device) -> the latent distribution over ``(B,
    2 z_dim, f, h, w)``, as ``vae.encode(x).latent_dist``: frame 0 alone, then ``chunk`` pixel frames per encoder
    call. ``chunk`` 4 (or a VAE :func:`chunking_refusal` names, or ``F - 1`` not a multiple of 4) is diffusers' loop
    itself. ``ValueError`` when ``chunk`` is not a positive multiple of 4."""
    if chunk < ENCODE_FRAME_MULTIPLE or chunk % ENCODE_FRAME_MULTIPLE:
        raise ValueError(f"chunk must be a positive multiple of {ENCODE_FRAME_MULTIPLE} pixel frames, got {chunk}")
    frames = x.shape[2]
    if chunking_refusal(vae):
        return vae.encode(x, return_dict=False)[0]
    with one_copy_convs(vae):
        if (
            chunk == ENCODE_FRAME_MULTIPLE
            or frames <= 1 + ENCODE_FRAME_MULTIPLE
            or (frames - 1) % ENCODE_FRAME_MULTIPLE
            or (getattr(vae, "use_slicing", False) and x.shape[0] > 1)
        ):
            return vae.encode(x, return_dict=False)[0]
        return _encode_chunks(vae, x, chunk)


def _encode_chunks(vae, x: torch.Tensor, chunk: int) -> DiagonalGaussianDistribution:
    frames = x.shape[2]
    _onload(vae)
    vae.clear_cache()
    try:
        vae._enc_conv_idx = [0]
        parts = [vae.encoder(x[:, :, :1], feat_cache=vae._enc_feat_map, feat_idx=vae._enc_conv_idx)]  # (B, 2 z_dim, 1, h, w)
        for start in range(1, frames, chunk):
            vae._enc_conv_idx = [0]
            parts.append(vae.encoder(x[:, :, start : start + chunk], feat_cache=vae._enc_feat_map, feat_idx=vae._enc_conv_idx))
        moments = vae.quant_conv(torch.cat(parts, dim=2))  # (B, 2 z_dim, f, h, w)
    finally:
        vae.clear_cache()
    return DiagonalGaussianDistribution(moments)
