"""Memory placement on the time axis: positions of both settings, and the swapped-in RoPE module against
diffusers' stock one."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

from engine.storymem.rope import PositionalRotaryEmbed, install_positional_rope, memory_frame_positions
from engine.storymem.testing import tiny_transformer


def test_released_positions_put_memory_first():
    assert memory_frame_positions(3, 21, "released").tolist() == list(range(24))
    assert memory_frame_positions(0, 21, "released").tolist() == list(range(21))


def test_paper_positions_put_memory_at_negative_times():
    positions = memory_frame_positions(3, 21, "paper").tolist()
    assert positions[:3] == [-15.0, -10.0, -5.0]  # -M*S ... -S with S = 5
    assert positions[3:] == list(range(21))
    assert memory_frame_positions(10, 21, "paper")[0] == -50
    assert memory_frame_positions(2, 4, "paper", stride=3).tolist() == [-6, -3, 0, 1, 2, 3]


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="memory_positions"):
        memory_frame_positions(1, 2, "negative")


@pytest.mark.parametrize("head_dim, shape", [(12, (1, 4, 5, 6, 8)), (128, (1, 4, 24, 60, 104))])
def test_default_tables_equal_stock_tables_exactly(head_dim, shape):
    stock = WanRotaryPosEmbed(head_dim, (1, 2, 2), max_seq_len=1024)
    ours = PositionalRotaryEmbed.like(stock)
    x = torch.zeros(shape)
    for a, b in zip(stock(x), ours(x)):
        assert a.shape == b.shape and torch.equal(a, b)


def test_positions_are_used_for_time_only():
    stock = WanRotaryPosEmbed(12, (1, 2, 2), max_seq_len=64)
    ours = PositionalRotaryEmbed.like(stock)
    x = torch.zeros(1, 4, 5, 6, 8)  # 5 latent frames of 3 x 4 patches
    ours.set_frame_positions(torch.tensor([-10.0, -5.0, 0.0, 1.0, 2.0]))
    cos, sin = ours(x)
    cos = cos.view(5, 3, 4, 12)
    sin = sin.view(5, 3, 4, 12)
    t_dim = ours.t_dim
    inv_freq = 1.0 / (10000 ** (torch.arange(0, t_dim, 2, dtype=torch.float64) / t_dim))
    angle = (-10.0 * inv_freq).repeat_interleave(2)
    torch.testing.assert_close(cos[0, 0, 0, :t_dim].double(), angle.cos(), rtol=0, atol=1e-7)
    torch.testing.assert_close(sin[0, 0, 0, :t_dim].double(), angle.sin(), rtol=0, atol=1e-7)
    stock_cos, _ = stock(x)
    # video frames 0..2 sit where stock frames 0..2 are; height/width channels never change
    assert torch.equal(cos[2:], stock_cos.view(5, 3, 4, 12)[:3])
    assert torch.equal(cos[..., t_dim:], stock_cos.view(5, 3, 4, 12)[..., t_dim:])


def test_wrong_number_of_positions_is_refused():
    ours = PositionalRotaryEmbed(12, (1, 2, 2))
    ours.set_frame_positions(torch.arange(4.0))
    with pytest.raises(ValueError, match="frame positions"):
        ours(torch.zeros(1, 4, 5, 6, 8))


def _forward(model, x, text):
    return model(x, torch.tensor([500]), text, return_dict=False)[0]


def test_released_transformer_equals_stock_exactly():
    """With the module swapped in and released positions (M memory frames at 0..M-1) the transformer is
    diffusers' WanTransformer3DModel, bit for bit, with or without memory frames."""
    stock = tiny_transformer()
    ours = copy.deepcopy(stock)
    install_positional_rope(ours)
    assert isinstance(ours.rope, PositionalRotaryEmbed) and not isinstance(stock.rope, PositionalRotaryEmbed)
    g = torch.Generator().manual_seed(0)
    text = torch.randn(1, 512, 32, generator=g)
    with torch.no_grad():
        for memory in (0, 3):
            x = torch.randn(1, 36, memory + 3, 6, 8, generator=g)
            ours.rope.set_frame_positions(memory_frame_positions(memory, 3, "released") if memory else None)
            assert torch.equal(_forward(stock, x, text), _forward(ours, x, text))
        ours.rope.set_frame_positions(memory_frame_positions(3, 3, "paper"))
        assert not torch.allclose(_forward(stock, x, text), _forward(ours, x, text))


def test_install_is_idempotent():
    model = tiny_transformer()
    rope = install_positional_rope(model)
    assert install_positional_rope(model) is rope
