"""Tests of rankatt_lib.components.pnr: the PNR score of Eq. 2 and the correlation of Eq. 1."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rankatt_lib.components.pnr import DEFAULT_PNR_EPS, pnr, response


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Small tensors: intra-op threads only add overhead, and stall badly on a busy shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# ------------------------------------------------------------------------------- pnr: values


def test_hand_computed_values():
    # max 4, min 0, mean(m / 4) = (0 + .25 + .5 + 1) / 4 = 0.4375 -> 4 / 0.4375 = 64 / 7
    assert pnr(t([[0, 1], [2, 4]])).item() == pytest.approx(64 / 7, rel=1e-12)
    # max 6, min 1, mean(m / 6) = 12 / 24 = 0.5 -> 5 / 0.5 = 10
    assert pnr(t([[1, 2], [3, 6]])).item() == pytest.approx(10.0, rel=1e-12)
    # one row, negative minimum: max 3, min -1, mean(m / 3) = (3 - 1 + 1) / 9 = 1/3 -> 4 * 3 = 12
    assert pnr(t([[3, -1, 1]])).item() == pytest.approx(12.0, rel=1e-12)


def test_delta_map_is_area_times_peak():
    m = torch.zeros(5, 7, dtype=torch.float64)
    m[2, 3] = 2.5
    # (2.5 - 0) / (1 / 35) = 87.5
    assert pnr(m).item() == pytest.approx(87.5, rel=1e-12)


def test_single_map_gives_a_0d_tensor_same_dtype():
    out = pnr(torch.ones(3, 3, dtype=torch.float32))
    assert out.shape == () and out.dtype == torch.float32


@pytest.mark.parametrize("value", [0.0, 1.0, 7.5, -2.0])
def test_flat_map_scores_zero(value):
    assert pnr(torch.full((6, 6), value)).item() == 0.0


def test_all_negative_map_scores_zero():
    m = -torch.rand(8, 8, generator=torch.Generator().manual_seed(0)) - 0.1
    assert pnr(m).item() == 0.0


def test_negative_denominator_scores_zero():
    # max 1, mean(m / max) = (1 - 10) / 2 = -4.5 <= eps -> 0 (the formula would give -11/4.5)
    assert pnr(t([[1.0, -10.0]])).item() == 0.0


def test_tiny_denominator_guard_is_exactly_eps():
    # m = [1, -1 + d]: mean(m / max) = d / 2
    below = pnr(t([[1.0, -1.0 + 1e-6]]), eps=1e-6)  # d/2 = 5e-7 <= eps
    above = pnr(t([[1.0, -1.0 + 4e-6]]), eps=1e-6)  # d/2 = 2e-6 > eps -> (2 - 4e-6) / 2e-6
    assert below.item() == 0.0
    assert above.item() == pytest.approx((2 - 4e-6) / 2e-6, rel=1e-6)
    assert DEFAULT_PNR_EPS == 1e-6


def test_non_finite_inputs_and_overflow_score_zero():
    m = torch.rand(4, 5, 5)
    m[0, 1, 1] = float("nan")
    m[1, 2, 2] = float("inf")
    m[2, 0, 0] = 3e38
    m[2, 0, 1] = -3e38  # max - min overflows float32
    out = pnr(m)
    assert torch.isfinite(out).all()
    assert out[:3].tolist() == [0.0, 0.0, 0.0]
    assert out[3] > 0


def test_random_maps_are_finite_and_non_negative():
    g = torch.Generator().manual_seed(1)
    scales = torch.logspace(-30, 30, 13)
    maps = torch.randn(13, 50, 31, 31, generator=g) * scales[:, None, None, None]
    maps[:, 25:] = maps[:, 25:].abs()  # half of them positive
    out = pnr(maps)
    assert out.shape == (13, 50)
    assert torch.isfinite(out).all()
    assert (out >= 0).all()
    assert (out[:, 25:] > 0).all()


# ------------------------------------------------------------------------------- pnr: properties


@pytest.mark.parametrize("a", [0.5, 3.0, 1e3])
def test_positive_scaling_scales_the_score(a):
    # numerator scales by a, denominator mean(m / max m) is invariant -> PNR(a m) = a PNR(m)
    m = torch.rand(3, 9, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) - 0.2
    base = pnr(m)
    assert (base > 0).all()
    torch.testing.assert_close(pnr(a * m), a * base, rtol=1e-12, atol=0)


def test_invariant_to_pixel_order():
    m = torch.rand(7, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    perm = torch.randperm(63, generator=torch.Generator().manual_seed(4))
    shuffled = m.flatten()[perm].reshape(9, 7)  # different shape too: only the values matter
    assert pnr(shuffled).item() == pytest.approx(pnr(m).item(), rel=1e-12)


def test_batched_equals_looped():
    g = torch.Generator().manual_seed(5)
    m = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    m[0, 0] = m[0, 0].abs()
    m[1, 2] = -m[1, 2].abs()
    out = pnr(m)
    assert out.shape == (2, 3)
    looped = torch.stack([torch.stack([pnr(m[i, j]) for j in range(3)]) for i in range(2)])
    torch.testing.assert_close(out, looped, rtol=0, atol=0)
    assert out[1, 2].item() == 0.0


def test_rejects_1d_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., h, w\)"):
        pnr(torch.ones(5))


def test_integer_maps_are_accepted():
    assert pnr(torch.tensor([[0, 1], [2, 4]])).item() == pytest.approx(64 / 7, rel=1e-6)


# ------------------------------------------------------------------------------- response


def test_response_is_cross_correlation_with_same_padding():
    g = torch.Generator().manual_seed(6)
    kernel = torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(2, 3, 5, 6, generator=g, dtype=torch.float64)
    out = response(kernel, x)
    assert out.shape == (2, 2, 5, 6)
    xp = F.pad(x, (1, 1, 1, 1))
    manual = torch.zeros_like(out)
    for b in range(2):
        for n in range(2):
            for i in range(5):
                for j in range(6):
                    manual[b, n, i, j] = (kernel[n] * xp[b, :, i : i + 3, j : j + 3]).sum()
    torch.testing.assert_close(out, manual)


def test_response_does_not_flip_the_kernel():
    x = torch.arange(2 * 7 * 7, dtype=torch.float32).reshape(1, 2, 7, 7)
    kernel = torch.zeros(1, 2, 5, 5)
    kernel[0, 1, 2, 3] = 1.0  # one cell right of the centre, channel 1
    out = response(kernel, x)
    # correlation: out[i, j] = x[1, i, j + 1] (zero beyond the border)
    torch.testing.assert_close(out[0, 0, :, :6], x[0, 1, :, 1:])
    assert (out[0, 0, :, 6] == 0).all()


def test_response_paper_shapes():
    kernels = torch.randn(3, 512, 11, 11)
    xS = torch.rand(1, 512, 31, 31)
    assert response(kernels, xS).shape == (1, 3, 31, 31)
    assert response(kernels[0], xS).shape == (1, 1, 31, 31)  # (C, k, k) is one kernel


def test_response_shape_errors_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) with C = 4"):
        response(torch.ones(2, 4, 3, 3), torch.ones(1, 5, 9, 9))
    with pytest.raises(ValueError, match=r"\(N, C, k, k\)"):
        response(torch.ones(4, 3), torch.ones(1, 4, 9, 9))


def test_score_of_a_peaked_response_is_higher_than_of_a_flat_one():
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    sharp = torch.zeros(1, 1, 3, 3)
    sharp[0, 0, 1, 1] = 1.0
    blur = torch.ones(1, 1, 3, 3) / 9 * 1.0
    s_sharp, s_blur = pnr(response(sharp, x)[0, 0]), pnr(response(blur, x)[0, 0])
    assert s_sharp.item() == pytest.approx(225.0)  # delta: 1 / (1/225)
    assert s_blur.item() == pytest.approx((1 / 9) / (9 / 225))  # 9 cells at 1/9
    assert math.isfinite(s_blur.item()) and s_sharp > s_blur
