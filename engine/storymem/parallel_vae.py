"""Patch-parallel Wan VAE decode and encode: each rank of a process group convolves one horizontal band of rows.

The idea is xDiT's DistVAE / "PatchConv" (every spatial convolution of a row-split network reads its missing
border rows from the neighbouring ranks), applied to diffusers' ``AutoencoderKLWan``
(``diffusers/models/autoencoders/autoencoder_kl_wan.py``) by patching one VAE instance for the duration of a
decode or an encode (forward hooks, and conv forwards swapped for one-copy ones; removed on exit, also after an
error); no VAE code is copied.

Each patched conv builds its padded input in ONE buffer (:class:`engine.storymem.one_copy_conv.OneCopyConvs`):
the time cache, ``x``, the zero borders and the halo rows go straight into ``(B, C, Tpad + Tc + T, hb + 2p,
W + 2pw)``, which is convolved with padding 0 -- one full copy per causal conv, as the one-process decode with
the same swap (:func:`engine.storymem.vae_chunks.one_copy_convs`), where diffusers makes two (``cat`` then
``F.pad``) and the former pre-hooks made four. The convs outside the split part get the same swap without
halo.

**Decode** (:func:`patch_parallel_decode`), for latents ``(B, z, f, h, w)`` and a group of ``N`` ranks
(``h % N == 0``), rank ``r``:

1. ``post_quant_conv``, ``decoder.conv_in`` and ``decoder.mid_block`` run whole on every rank (latent
   resolution, cheap; the mid-block attention is global over ``h x w``);
2. the mid-block output ``(B, C, t, h, w)`` is cut to rows ``[r*h/N, (r+1)*h/N)``;
3. every spatial convolution after it -- the ``WanCausalConv3d`` of the up blocks and ``conv_out`` (``3x3x3``,
   which pad H/W/T themselves and convolve with padding 0) and the ``Conv2d(3x3, padding=1)`` of the
   ``WanResample`` upsamplers -- receives ``p`` (its H padding, 1 here) halo rows from each neighbour
   (``all_gather`` of every band's top and bottom ``p`` rows, :meth:`_RowBands.neighbour_rows`) into its padded
   buffer, so its input is exactly the matching slice of the one-process padded input; the global top and
   bottom borders keep their zero rows. For a causal conv the halo is taken over the time cache and ``x``, so
   the neighbours' rows carry their own time history;
4. nearest 2x upsampling, the per-pixel RMS norm, SiLU, 1x1 shortcuts, the ``(3,1,1)`` time convs and the
   per-frame time caches act row by row: each rank's caches hold its own band, which is consistent;
5. the decoded bands ``(B, 3, F, H/N, W)`` are all-gathered along H (:meth:`PatchParallelDecode.gather`).

**Encode** (:func:`patch_parallel_encode`), the mirror, for a video ``(B, 3, F, H, W)`` and ``D`` spatial
downsamples in the encoder (3 for Wan 2.1: ``H % (N * 2**D) == 0``), rank ``r``:

1. every chunk fed to the encoder (frame 0, then 4 frames at a time in diffusers' ``_encode`` loop or ``chunk``
   frames in :func:`engine.storymem.vae_chunks.encode`, with the per-conv time caches of ``feat_cache``) is cut to
   rows ``[r*H/N, (r+1)*H/N)`` before ``encoder.conv_in``;
2. ``conv_in`` and the ``3x3x3`` causal convs of the down blocks get ``p = 1`` halo rows from each neighbour
   over ``cat(time cache, x)``, as in the decode;
3. each ``WanResample`` downsampler pads ``ZeroPad2d((0, 1, 0, 1))`` (right and bottom) before a ``3x3``
   stride-2 ``Conv2d``: its output row ``i`` reads input rows ``2i..2i+2``, so with an even band height a band's
   outputs need exactly one row of the band below and none from above. The pad passes ``x`` through and the
   conv builds ``(hb + 1, W + 1)`` in one copy: ``x``, the zero right column and the top row of the band below
   (all_gather of every band's top row), the last band a zero row: the slice of the one-process padded input. The ``(3,1,1)`` stride-(2,1,1) time conv of a
   ``downsample3d`` and its own cache are row-local;
4. before ``encoder.mid_block`` (global spatial attention) the bands ``(B, C, T, H/2**D/N, W/2**D)`` are
   all-gathered along H; the mid block, the head (``norm_out``, ``conv_out``) and ``quant_conv`` run whole on
   every rank, so every rank returns the whole latent distribution ``(B, 2z, f, h, w)``.

Every output value sees the same inputs in the same order as in one process, so float32 on the CPU over gloo
gives the one-process video (decode) and latents (encode) bit for bit (tests/test_storymem_parallel_vae.py)
with oneDNN off and every conv output of a band at least 12 pixels per frame: below that MKL's sgemm takes
another kernel (measured, MKL 2024.2 on AVX-512; 480p bands are far above it), and oneDNN and cuDNN pick their
kernels by shape anyway, so there the bands agree within float rounding (measured: up to 3.1e-6).
Communication per patched conv: ``2p`` rows of its input from each rank (``(B, C, T, 2p, W)``; one row for a
downsampler), plus one gather per call (decode: the bands; encode: the mid-block input of each chunk); memory
per rank in the split part: ``1/N`` of the activations.

Errors (``ValueError``, raised identically on every rank, so no rank is left waiting in a collective): the
latent height does not split into the group's size (``latents``); the video height does not split into the
group's size, or its bands would reach a downsampler with an odd height (``video``); the VAE has tiling on
(``vae``: tiles and bands do not mix); a module in the split part mixes rows in a way this patch cannot split
(attention, a strided or non-'same' spatial conv other than Wan's downsampler, a non-nearest upsampling, an
explicit padding layer); the encoder has the Wan 2.2 layout (patchify, ``AvgDown3D`` shortcuts; not split, the
engine's Wan2.2-A14B uses the Wan 2.1 VAE); the VAE is already patched (or its convs already swapped); a
conv's forward is already replaced (an accelerate offload hook); a band is thinner than a conv's halo.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from diffusers.models.autoencoders.autoencoder_kl_wan import (
    AvgDown3D,
    WanAttentionBlock,
    WanCausalConv3d,
    WanResample,
    WanResidualDownBlock,
)

from engine.storymem import vae_chunks
from engine.storymem.one_copy_conv import OneCopyConvs, memory_format

__all__ = [
    "PatchParallelDecode",
    "PatchParallelEncode",
    "check_encode_split",
    "check_split",
    "encode_refusal",
    "memory_format",
    "patch_parallel_decode",
    "patch_parallel_encode",
]

DOWNSAMPLE_MODES = ("downsample2d", "downsample3d")


def _group_info(group) -> tuple[int, int]:
    import torch.distributed as dist

    return dist.get_rank(group), dist.get_world_size(group)


def check_split(latent_height: int, size: int) -> None:
    """``ValueError`` unless ``latent_height`` rows split into ``size`` equal bands."""
    if size < 1 or latent_height % size:
        raise ValueError(
            f"latents height {latent_height} does not split into {size} equal row bands for a patch-parallel "
            f"VAE decode; use a frame height whose latent height (height / 8) is a multiple of {size}"
        )


def check_encode_split(height: int, size: int, downsamples: int) -> None:
    """``ValueError`` unless a video ``height`` rows high splits into ``size`` equal bands whose height stays
    even at each of the encoder's ``downsamples`` stride-2 downsamplers (``height % (size * 2**downsamples) == 0``)."""
    multiple = size * 2**downsamples
    fix = f"use a frame height that is a multiple of {multiple} ({size} ranks x {2**downsamples})"
    if size < 1 or height % size:
        raise ValueError(f"video height {height} does not split into {size} equal row bands for a patch-parallel VAE encode; {fix}")
    band = height // size
    for level in range(downsamples):
        if band % 2:
            raise ValueError(
                f"video height {height} splits into {size} bands of {height // size} rows, which are {band} rows "
                f"(odd) at the encoder's downsample {level + 1} of {downsamples}; a stride-2 downsample needs even "
                f"bands: {fix}"
            )
        band //= 2


