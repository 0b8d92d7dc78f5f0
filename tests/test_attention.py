"""Tests of rankatt_lib.components.attention: Eq. 8, the residual attention on xL, and the loss of Eq. 9."""

from __future__ import annotations

import pytest
import torch

from rankatt_lib.components.attention import (
    ATTENTION_VARIANTS,
    AttentionConfig,
    apply_attention,
    attention_map,
    normalise_attention,
    ranking_loss,
    upsample_attention,
)
from rankatt_lib.components.pnr import response

GEN = torch.Generator().manual_seed(0)


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Small tensors: intra-op threads only add overhead, and stall badly on a busy shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def rand(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=GEN, dtype=torch.float64)


# ------------------------------------------------------------------------------- Eq. 8


def test_attention_map_shared_kernel_is_the_response():
    h, xS = rand(1, 6, 3, 3) - 0.5, rand(3, 6, 9, 9)
    m = attention_map(h, xS)
    assert m.shape == (3, 1, 9, 9)
    torch.testing.assert_close(m, response(h, xS))


def test_attention_map_paired_kernels_equal_the_loop():
    h, xS = rand(3, 6, 3, 3) - 0.5, rand(3, 6, 9, 9)
    m = attention_map(h, xS)
    looped = torch.cat([response(h[b : b + 1], xS[b : b + 1]) for b in range(3)])
    torch.testing.assert_close(m, looped)


def test_attention_map_paper_shapes():
    assert attention_map(torch.randn(1, 512, 11, 11), torch.rand(3, 512, 31, 31)).shape == (3, 1, 31, 31)


def test_attention_map_shape_errors():
    with pytest.raises(ValueError, match=r"h \(1, C, k, k\) or \(B, C, k, k\)"):
        attention_map(rand(2, 6, 3, 3), rand(3, 6, 9, 9))
    with pytest.raises(ValueError, match="same C"):
        attention_map(rand(1, 5, 3, 3), rand(3, 6, 9, 9))


# ------------------------------------------------------------------------------- a(m)


def test_normalisation_is_relu_over_max_per_sample():
    m = torch.tensor([[[[-1.0, 2.0], [4.0, 1.0]]], [[[0.5, -3.0], [0.25, 0.0]]]])
    a = normalise_attention(m)
    expected = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]], [[[1.0, 0.0], [0.5, 0.0]]]])
    torch.testing.assert_close(a, expected)


def test_normalisation_range_on_random_maps():
    a = normalise_attention(torch.randn(5, 1, 31, 31, generator=GEN) * 1e3)
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a.amax(dim=(-2, -1)), torch.ones(5, 1))


@pytest.mark.parametrize("fill", [0.0, -1.0, -1e30])
def test_normalisation_of_zero_or_negative_maps_is_zero(fill):
    a = normalise_attention(torch.full((2, 1, 7, 7), fill))
    assert torch.isfinite(a).all() and (a == 0).all()


# ------------------------------------------------------------------------------- upsampling


def test_upsample_on_cell_geometry_31_to_63():
    # conv3_3 cell j is at conv4_3 coordinate j/2 - 1/4 (cell centres 4j + 1.5 and 8i + 3.5)
    ramp = torch.arange(31, dtype=torch.float64).expand(1, 1, 31, 31)
    up = upsample_attention(ramp, (63, 63))
    assert up.shape == (1, 1, 63, 63)
    j = torch.arange(63, dtype=torch.float64)
    expected = (j / 2 - 0.25).clamp(0, 30)
    torch.testing.assert_close(up[0, 0, 5], expected)
    torch.testing.assert_close(up[0, 0, :, 40], torch.full((63,), expected[40].item(), dtype=torch.float64))


def test_upsample_32_to_64_and_resize_mode():
    m = rand(2, 1, 32, 32)
    assert upsample_attention(m, (64, 64)).shape == (2, 1, 64, 64)
    m31 = rand(2, 1, 31, 31)
    resized = upsample_attention(m31, (63, 63), mode="resize")
    assert resized.shape == (2, 1, 63, 63)
    # "resize" stretches: its far border sample is the last input cell, "cells" the same (clamped)
    assert not torch.allclose(resized, upsample_attention(m31, (63, 63)))


# ------------------------------------------------------------------------------- apply_attention


def test_residual_is_identity_where_attention_is_zero():
    xL = rand(2, 4, 63, 63)
    out = apply_attention(xL, -rand(2, 1, 31, 31) - 0.1)  # all negative: a = 0 everywhere
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, xL, rtol=0, atol=0)
    torch.testing.assert_close(apply_attention(xL, torch.zeros(2, 1, 31, 31)), xL, rtol=0, atol=0)


def test_residual_doubles_where_attention_is_one():
    xL = rand(2, 4, 63, 63)
    out = apply_attention(xL, torch.full((2, 1, 31, 31), 3.0))  # constant: a = 1 everywhere
    torch.testing.assert_close(out, 2 * xL)


