"""One-copy VAE convolutions (engine/storymem/one_copy_conv.py): each swapped conv builds its padded input in one
buffer (counted op by op with a ``TorchDispatchMode`` on the tiny VAE), gives the module's own output bit for bit,
fills a row band's halo from its neighbours (a fake halo here; the gloo tests in
tests/test_storymem_parallel_vae.py run the real exchange), and is removed after the call and after an error."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d
from torch.utils._python_dispatch import TorchDispatchMode

from engine.storymem import vae_chunks
from engine.storymem.one_copy_conv import OneCopyConvs
from engine.storymem.testing import tiny_vae

COPIES = {"aten.cat.default", "aten.constant_pad_nd.default", "aten.copy_.default", "aten.clone.default"}
FILLS = {"aten.zero_.default", "aten.fill_.Scalar"}


def _bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class _Ledger(TorchDispatchMode):
    """Per call of a ``WanCausalConv3d``: the bytes written by copy ops and by fills between its pre-hook and its
    convolution, the convolution's input size, and whether that input is ``x`` itself."""

    def __init__(self, vae):
        super().__init__()
        self.calls: list[dict] = []
        self._open = None
        self._handles = [
            m.register_forward_pre_hook(self._start) for m in vae.modules() if isinstance(m, WanCausalConv3d)
        ]

    def _start(self, _module, args):
        self._open = {"x": args[0].data_ptr(), "copied": 0, "filled": 0}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        call, name = self._open, str(func)
        if call is not None and not (isinstance(out, torch.Tensor) and out.is_meta):  # meta: the layout, no bytes
            if name in COPIES:
                call["copied"] += _bytes(out)
            elif name in FILLS:
                call["filled"] += _bytes(out)
            elif name == "aten.convolution.default":
                call |= {"input": _bytes(args[0]), "is_x": args[0].data_ptr() == call["x"]}
                self.calls.append(call)
                self._open = None
        return out

    def remove(self):
        for handle in self._handles:
            handle.remove()


def _ledger(vae, call) -> list[dict]:
    ledger = _Ledger(vae)
    try:
        with torch.no_grad(), ledger:
            call()
    finally:
        ledger.remove()
    return ledger.calls


def _latents():
    return torch.randn(1, 16, 3, 6, 8, generator=torch.Generator().manual_seed(1))  # 9 frames of 48 x 64


def _video():
    return torch.rand(1, 3, 9, 48, 64, generator=torch.Generator().manual_seed(2)) * 2 - 1


@pytest.mark.parametrize("what", ["decode", "encode"])
def test_every_causal_conv_builds_its_input_in_one_copy(what):
    vae = tiny_vae()
    if what == "decode":
        ours = _ledger(vae, lambda: vae_chunks.decode(vae, _latents(), 2))
        theirs = _ledger(vae, lambda: vae.decode(_latents()))
    else:
        ours = _ledger(vae, lambda: vae_chunks.encode(vae, _video(), 8))
        theirs = _ledger(vae, lambda: vae.encode(_video()))
    assert ours and theirs
    for call in ours:
        if call["is_x"]:  # no padding, no cache (the 1x1x1 shortcuts and quant convs, the strided time convs)
            assert call["copied"] == call["filled"] == 0, call
        else:  # one buffer: every byte of it written once, by a copy (cache, x) or a fill (the zero borders)
            assert call["copied"] + call["filled"] == call["input"], call
    # diffusers: cat then F.pad (a clone even with no padding) -- never its input as is
    assert not any(call["is_x"] for call in theirs)
    assert sum(c["copied"] for c in theirs) > 1.5 * sum(c["copied"] for c in ours)


@pytest.mark.parametrize("chunk", [1, 2])
def test_one_copy_decode_and_encode_equal_diffusers_bit_for_bit(chunk):
    vae = tiny_vae()
    with torch.no_grad():
        reference = vae.decode(_latents()).sample
        out = vae_chunks.decode(vae, _latents(), chunk)
        latents = vae.encode(_video()).latent_dist.parameters
        encoded = vae_chunks.encode(vae, _video(), 4 * chunk).parameters
    if chunk == 1:  # diffusers' loop with the swapped convs: the same conv calls on the same values
        assert torch.equal(out, reference) and torch.equal(encoded, latents)
    else:  # other kernel shapes (tests/test_storymem_vae_chunks.py)
        assert (out - reference).abs().max() < 5e-5 and (encoded - latents).abs().max() < 5e-5


def _swapped(vae) -> list[str]:
    return [name for name, m in vae.named_modules() if "forward" in m.__dict__]


