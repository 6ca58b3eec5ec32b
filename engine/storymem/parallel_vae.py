"""Patch-parallel Wan VAE decode: each rank of a process group decodes one horizontal band of rows of the video.

The idea is xDiT's DistVAE / "PatchConv" (every spatial convolution of a row-split decoder reads its missing
border rows from the neighbouring ranks), applied to diffusers' ``AutoencoderKLWan``
(``diffusers/models/autoencoders/autoencoder_kl_wan.py``) by patching one VAE instance for the duration of a
decode; no decoder code is copied.

Algorithm, for latents ``(B, z, f, h, w)`` and a group of ``N`` ranks (``h % N == 0``), rank ``r``:

1. ``post_quant_conv``, ``decoder.conv_in`` and ``decoder.mid_block`` run whole on every rank (latent
   resolution, cheap; the mid-block attention is global over ``h x w``);
2. the mid-block output ``(B, C, t, h, w)`` is cut to rows ``[r*h/N, (r+1)*h/N)``;
3. every spatial convolution after it -- the ``WanCausalConv3d`` of the up blocks and ``conv_out`` (``3x3x3``,
   which pad H/W/T themselves and convolve with padding 0) and the ``Conv2d(3x3, padding=1)`` of the
   ``WanResample`` upsamplers -- first receives ``p`` (its H padding, 1 here) halo rows from each neighbour
   (``all_gather`` of every band's top and bottom ``p`` rows), so its input is exactly the matching slice of the
   one-process padded input; the global top and bottom borders keep their zero rows. For a causal conv the
   halo is taken over ``cat(time cache, x)``, so the neighbours' rows carry their own time history;
4. nearest 2x upsampling, the per-pixel RMS norm, SiLU, 1x1 shortcuts, the ``(3,1,1)`` time convs and the
   per-frame time caches act row by row: each rank's caches hold its own band, which is consistent;
5. the decoded bands ``(B, 3, F, H/N, W)`` are all-gathered along H (:meth:`PatchParallelDecode.gather`).

Every output pixel sees the same inputs in the same order as in one process, so float32 on the CPU over gloo
gives the one-process video bit for bit (tests/test_storymem_parallel_vae.py). Communication per patched conv:
``2p`` rows of its input from each rank (``(B, C, T, 2p, W)``); memory per rank after the mid block: ``1/N``.

Errors (``ValueError``, raised identically on every rank, so no rank is left waiting in a collective): the
latent height does not split into the group's size (``latents``); the VAE has tiling on (``vae``: tiles and
bands do not mix); a decoder module after the mid block mixes rows in a way this patch cannot split (global
attention, a strided or non-'same' spatial conv, a non-nearest upsampling, an explicit padding layer); the VAE is
already patched.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.models.autoencoders.autoencoder_kl_wan import WanAttentionBlock, WanCausalConv3d

__all__ = ["PatchParallelDecode", "check_split", "memory_format", "patch_parallel_decode"]


def _group_info(group) -> tuple[int, int]:
    import torch.distributed as dist

    return dist.get_rank(group), dist.get_world_size(group)


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """``x``'s layout: channels-last (``(B, C, T, H, W)`` stored ``B, T, H, W, C``; what cuDNN gives with the
    engine's channels-last VAE weights) or contiguous. Halo rows and bands are made in it, so the convs keep
    their kernels."""
    if not x.is_contiguous():
        if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
            return torch.channels_last_3d
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return torch.channels_last
    return torch.contiguous_format


def check_split(latent_height: int, size: int) -> None:
    """``ValueError`` unless ``latent_height`` rows split into ``size`` equal bands."""
    if size < 1 or latent_height % size:
        raise ValueError(
            f"latents height {latent_height} does not split into {size} equal row bands for a patch-parallel "
            f"VAE decode; use a frame height whose latent height (height / 8) is a multiple of {size}"
        )


class PatchParallelDecode:
    """Context manager: while open, ``vae.decode(latents)`` on every rank of ``group`` (default: the world)
    returns this rank's band of rows ``(B, 3, F, H/N, W)``; :meth:`gather` makes the full video of it. The patch
    (forward hooks and the conv paddings) is removed on exit, also after an error.

    ``vae``: an ``AutoencoderKLWan`` (Wan 2.1 or 2.2 layout). Raises ``ValueError`` on entry for a VAE this
    cannot split (see the module docstring) and inside ``decode`` when the latent height does not split."""

    def __init__(self, vae, group=None):
        self.vae = vae
        self.group = group
        self.rank, self.size = _group_info(group)
        self._handles: list = []
        self._paddings: list[tuple[nn.Module, str, object]] = []

    # ------------------------------------------------------------------ halo exchange

    def exchange(self, x: torch.Tensor, rows: int) -> torch.Tensor:
        """``x`` ``(..., hb, W)`` (this rank's band) -> ``(..., hb + 2*rows, W)``: ``rows`` rows of the band above
        on top and of the band below underneath, zero rows at the video's top and bottom."""
        if x.shape[-2] < rows:
            raise ValueError(f"a band of {x.shape[-2]} rows is thinner than the {rows}-row halo a convolution needs")
        import torch.distributed as dist

        edges = torch.cat([x[..., :rows, :], x[..., -rows:, :]], dim=-2).contiguous()  # (..., 2*rows, W)
        parts = [torch.empty_like(edges) for _ in range(self.size)]
        dist.all_gather(parts, edges, group=self.group)
        layout = memory_format(x)
        zeros = torch.zeros_like(edges[..., :rows, :])
        above = parts[self.rank - 1][..., rows:, :] if self.rank > 0 else zeros  # the bottom rows of band r-1
        below = parts[self.rank + 1][..., :rows, :] if self.rank < self.size - 1 else zeros  # the top rows of r+1
        above, below = above.contiguous(memory_format=layout), below.contiguous(memory_format=layout)
        return torch.cat([above, x, below], dim=-2).contiguous(memory_format=layout)

    def gather(self, band: torch.Tensor) -> torch.Tensor:
        """This rank's decoded rows ``(..., H/N, W)`` -> the whole video ``(..., H, W)`` on every rank."""
        import torch.distributed as dist

        band = band.contiguous()
        parts = [torch.empty_like(band) for _ in range(self.size)]
        dist.all_gather(parts, band, group=self.group)
        return torch.cat(parts, dim=-2)

    # ------------------------------------------------------------------ hooks

    def _split_rows(self, _module, _args, output: torch.Tensor) -> torch.Tensor:
        """After the mid block: ``(B, C, t, h, w)`` -> this rank's rows ``(B, C, t, h/N, w)``."""
        height = output.shape[-2]
        check_split(height, self.size)
        band = height // self.size
        return output[..., self.rank * band : (self.rank + 1) * band, :].contiguous(memory_format=memory_format(output))

    def _causal_conv_halo(self, rows: int):
        """Pre-hook of a ``WanCausalConv3d`` whose own H padding was set to 0: add ``rows`` halo rows to ``x``
        ``(B, C, T, hb, W)`` and to its time cache ``(B, C, Tc, hb, W)`` in one exchange."""

        def hook(module, args, kwargs):
            x, cache = args[0], (args[1] if len(args) > 1 else kwargs.get("cache_x"))
            rest = {k: v for k, v in kwargs.items() if k != "cache_x"}
            if cache is not None and module._padding[4] > 0:
                cache = cache.to(x.device)
                joined = self.exchange(torch.cat([cache, x], dim=2), rows)  # (B, C, Tc + T, hb + 2*rows, W)
                return (joined[:, :, cache.shape[2] :], joined[:, :, : cache.shape[2]]), rest
            return (self.exchange(x, rows), None), rest

        return hook

    def _conv2d_halo(self, rows: int):
        """Pre-hook of a ``Conv2d`` whose H padding was set to 0: ``(B*T, C, hb, W)`` -> ``(B*T, C, hb + 2*rows, W)``."""

        def hook(_module, args):
            return (self.exchange(args[0], rows),) + tuple(args[1:])

        return hook

    def _patch(self) -> None:
        decoder = self.vae.decoder
        self._handles.append(decoder.mid_block.register_forward_hook(self._split_rows))
        after_mid = [("up_blocks", decoder.up_blocks), ("norm_out", decoder.norm_out), ("conv_out", decoder.conv_out)]
        for prefix, root in after_mid:
            for name, module in root.named_modules(prefix=prefix):
                if isinstance(module, WanAttentionBlock):
                    raise ValueError(f"vae: decoder.{name} attends over the whole frame; it cannot run on row bands")
                if isinstance(module, WanCausalConv3d):
                    rows = module._padding[2]
                    self._check_conv(name, module, rows)
                    if rows:
                        self._paddings.append((module, "_padding", module._padding))
                        module._padding = (*module._padding[:2], 0, 0, *module._padding[4:])
                        self._handles.append(module.register_forward_pre_hook(self._causal_conv_halo(rows), with_kwargs=True))
                elif isinstance(module, nn.Conv2d):
                    if module.padding_mode != "zeros" or isinstance(module.padding, str):
                        raise ValueError(f"vae: decoder.{name} pads with {module.padding!r}/{module.padding_mode}; only zero padding splits")
                    rows = module.padding[0]
                    self._check_conv(name, module, rows)
                    if rows:
                        self._paddings.append((module, "padding", module.padding))
                        module.padding = (0, module.padding[1])
                        self._handles.append(module.register_forward_pre_hook(self._conv2d_halo(rows)))
                elif isinstance(module, (nn.Conv1d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                    raise ValueError(f"vae: decoder.{name} ({type(module).__name__}) is not a convolution this patch splits")
                elif isinstance(module, nn.Upsample) and module.mode not in ("nearest", "nearest-exact"):
                    raise ValueError(f"vae: decoder.{name} upsamples with {module.mode!r}, which mixes rows across bands")
                elif isinstance(module, nn.Upsample) and not _integer_row_scale(module):
                    raise ValueError(f"vae: decoder.{name} scales rows by {module.scale_factor!r}, not a whole factor")
                elif isinstance(module, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ConstantPad3d, nn.ReflectionPad2d, nn.ReplicationPad2d)):
                    raise ValueError(f"vae: decoder.{name} ({type(module).__name__}) pads every band, not the frame")

    @staticmethod
    def _check_conv(name: str, module: nn.Module, rows: int) -> None:
        kernel, stride, dilation = module.kernel_size[-2], module.stride[-2], module.dilation[-2]
        if stride != 1 or dilation != 1 or kernel != 2 * rows + 1:
            raise ValueError(
                f"vae: decoder.{name} (kernel {kernel}, stride {stride}, dilation {dilation}, H padding {rows}) is "
                "not a 'same' convolution; only those split into row bands"
            )

    def __enter__(self) -> "PatchParallelDecode":
        if getattr(self.vae, "use_tiling", False):
            raise ValueError("vae: tiled decoding is on (vae.disable_tiling() first); tiles and row bands do not mix")
        if getattr(self.vae, "_patch_parallel", None) is not None:
            raise ValueError("vae: this VAE is already patched for a patch-parallel decode")
        try:
            self._patch()
        except BaseException:
            self._restore()
            raise
        self.vae._patch_parallel = self
        return self

    def _restore(self) -> None:
        for handle in self._handles:
            handle.remove()
        for module, attribute, value in reversed(self._paddings):
            setattr(module, attribute, value)
        self._handles, self._paddings = [], []
        self.vae._patch_parallel = None

    def __exit__(self, *exc) -> None:
        self._restore()


def _integer_row_scale(module: nn.Upsample) -> bool:
    """Whether a nearest upsampling maps each input row to a whole number of output rows (band-local)."""
    scale = module.scale_factor
    if scale is None:
        return False
    scale = scale[-2] if isinstance(scale, (tuple, list)) else scale
    return float(scale).is_integer() and scale >= 1


def patch_parallel_decode(vae, latents: torch.Tensor, group=None) -> torch.Tensor:
    """Decode ``latents`` ``(B, z, f, h, w)`` (already de-normalised, the VAE's dtype and device) over the ranks
    of ``group``; every rank must call it with the same latents. Returns the whole video ``(B, 3, F, H, W)``,
    clamped to [-1, 1], on every rank: equal to ``vae.decode(latents).sample`` in one process. Raises
    ``ValueError`` (``latents``) when ``h`` does not split into the group's size, before any communication."""
    if latents.dim() != 5:
        raise ValueError(f"latents must be (B, C, f, h, w), got shape {tuple(latents.shape)}")
    split = PatchParallelDecode(vae, group)
    check_split(latents.shape[-2], split.size)
    with split:
        band = vae.decode(latents, return_dict=False)[0]  # (B, 3, F, H/N, W)
    return split.gather(band)