def _spatial_downsamples(vae) -> int:
    """How many ``WanResample`` downsamplers (each halves H) the encoder's down blocks hold."""
    return sum(
        isinstance(m, WanResample) and m.mode in DOWNSAMPLE_MODES for m in vae.encoder.down_blocks.modules()
    )


def _layout_refusal(vae) -> str | None:
    if getattr(vae.config, "patch_size", None) is not None or getattr(vae.config, "is_residual", False):
        return "vae: the Wan 2.2 VAE layout (patchify, AvgDown3D shortcuts) is not split into row bands for an encode; encode it whole"
    for name, module in vae.encoder.named_modules(prefix="encoder"):
        if isinstance(module, (AvgDown3D, WanResidualDownBlock)):
            return f"vae: {name} ({type(module).__name__}, the Wan 2.2 layout) is not split into row bands for an encode; encode it whole"
        if isinstance(module, WanAttentionBlock) and name.startswith("encoder.down_blocks."):
            return f"vae: {name} attends over the whole frame; it cannot run on row bands"
    return None


def encode_refusal(vae, height: int, size: int) -> str | None:
    """Why ``vae`` cannot encode a video ``height`` rows high as ``size`` row bands (the message the split would
    raise), or None when it can: what a caller checks to fall back to the whole encode."""
    refusal = _layout_refusal(vae)
    if refusal is None:
        try:
            check_encode_split(height, size, _spatial_downsamples(vae))
        except ValueError as err:
            refusal = str(err)
    return refusal