def test_the_swap_is_there_during_the_call_and_gone_after_it_and_after_an_error():
    vae, seen = tiny_vae(), []
    vae.decoder.conv_out.register_forward_pre_hook(lambda m, _a: seen.append("forward" in m.__dict__))
    with torch.no_grad():
        vae_chunks.decode(vae, _latents(), 2)
        assert seen and all(seen) and _swapped(vae) == [] and vae._one_copy_convs is None
        with pytest.raises(RuntimeError):  # 8 latent channels for a 16-channel conv: fails inside the decoder
            vae_chunks.decode(vae, _latents()[:, :8], 2)
        assert _swapped(vae) == [] and vae._one_copy_convs is None
        with pytest.raises(KeyError), OneCopyConvs(vae):
            assert len(_swapped(vae)) == sum(isinstance(m, WanCausalConv3d) for m in vae.modules())
            raise KeyError("inside")
        assert _swapped(vae) == [] and vae._one_copy_convs is None


def test_diffusers_loop_is_untouched_for_tiling_and_nesting_keeps_the_outer_swap():
    vae, seen = tiny_vae(), []
    vae.decoder.conv_out.register_forward_pre_hook(lambda m, _a: seen.append("forward" in m.__dict__))
    vae.enable_tiling()
    with torch.no_grad():
        vae_chunks.decode(vae, _latents(), 2)
    assert seen and not any(seen)
    vae.disable_tiling()
    with OneCopyConvs(vae) as outer:
        assert vae._one_copy_convs is outer
        with vae_chunks.one_copy_convs(vae):  # nothing changes inside an outer swap
            assert vae._one_copy_convs is outer
        assert vae._one_copy_convs is outer and _swapped(vae)
        with pytest.raises(ValueError, match="already swapped"), OneCopyConvs(vae):
            pass
        assert vae._one_copy_convs is outer
    assert _swapped(vae) == []


def test_an_offload_hooks_forward_is_kept_in_one_process_and_refused_for_bands():
    conv = WanCausalConv3d(4, 4, 3, padding=1)
    hooked = conv.forward
    conv.forward = lambda *a, **k: hooked(*a, **k)  # what accelerate's add_hook_to_module does
    mine = conv.forward
    convs = OneCopyConvs(nn.Module())
    convs.causal(conv)
    assert conv.forward is mine
    with pytest.raises(ValueError, match="has its forward replaced"):
        convs.causal(conv, halo=_FakeHalo(torch.zeros(1), 0, 1))
    convs.restore()
    assert conv.forward is mine


# ---------------------------------------------------------------------------- row bands (fake halo)


class _FakeHalo:
    """The neighbours of rows ``[start, stop)`` of ``whole`` ``(..., H, W)``, checking the edges it is sent."""

    def __init__(self, whole: torch.Tensor, start: int, stop: int):
        self.whole, self.start, self.stop, self.sent = whole, start, stop, []

    def neighbour_rows(self, edges, rows, below):
        whole, start, stop = self.whole, self.start, self.stop
        assert torch.equal(edges[..., :below, :], whole[..., start : start + below, :])
        assert torch.equal(edges[..., below:, :], whole[..., stop - rows : stop, :])
        self.sent.append(edges.shape)
        above = whole[..., start - rows : start, :] if start > 0 else None
        under = whole[..., stop : stop + below, :] if stop < whole.shape[-2] else None
        return above, under


BANDS = [(0, 6), (6, 12), (3, 9)]  # top, bottom, middle band of 12 rows


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("cache_frames", [0, 1, 2])
def test_a_causal_conv_band_with_halo_is_the_slice_of_the_whole_conv(band, cache_frames):
    torch.manual_seed(0)
    conv, (start, stop) = WanCausalConv3d(4, 6, 3, padding=1), band
    x, cache = torch.randn(1, 4, 3, 12, 10), torch.randn(1, 4, cache_frames, 12, 10)
    cache = cache if cache_frames else None
    enabled, torch.backends.mkldnn.enabled = torch.backends.mkldnn.enabled, False
    try:
        with torch.no_grad():
            whole = conv(x, cache)  # diffusers' forward
            halo = _FakeHalo(x if cache is None else torch.cat([cache, x], dim=2), start, stop)
            convs = OneCopyConvs(nn.Module())
            convs.causal(conv, halo)
            band_cache = None if cache is None else cache[..., start:stop, :]
            calls = _ledger_module(lambda: conv(x[..., start:stop, :], band_cache))
            convs.restore()
    finally:
        torch.backends.mkldnn.enabled = enabled
    assert torch.equal(calls["out"], whole[..., start:stop, :])
    assert halo.sent == [(1, 4, 3 + cache_frames, 2, 10)]
    # one buffer (C, Tpad + Tc + T, hb + 2, W + 2) float32, each byte written once; besides it only the edge rows
    assert calls["input"] == 4 * (2 + 3) * (stop - start + 2) * 12 * 4 == calls["into_input"]
    assert calls["elsewhere"] == 4 * (3 + cache_frames) * 2 * 10 * 4 and calls["cats"] == 0
    assert "forward" not in conv.__dict__


