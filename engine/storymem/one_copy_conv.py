"""One-copy convolutions for diffusers' Wan VAE: every patched conv builds its padded input in one buffer.

diffusers' ``WanCausalConv3d.forward`` (``diffusers/models/autoencoders/autoencoder_kl_wan.py``) copies its input
twice before each causal conv -- ``torch.cat([cache_x, x], dim=2)`` (the time cache), then ``F.pad`` (time, H and W
padding; a full clone even when every pad is 0, as for the ``1x1x1`` shortcuts and the quant convs) -- and a row
band of :mod:`engine.storymem.parallel_vae` copied twice more for its halo rows. :class:`OneCopyConvs` swaps the
forward of such a conv (an instance attribute, removed again on exit, also after an error) for one that
allocates the final padded input once -- ``(B, C, Tpad + Tc + T, hb + 2*ph, W + 2*pw)``, with the strides
diffusers' ``cat`` + ``F.pad`` would give it (worked out on meta tensors) -- zeroes only its borders, copies the
cache and ``x`` into it, fills the halo rows from the neighbouring bands when a ``halo`` is given (else they are
the zero border), and convolves it with padding 0: the same call on the same values in the same layout as
diffusers' (``F.conv3d(padded, weight, bias, stride, 0, dilation, groups)``), so the outputs are bit for bit those
of the module's own forward (tests/test_storymem_one_copy_conv.py). A conv that needs no padding and no cache
convolves ``x`` itself (no copy at all) where ``F.pad``'s clone would keep ``x``'s strides.

For row bands it also swaps (only with a ``halo``; in one process these convs already pad inside the kernel
with a single copy or none):

* a 'same' ``Conv2d`` (the upsamplers' ``3x3``, padding 1): ``(N, C, hb + 2*ph, W)`` with the halo rows, W still
  padded by the kernel (the band path's former input, one copy instead of two);
* Wan's downsampler ``Sequential(ZeroPad2d((0, 1, 0, 1)), Conv2d(3x3, stride 2))``: the pad becomes a no-op and
  the conv builds ``(N, C, hb + 1, W + 1)``: ``x``, a zero right column and the top row of the band below (a zero
  row under the last band); one copy instead of two.

A ``halo`` is any object with ``neighbour_rows(edges, rows, below) -> (above, under)``
(:meth:`engine.storymem.parallel_vae._RowBands.neighbour_rows`): ``edges`` ``(..., below + rows, W)`` are this
band's top ``below`` rows then its bottom ``rows`` rows; it returns the bottom ``rows`` rows of the band above and
the top ``below`` rows of the band below, ``None`` at the frame's top or bottom (zero rows there).

Errors: ``ValueError`` when a band is thinner than a conv's halo, and (with a halo) when a conv's forward is
already replaced (an offload hook: the band cannot skip it); in one process such a conv keeps its forward.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d

__all__ = ["OneCopyConvs", "memory_format"]


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """``x``'s layout: channels-last (``(B, C, T, H, W)`` stored ``B, T, H, W, C``; what cuDNN gives with the
    engine's channels-last VAE weights) or contiguous. Padded inputs, halo rows and bands are made in it, so the
    convs keep their kernels."""
    if not x.is_contiguous():
        if x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d):
            return torch.channels_last_3d
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return torch.channels_last
    return torch.contiguous_format


def _empty(shape, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=like.device, memory_format=memory_format(like))


@functools.lru_cache(maxsize=1024)
def _padded_strides(parts: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], padding: tuple[int, ...]) -> tuple[int, ...]:
    """The strides of ``F.pad(torch.cat(parts, dim=2), padding)`` (``parts`` as ``(shape, stride)``; one part: no
    cat) as ATen lays it out, worked out on meta tensors: the layout diffusers' own forward gives the conv input.
    ``cat`` and ``F.pad`` pick it by ``suggest_memory_format`` (by stride order, so also for a non-dense slice such
    as a batch of 2 cut along T, and contiguous when cache and ``x`` disagree), which :func:`memory_format` does not
    reproduce; a conv input in another layout may run another cuDNN kernel."""
    metas = [torch.empty_strided(shape, stride, device="meta") for shape, stride in parts]
    joined = metas[0] if len(metas) == 1 else torch.cat(metas, dim=2)
    return tuple(F.pad(joined, padding).stride())


def _layout(tensors: list[torch.Tensor], padding: tuple[int, ...]) -> tuple[int, ...]:
    return _padded_strides(tuple((tuple(t.shape), tuple(t.stride())) for t in tensors), tuple(padding))


def _edges(parts: list[torch.Tensor], rows: int, below: int) -> torch.Tensor:
    """The top ``below`` rows then the bottom ``rows`` rows of ``parts`` (joined along dim 2) ``(B, C, T, below +
    rows, W)``: what the neighbours need, copied straight from the parts (a small contiguous tensor)."""
    first = parts[0]
    frames = sum(p.shape[2] for p in parts)
    edges = torch.empty((*first.shape[:2], frames, below + rows, first.shape[-1]), dtype=first.dtype, device=first.device)
    t = 0
    for part in parts:
        height, n = part.shape[-2], part.shape[2]
        edges[:, :, t : t + n, :below].copy_(part[..., :below, :])
        edges[:, :, t : t + n, below:].copy_(part[..., height - rows :, :])
        t += n
    return edges


def _check_band(height: int, rows: int) -> None:
    if height < rows:
        raise ValueError(f"a band of {height} rows is thinner than the {rows}-row halo a convolution needs")


def _fill_rows(target: torch.Tensor, rows: torch.Tensor | None) -> None:
    if rows is None:
        target.zero_()
    else:
        target.copy_(rows)


class OneCopyConvs:
    """Swaps conv forwards of one ``AutoencoderKLWan`` for one-copy ones (module docstring); :meth:`restore`
    (or leaving the ``with`` block) puts every original forward back. As a context manager it swaps every
    ``WanCausalConv3d`` of the VAE for one process (no halo) and marks the VAE (``vae._one_copy_convs``) so that
    :func:`engine.storymem.vae_chunks.one_copy_convs` inside it changes nothing; ``ValueError`` when the VAE is
    already swapped."""

    def __init__(self, vae):
        self.vae = vae
        self._swapped: list[tuple[nn.Module, object]] = []  # (module, its former instance forward or None)

    # ------------------------------------------------------------------ swapping

    def _swap(self, module: nn.Module, forward, halo) -> None:
        if any(module is m for m, _ in self._swapped):
            raise ValueError(f"{type(module).__name__} is swapped twice")
        former = module.__dict__.get("forward")
        if former is not None and halo is not None:
            raise ValueError(
                f"vae: a {type(module).__name__} has its forward replaced (an offload hook?); row bands need the VAE "
                "on the device without hooks"
            )
        self._swapped.append((module, former))
        module.forward = forward

    def swaps(self, module: nn.Module) -> bool:
        """Whether ``module``'s forward is swapped by this object."""
        return any(module is m for m, _ in self._swapped)

    def causal(self, module: WanCausalConv3d, halo=None) -> None:
        """Swap a ``WanCausalConv3d``: one buffer ``(B, C, Tpad + Tc + T, hb + 2*ph, W + 2*pw)``, with the halo rows
        of ``halo`` (over ``cat(cache, x)``, so the neighbours' rows carry their own time history) or zero rows."""
        if halo is None and "forward" in module.__dict__:
            return  # an offload hook's forward: keep it (diffusers' copies)

        def forward(x: torch.Tensor, cache_x: torch.Tensor | None = None) -> torch.Tensor:
            pw, _, ph, _, tpad, _ = module._padding
            parts = [x]  # (B, C, T, hb, W), after the time cache (B, C, Tc, hb, W)
            if cache_x is not None and tpad > 0:
                parts.insert(0, cache_x.to(x.device))
                tpad -= cache_x.shape[2]
            strides = _layout(parts, (pw, pw, ph, ph, tpad, 0))  # the layout of diffusers' F.pad(cat(cache, x))
            if tpad < 0:  # F.pad with a negative pad drops the first frames: as diffusers
                parts = [torch.cat(parts, dim=2)[:, :, -tpad:]]
                tpad = 0
            if halo is not None and ph:
                _check_band(x.shape[-2], ph)
            if len(parts) == 1 and tpad == ph == pw == 0 and strides == x.stride():
                return F.conv3d(x, module.weight, module.bias, module.stride, 0, module.dilation, module.groups)
            batch, channels, _, height, width = x.shape
            frames = sum(p.shape[2] for p in parts)
            shape = (batch, channels, tpad + frames, height + 2 * ph, width + 2 * pw)
            padded = torch.empty_strided(shape, strides, dtype=x.dtype, device=x.device)
            if tpad:
                padded[:, :, :tpad].zero_()
            body = padded[:, :, tpad:]  # (B, C, Tc + T, hb + 2*ph, W + 2*pw)
            if pw:
                body[..., :pw].zero_()
                body[..., pw + width :].zero_()
            t = 0
            for part in parts:
                body[:, :, t : t + part.shape[2], ph : ph + height, pw : pw + width].copy_(part)
                t += part.shape[2]
            if ph:
                above = under = None
                if halo is not None:
                    above, under = halo.neighbour_rows(_edges(parts, ph, ph), ph, ph)
                _fill_rows(body[:, :, :, :ph, pw : pw + width], above)
                _fill_rows(body[:, :, :, ph + height :, pw : pw + width], under)
            return F.conv3d(padded, module.weight, module.bias, module.stride, 0, module.dilation, module.groups)

        self._swap(module, forward, halo)

    def conv2d(self, module: nn.Conv2d, halo) -> None:
        """Swap a 'same' zero-padded ``Conv2d`` of a band: ``(N, C, hb, W)`` -> one buffer ``(N, C, hb + 2*ph, W)``
        with the halo rows; W stays padded by the kernel (``padding=(0, pw)``)."""
        ph, pw = module.padding

        def forward(x: torch.Tensor) -> torch.Tensor:
            _check_band(x.shape[-2], ph)
            height = x.shape[-2]
            padded = _empty((*x.shape[:-2], height + 2 * ph, x.shape[-1]), x)  # (N, C, hb + 2*ph, W)
            padded[..., ph : ph + height, :].copy_(x)
            above, under = halo.neighbour_rows(_edges4(x, ph, ph), ph, ph)
            _fill_rows(padded[..., :ph, :], above)
            _fill_rows(padded[..., ph + height :, :], under)
            return F.conv2d(padded, module.weight, module.bias, module.stride, (0, pw), module.dilation, module.groups)

        self._swap(module, forward, halo)

    def downsample(self, pad: nn.ZeroPad2d, conv: nn.Conv2d, halo, where: str) -> None:
        """Swap Wan's downsampler ``ZeroPad2d((0, 1, 0, 1))`` + ``Conv2d(3x3, stride 2)`` of a band: the pad passes
        ``x`` ``(N, C, hb, W)`` through and the conv builds ``(N, C, hb + 1, W + 1)``: ``x``, a zero right column,
        the top row of the band below (a zero row under the last band). ``ValueError`` for an odd ``hb``."""

        def forward(x: torch.Tensor) -> torch.Tensor:
            height, width = x.shape[-2:]
            if height % 2:
                raise ValueError(f"vae: a band of {height} rows (odd) reaches {where}, a stride-2 downsample; band heights must stay even")
            shape = (*x.shape[:-2], height + 1, width + 1)  # (N, C, hb + 1, W + 1), laid out as ZeroPad2d's output
            padded = torch.empty_strided(shape, _layout([x], (0, 1, 0, 1)), dtype=x.dtype, device=x.device)
            padded[..., width:].zero_()
            padded[..., :height, :width].copy_(x)
            _, under = halo.neighbour_rows(_edges4(x, 0, 1), 0, 1)
            _fill_rows(padded[..., height:, :width], under)
            return conv._conv_forward(padded, conv.weight, conv.bias)

        self._swap(pad, lambda x: x, halo)
        self._swap(conv, forward, halo)

    def all_causal(self) -> None:
        """Swap every not yet swapped ``WanCausalConv3d`` of the VAE for one process (no halo)."""
        for module in self.vae.modules():
            if isinstance(module, WanCausalConv3d) and not self.swaps(module):
                self.causal(module)

    def restore(self) -> None:
        """Put every original forward back (an offload hook's forward too); unmark the VAE."""
        for module, former in reversed(self._swapped):
            del module.forward
            if former is not None:
                module.forward = former
        self._swapped = []
        if getattr(self.vae, "_one_copy_convs", None) is self:
            self.vae._one_copy_convs = None

    def mark(self) -> None:
        """Mark the VAE as swapped by this object (``ValueError`` when another one holds it)."""
        if getattr(self.vae, "_one_copy_convs", None) is not None:
            raise ValueError("vae: its convolutions are already swapped for one-copy ones")
        self.vae._one_copy_convs = self

    # ------------------------------------------------------------------ one process

    def __enter__(self):
        self.mark()
        try:
            self.all_causal()
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


def _edges4(x: torch.Tensor, rows: int, below: int) -> torch.Tensor:
    """``x`` ``(N, C, hb, W)``: its top ``below`` rows then its bottom ``rows`` rows ``(N, C, below + rows, W)``."""
    height = x.shape[-2]
    edges = torch.empty((*x.shape[:-2], below + rows, x.shape[-1]), dtype=x.dtype, device=x.device)
    edges[..., :below, :].copy_(x[..., :below, :])
    edges[..., below:, :].copy_(x[..., height - rows :, :])
    return edges