def test_residual_with_a_local_peak():
    xL = rand(1, 4, 63, 63)
    m = torch.zeros(1, 1, 31, 31, dtype=torch.float64)
    m[0, 0, 10, 20] = 5.0
    out = apply_attention(xL, m)
    a = normalise_attention(upsample_attention(m, (63, 63)))
    torch.testing.assert_close(out, xL * (1 + a))
    # conv4_3 cell (10, 20) is conv3_3 coordinate (20.5, 40.5): cells 20/21 x 40/41 get a = 1
    assert a[0, 0, 20:22, 40:42].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    torch.testing.assert_close(out[0, :, 20:22, 40:42], 2 * xL[0, :, 20:22, 40:42])
    torch.testing.assert_close(out[0, :, :15], xL[0, :, :15], rtol=0, atol=0)  # far away: unchanged


def test_multiply_and_none_variants():
    xL = rand(3, 4, 63, 63)
    m = rand(3, 1, 31, 31) - 0.3
    a = normalise_attention(upsample_attention(m, (63, 63)))
    torch.testing.assert_close(apply_attention(xL, m, "multiply"), xL * a)
    torch.testing.assert_close(apply_attention(xL, m, "none"), xL, rtol=0, atol=0)
    cfg = AttentionConfig(variant="multiply")
    torch.testing.assert_close(apply_attention(xL, m, config=cfg), xL * a)
    assert ATTENTION_VARIANTS == ("residual", "multiply", "none")


def test_one_map_broadcasts_over_the_batch():
    xL = rand(3, 4, 63, 63)
    m = rand(1, 1, 31, 31)
    out = apply_attention(xL, m)
    for b in range(3):
        torch.testing.assert_close(out[b : b + 1], apply_attention(xL[b : b + 1], m))


def test_apply_attention_shape_errors_and_bad_config():
    with pytest.raises(ValueError, match=r"\(B, 1, H8, W8\)"):
        apply_attention(rand(3, 4, 63, 63), rand(2, 1, 31, 31))
    with pytest.raises(ValueError, match=r"\(B, C, H4, W4\)"):
        apply_attention(rand(4, 63, 63), rand(1, 1, 31, 31))
    with pytest.raises(ValueError, match="variant must be one of"):
        AttentionConfig(variant="sum")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- Eq. 9


def test_ranking_loss_hand_computed():
    h = torch.tensor([[[[2.0]]]])  # (1, 1, 1, 1)
    xS = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    yS = torch.ones(1, 2, 2)
    # h * xS = [[2, 4], [6, 8]], errors 1, 3, 5, 7 -> mean of squares 84 / 4 = 21; ||h||^2 = 4
    assert ranking_loss(h, xS, yS, lam1=0.5).item() == pytest.approx(21.0 + 0.5 * 4)
    assert ranking_loss(h, xS, yS).item() == pytest.approx(21.0 + 1e-10 * 4)
    assert ranking_loss(h, xS, torch.ones(2, 2), lam1=0.0).item() == pytest.approx(21.0)  # shared label


def test_ranking_loss_with_padding_and_batches():
    # 3x3 kernel, 'same' padding: one sample's map computed by hand at a border cell
    h = torch.zeros(2, 1, 3, 3)
    h[0, 0, 1, 1] = 1.0  # identity
    h[1, 0, 1, 2] = 1.0  # shift: m[i, j] = x[i, j + 1], 0 in the last column
    xS = torch.arange(2 * 9, dtype=torch.float32).reshape(2, 1, 3, 3)
    yS = torch.zeros(2, 3, 3)
    per = ranking_loss(h, xS, yS, lam1=0.25, reduction="none")
    e0 = (xS[0, 0] ** 2).mean() + 0.25
    shifted = torch.cat([xS[1, 0, :, 1:], torch.zeros(3, 1)], dim=1)
    e1 = (shifted**2).mean() + 0.25
    torch.testing.assert_close(per, torch.stack([e0, e1]))
    torch.testing.assert_close(ranking_loss(h, xS, yS.unsqueeze(1), lam1=0.25), (e0 + e1) / 2)


def test_ranking_loss_gradient_matches_autograd_of_the_formula():
    h = (rand(1, 3, 3, 3) - 0.5).requires_grad_(True)
    xS, yS = rand(2, 3, 6, 6), rand(2, 6, 6)
    ranking_loss(h, xS, yS, lam1=0.1).backward()
    g1 = h.grad.clone()
    h.grad = None
    m = torch.nn.functional.conv2d(xS, h, padding=1)[:, 0]
    (((m - yS) ** 2).mean(dim=(1, 2)).mean() + 0.1 * (h**2).sum()).backward()
    torch.testing.assert_close(g1, h.grad)


def test_ranking_loss_errors():
    with pytest.raises(ValueError, match=r"yS must be \(B, H8, W8\)"):
        ranking_loss(rand(1, 2, 3, 3), rand(2, 2, 5, 5), rand(2, 4, 4))
    with pytest.raises(ValueError, match="reduction"):
        ranking_loss(rand(1, 2, 3, 3), rand(2, 2, 5, 5), rand(2, 5, 5), reduction="sum")  # type: ignore[arg-type]