def _ledger_module(call) -> dict:
    """While ``call`` runs one swapped conv: the bytes copied and filled into its convolution's input buffer, the
    bytes copied elsewhere (the edge rows sent to the neighbours), the cat/pad calls, and its output."""
    ops = []

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor) and not out.is_meta:  # meta tensors: the buffer's layout, no bytes
                ops.append((str(func), out.untyped_storage().data_ptr(), _bytes(out)))
            if str(func) == "aten.convolution.default":
                ops.append(("input", args[0].untyped_storage().data_ptr(), _bytes(args[0])))
            return out

    with Mode():
        out = call()
    (buffer, size), = [(ptr, n) for name, ptr, n in ops if name == "input"]
    return {
        "out": out,
        "input": size,
        "into_input": sum(n for name, ptr, n in ops if name in COPIES | FILLS and ptr == buffer),
        "elsewhere": sum(n for name, ptr, n in ops if name in COPIES | FILLS and ptr != buffer),
        "cats": sum(name in ("aten.cat.default", "aten.constant_pad_nd.default") for name, _, _ in ops),
    }


@pytest.mark.parametrize("band", BANDS)
def test_an_upsampler_conv2d_band_with_halo_is_the_slice_of_the_whole_conv(band):
    torch.manual_seed(0)
    conv, (start, stop), x = nn.Conv2d(4, 6, 3, padding=1), band, torch.randn(3, 4, 12, 10)
    enabled, torch.backends.mkldnn.enabled = torch.backends.mkldnn.enabled, False
    try:
        with torch.no_grad():
            whole = conv(x)
            convs = OneCopyConvs(nn.Module())
            convs.conv2d(conv, _FakeHalo(x, start, stop))
            out = conv(x[..., start:stop, :])
            convs.restore()
    finally:
        torch.backends.mkldnn.enabled = enabled
    assert torch.equal(out, whole[..., start:stop, :]) and "forward" not in conv.__dict__


@pytest.mark.parametrize("band", [(0, 6), (6, 12), (4, 8)])  # bands start at even rows (check_encode_split)
def test_a_downsampler_band_gets_the_row_below_and_refuses_odd_bands(band):
    torch.manual_seed(0)
    (start, stop), x = band, torch.randn(3, 4, 12, 30)  # outputs of 2 x 15 pixels: MKL's kernel for >= 12
    downsample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(4, 4, 3, stride=(2, 2)))
    enabled, torch.backends.mkldnn.enabled = torch.backends.mkldnn.enabled, False
    try:
        with torch.no_grad():
            whole = downsample(x)  # (3, 4, 6, 15)
            convs = OneCopyConvs(nn.Module())
            convs.downsample(downsample[0], downsample[1], _FakeHalo(x, start, stop), "encoder.down")
            out = downsample(x[..., start:stop, :])
            with pytest.raises(ValueError, match=r"a band of 5 rows \(odd\) reaches encoder.down"):
                downsample(x[..., :5, :])
            convs.restore()
    finally:
        torch.backends.mkldnn.enabled = enabled
    assert torch.equal(out, whole[..., start // 2 : stop // 2, :])
    assert all("forward" not in m.__dict__ for m in downsample)


def test_a_band_thinner_than_the_halo_is_refused():
    conv = WanCausalConv3d(4, 4, 3, padding=1)
    convs = OneCopyConvs(nn.Module())
    convs.causal(conv, _FakeHalo(torch.zeros(1, 4, 1, 12, 10), 0, 1))
    with pytest.raises(ValueError, match="a band of 0 rows is thinner than the 1-row halo"):
        conv(torch.zeros(1, 4, 1, 0, 10))
    convs.restore()


class _ConvInputs(TorchDispatchMode):
    """The (shape, strides) of every convolution's input."""

    def __init__(self):
        super().__init__()
        self.inputs: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func) == "aten.convolution.default":
            self.inputs.append((tuple(args[0].shape), args[0].stride()))
        return func(*args, **(kwargs or {}))


def test_every_conv_input_has_diffusers_layout_with_channels_last_weights_and_a_batch_of_two():
    """With the engine's CUDA layout (channels-last weights) and B = 2, diffusers' per-frame slices are not dense:
    ``F.pad``/``cat`` lay the padded input out by stride order (channels-last here, contiguous where cache and ``x``
    disagree), so a buffer made in ``x``'s "memory format" had the other layout in 12 of 113 decoder convs, i.e.
    another kernel on cuDNN. Every conv must get exactly the strides diffusers' forward gives it."""
    from engine.storymem.engine import channels_last_3d

    vae = tiny_vae()
    channels_last_3d(vae)
    latents = torch.randn(2, 16, 3, 6, 8, generator=torch.Generator().manual_seed(3))
    video = torch.rand(2, 3, 9, 48, 64, generator=torch.Generator().manual_seed(4)) * 2 - 1
    for call, ours in (
        (lambda: vae.decode(latents).sample, lambda: vae_chunks.decode(vae, latents, 1)),
        (lambda: vae.encode(video).latent_dist.parameters, lambda: vae_chunks.encode(vae, video, 4).parameters),
    ):
        with torch.no_grad(), _ConvInputs() as theirs_seen:
            reference = call()
        with torch.no_grad(), _ConvInputs() as ours_seen:
            out = ours()
        assert ours_seen.inputs == theirs_seen.inputs
        assert torch.equal(out, reference)