class _RowBands:
    """What the decode and encode patches share: the halo exchange and the gather over ``group``, the walk that
    swaps every 'same' spatial conv of a subtree for a one-copy conv with halo rows
    (:class:`engine.storymem.one_copy_conv.OneCopyConvs`) and refuses what mixes rows, and the bookkeeping that
    removes the patch on exit."""

    part = ""  # "decoder" or "encoder": module names in errors

    def __init__(self, vae, group=None):
        self.vae = vae
        self.group = group
        self.rank, self.size = _group_info(group)
        self._handles: list = []
        self._convs = OneCopyConvs(vae)

    # ------------------------------------------------------------------ communication

    def neighbour_rows(self, edges: torch.Tensor, rows: int, below: int):
        """``edges`` ``(..., below + rows, W)``: this band's top ``below`` rows then its bottom ``rows`` rows (every
        rank passes the same shape) -> ``(above, under)``: the bottom ``rows`` rows of the band above and the top
        ``below`` rows of the band below, ``None`` at the frame's top or bottom (one ``all_gather`` of the edges)."""
        import torch.distributed as dist

        edges = edges.contiguous()
        parts = [torch.empty_like(edges) for _ in range(self.size)]
        dist.all_gather(parts, edges, group=self.group)
        above = parts[self.rank - 1][..., below:, :] if self.rank > 0 else None
        under = parts[self.rank + 1][..., :below, :] if self.rank < self.size - 1 else None
        return above, under

    def gather(self, band: torch.Tensor, keep_layout: bool = False) -> torch.Tensor:
        """This rank's rows ``(..., H/N, W)`` -> the whole ``(..., H, W)`` on every rank (contiguous, or in
        ``band``'s layout with ``keep_layout``)."""
        import torch.distributed as dist

        layout = memory_format(band)
        band = band.contiguous()
        parts = [torch.empty_like(band) for _ in range(self.size)]
        dist.all_gather(parts, band, group=self.group)
        whole = torch.cat(parts, dim=-2)
        return whole.contiguous(memory_format=layout) if keep_layout else whole

    # ------------------------------------------------------------------ patching

    def _patch_same_convs(self, prefix: str, root: nn.Module, skip: set | frozenset = frozenset()) -> None:
        """Patch every 'same' spatial conv under ``root`` (named ``prefix``) for halo rows; refuse every module that
        mixes rows in another way. Modules in ``skip`` were patched by the caller."""
        for name, module in root.named_modules(prefix=prefix):
            if module in skip:
                continue
            where = f"{self.part}.{name}"
            if isinstance(module, WanAttentionBlock):
                raise ValueError(f"vae: {where} attends over the whole frame; it cannot run on row bands")
            if isinstance(module, WanCausalConv3d):
                rows = module._padding[2]
                self._check_conv(where, module, rows)
                if rows:
                    self._convs.causal(module, halo=self)
            elif isinstance(module, nn.Conv2d):
                if module.padding_mode != "zeros" or isinstance(module.padding, str):
                    raise ValueError(f"vae: {where} pads with {module.padding!r}/{module.padding_mode}; only zero padding splits")
                rows = module.padding[0]
                self._check_conv(where, module, rows)
                if rows:
                    self._convs.conv2d(module, halo=self)
            elif isinstance(module, (nn.Conv1d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                raise ValueError(f"vae: {where} ({type(module).__name__}) is not a convolution this patch splits")
            elif isinstance(module, nn.Upsample) and module.mode not in ("nearest", "nearest-exact"):
                raise ValueError(f"vae: {where} upsamples with {module.mode!r}, which mixes rows across bands")
            elif isinstance(module, nn.Upsample) and not _integer_row_scale(module):
                raise ValueError(f"vae: {where} scales rows by {module.scale_factor!r}, not a whole factor")
            elif isinstance(module, (nn.ZeroPad2d, nn.ConstantPad2d, nn.ConstantPad3d, nn.ReflectionPad2d, nn.ReplicationPad2d)):
                raise ValueError(f"vae: {where} ({type(module).__name__}) pads every band, not the frame")
            elif isinstance(module, AvgDown3D):
                raise ValueError(f"vae: {where} (AvgDown3D) is not split into row bands")

    @staticmethod
    def _check_conv(where: str, module: nn.Module, rows: int) -> None:
        kernel, stride, dilation = module.kernel_size[-2], module.stride[-2], module.dilation[-2]
        if stride != 1 or dilation != 1 or kernel != 2 * rows + 1:
            raise ValueError(
                f"vae: {where} (kernel {kernel}, stride {stride}, dilation {dilation}, H padding {rows}) is "
                "not a 'same' convolution; only those split into row bands"
            )

    def _patch(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ enter / exit

    def __enter__(self):
        if getattr(self.vae, "use_tiling", False):
            raise ValueError(f"vae: tiled {self.verb} is on (vae.disable_tiling() first); tiles and row bands do not mix")
        if getattr(self.vae, "_patch_parallel", None) is not None:
            raise ValueError(f"vae: this VAE is already patched for patch-parallel {self.vae._patch_parallel.verb}")
        try:
            self._convs.mark()
            self._patch()
            if vae_chunks.chunking_refusal(self.vae) is None:
                self._convs.all_causal()  # the convs outside the split part: one copy, no halo
        except BaseException:
            self._restore()
            raise
        self.vae._patch_parallel = self
        return self

    def _restore(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._convs.restore()
        self._handles = []
        self.vae._patch_parallel = None

    def __exit__(self, *exc) -> None:
        self._restore()


class PatchParallelDecode(_RowBands):
    """Context manager: while open, ``vae.decode(latents)`` on every rank of ``group`` (default: the world)
    returns this rank's band of rows ``(B, 3, F, H/N, W)``; :meth:`gather` makes the full video of it. The patch
    (forward hooks and the conv paddings) is removed on exit, also after an error.

    ``vae``: an ``AutoencoderKLWan`` (Wan 2.1 or 2.2 layout). Raises ``ValueError`` on entry for a VAE this
    cannot split (see the module docstring) and inside ``decode`` when the latent height does not split."""

    part, verb = "decoder", "decoding"

    def _split_rows(self, _module, _args, output: torch.Tensor) -> torch.Tensor:
        """After the mid block: ``(B, C, t, h, w)`` -> this rank's rows ``(B, C, t, h/N, w)``."""
        height = output.shape[-2]
        check_split(height, self.size)
        band = height // self.size
        return output[..., self.rank * band : (self.rank + 1) * band, :].contiguous(memory_format=memory_format(output))

    def _patch(self) -> None:
        decoder = self.vae.decoder
        self._handles.append(decoder.mid_block.register_forward_hook(self._split_rows))
        for prefix, root in [("up_blocks", decoder.up_blocks), ("norm_out", decoder.norm_out), ("conv_out", decoder.conv_out)]:
            self._patch_same_convs(prefix, root)


class PatchParallelEncode(_RowBands):
    """Context manager: while open, ``vae.encode(video)`` on every rank of ``group`` (default: the world), every
    rank passing the same whole video ``(B, 3, F, H, W)``, convolves this rank's band of rows up to the encoder's
    mid block and returns the whole latent distribution (mean and log-variance ``(B, 2z, f, h, w)``), equal to
    the one-process encode. The patch (forward hooks and the conv paddings) is removed on exit, also after an
    error.

    ``vae``: an ``AutoencoderKLWan`` in the Wan 2.1 layout. Raises ``ValueError`` on entry for a VAE this cannot
    split (the Wan 2.2 layout, attention or another row-mixing module before the mid block, tiling on, already
    patched) and inside ``encode`` when the video height does not split (:func:`check_encode_split`)."""

    part, verb = "encoder", "encoding"

    def __init__(self, vae, group=None):
        super().__init__(vae, group)
        self.downsamples = _spatial_downsamples(vae)

    def _take_rows(self, _module, args, kwargs):
        """Pre-hook of the encoder: a chunk ``(B, 3, T, H, W)`` -> this rank's rows ``(B, 3, T, H/N, W)``."""
        x = args[0]
        check_encode_split(x.shape[-2], self.size, self.downsamples)
        band = x.shape[-2] // self.size
        rows = x[..., self.rank * band : (self.rank + 1) * band, :].contiguous(memory_format=memory_format(x))
        return (rows, *args[1:]), kwargs

    def _gather_rows(self, _module, args, kwargs):
        """Pre-hook of the mid block: the bands ``(B, C, T, hb, w)`` -> the whole ``(B, C, T, h, w)`` on every rank."""
        return (self.gather(args[0], keep_layout=True), *args[1:]), kwargs

    def _patch_downsample(self, name: str, module: WanResample) -> set:
        where = f"encoder.{name}"
        seq = module.resample
        pad, conv = (seq[0], seq[1]) if isinstance(seq, nn.Sequential) and len(seq) == 2 else (None, None)
        if not (
            isinstance(pad, nn.ZeroPad2d)
            and tuple(pad.padding) == (0, 1, 0, 1)
            and isinstance(conv, nn.Conv2d)
            and conv.padding_mode == "zeros"
            and tuple(conv.kernel_size) == (3, 3)
            and tuple(conv.stride) == (2, 2)
            and tuple(conv.padding) == (0, 0)
            and tuple(conv.dilation) == (1, 1)
        ):
            raise ValueError(
                f"vae: {where} is not Wan's downsampler (ZeroPad2d((0, 1, 0, 1)) then a 3x3 stride-2 Conv2d "
                "without padding); only that splits into row bands"
            )
        self._convs.downsample(pad, conv, self, where)  # x, its right column and the top row of the band below
        return {pad, conv}

    def _patch(self) -> None:
        refusal = _layout_refusal(self.vae)
        if refusal is not None:
            raise ValueError(refusal)
        encoder = self.vae.encoder
        self._handles.append(encoder.register_forward_pre_hook(self._take_rows, with_kwargs=True))
        handled: set = set()
        for name, module in encoder.down_blocks.named_modules(prefix="down_blocks"):
            if isinstance(module, WanResample) and module.mode in DOWNSAMPLE_MODES:
                handled |= self._patch_downsample(name, module)
        self._patch_same_convs("conv_in", encoder.conv_in)
        self._patch_same_convs("down_blocks", encoder.down_blocks, skip=handled)
        self._handles.append(encoder.mid_block.register_forward_pre_hook(self._gather_rows, with_kwargs=True))


def _integer_row_scale(module: nn.Upsample) -> bool:
    """Whether a nearest upsampling maps each input row to a whole number of output rows (band-local)."""
    scale = module.scale_factor
    if scale is None:
        return False
    scale = scale[-2] if isinstance(scale, (tuple, list)) else scale
    return float(scale).is_integer() and scale >= 1


def patch_parallel_decode(vae, latents: torch.Tensor, group=None, chunk: int = 1) -> torch.Tensor:
    """Decode ``latents`` ``(B, z, f, h, w)`` (already de-normalised, the VAE's dtype and device) over the ranks
    of ``group``; every rank must call it with the same latents. Returns the whole video ``(B, 3, F, H, W)``,
    clamped to [-1, 1], on every rank: equal to ``vae.decode(latents).sample`` in one process (``chunk`` latent
    frames per decoder call after frame 0: :func:`engine.storymem.vae_chunks.decode`). Raises ``ValueError``
    (``latents``) when ``h`` does not split into the group's size, before any communication."""
    if latents.dim() != 5:
        raise ValueError(f"latents must be (B, C, f, h, w), got shape {tuple(latents.shape)}")
    split = PatchParallelDecode(vae, group)
    check_split(latents.shape[-2], split.size)
    with split:
        band = vae_chunks.decode(vae, latents, chunk)  # (B, 3, F, H/N, W)
    return split.gather(band)


def patch_parallel_encode(vae, video: torch.Tensor, group=None, chunk: int = 4):
    """Encode ``video`` ``(B, 3, F, H, W)`` (pixels in [-1, 1], the VAE's dtype and device) over the ranks of
    ``group``; every rank must call it with the same video. Returns the whole latent distribution (diffusers'
    ``DiagonalGaussianDistribution``; ``.mode()`` is the latent means ``(B, z, f, h, w)``) on every rank, equal to
    ``vae.encode(video).latent_dist`` in one process (``chunk`` pixel frames per encoder call after frame 0:
    :func:`engine.storymem.vae_chunks.encode`). Raises ``ValueError`` (``video``) when ``H`` does not split
    into the group's size with even bands at every downsample (:func:`check_encode_split`), and (``vae``) for a
    VAE the patch refuses, before any communication."""
    if video.dim() != 5:
        raise ValueError(f"video must be (B, 3, F, H, W), got shape {tuple(video.shape)}")
    split = PatchParallelEncode(vae, group)
    check_encode_split(video.shape[-2], split.size, split.downsamples)
    with split:
        return vae_chunks.encode(vae, video, chunk)  # DiagonalGaussianDistribution over (B, 2z, f, h, w)
