"""Tests of rankatt_lib.components.ranking: scoring (Eq. 1-2), ordering (Eq. 3) and selection (Eq. 4-5)."""

from __future__ import annotations

import pytest
import torch

from rankatt_lib.components.pnr import pnr
from rankatt_lib.components.ranking import Ranking, RankResult

C, K, H = 4, 5, 15


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Small tensors: intra-op threads only add overhead, and stall badly on a busy shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def peaked_features() -> torch.Tensor:
    """``(1, C, H, H)``: channel 0 is a delta at the centre; other channels are noise."""
    x = torch.rand(1, C, H, H, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[0, 0] = 0.0
    x[0, 0, H // 2, H // 2] = 1.0
    return x


def delta_kernel(scale: float) -> torch.Tensor:
    """``(C, K, K)``: ``scale`` at the centre of channel 0, zero elsewhere.

    Its response on :func:`peaked_features` is ``scale`` times a delta, so its PNR is
    ``scale * H * H`` (max - min = scale, mean(m / max) = 1 / H^2).
    """
    k = torch.zeros(C, K, K, dtype=torch.float64)
    k[0, K // 2, K // 2] = scale
    return k


def ranking_of(*scales: float) -> Ranking:
    return Ranking(torch.stack([delta_kernel(s) for s in scales]))


def kernel_scales(r: Ranking) -> list[float]:
    return r.kernels[:, 0, K // 2, K // 2].tolist()


def test_scores_are_the_pnr_of_each_response():
    r = ranking_of(1.0, 3.0, 2.0)
    scores = r.score(peaked_features())
    assert scores.shape == (3,)
    torch.testing.assert_close(scores, torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64) * H * H)


def test_rank_orders_by_score_descending_and_picks_best_and_worst():
    r = ranking_of(1.0, 3.0, 2.0)
    res = r.rank(peaked_features())
    assert isinstance(res, RankResult)
    assert res.order.tolist() == [1, 2, 0]
    torch.testing.assert_close(res.scores, torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64) * H * H)
    assert kernel_scales(r) == [3.0, 2.0, 1.0]  # the stored set is re-ordered (Eq. 3)
    assert res.best.shape == (1, C, K, K)
    torch.testing.assert_close(res.best[0], delta_kernel(3.0))  # Eq. 4
    assert res.best_index == 0 and res.worst_index == 2  # Eq. 5: the last slot
    assert res.responses.shape == (3, H, H)
    torch.testing.assert_close(pnr(res.responses), res.scores)


def test_ties_keep_the_current_order():
    r = ranking_of(2.0, 1.0, 2.0, 1.0, 2.0)
    res = r.rank(peaked_features())
    assert res.order.tolist() == [0, 2, 4, 1, 3]
    # ranking again: all ties now in slot order, nothing moves
    assert r.rank(peaked_features()).order.tolist() == [0, 1, 2, 3, 4]


def test_identical_kernels_keep_their_order():
    h0 = delta_kernel(1.0) + 0.01
    r = Ranking.from_kernel(h0, 3)
    res = r.rank(peaked_features())
    assert res.order.tolist() == [0, 1, 2]
    assert (res.scores == res.scores[0]).all()


def test_equal_scores_from_different_kernels_tie_by_index():
    # the same response from two different kernels: channel 0 delta vs channel 0 delta of the
    # same scale in a kernel that also reads an all-zero channel
    x = peaked_features()
    x[0, 1] = 0.0
    a = delta_kernel(1.0)
    b = delta_kernel(1.0)
    b[1] = 5.0  # reads channel 1, which is zero: same response as a
    r = Ranking(torch.stack([delta_kernel(0.5), b, a]))
    res = r.rank(x)
    assert res.scores[0] == res.scores[1]
    assert res.order.tolist() == [1, 2, 0]
    r2 = Ranking(torch.stack([delta_kernel(0.5), a, b]))
    assert r2.rank(x).order.tolist() == [1, 2, 0]  # the one first in the set stays first


def test_replace_worst_replaces_the_last_ranked_slot():
    r = ranking_of(1.0, 3.0, 2.0)
    r.rank(peaked_features())
    new = delta_kernel(0.25)
    r.replace_worst(new.unsqueeze(0))
    assert kernel_scales(r) == [3.0, 2.0, 0.25]  # the scale-1 kernel (the worst) is gone
    r.replace_worst(delta_kernel(0.5))  # (C, k, k) accepted too
    assert kernel_scales(r) == [3.0, 2.0, 0.5]


def test_rerank_after_replacement():
    r = ranking_of(1.0, 3.0, 2.0)
    r.rank(peaked_features())
    r.replace_worst(delta_kernel(5.0))  # better than all: first at the next ranking
    res = r.rank(peaked_features())
    assert res.order.tolist() == [2, 0, 1]
    assert kernel_scales(r) == [5.0, 3.0, 2.0]
    torch.testing.assert_close(res.best[0], delta_kernel(5.0))


def test_single_kernel_ranking():
    r = Ranking(delta_kernel(2.0))  # (C, k, k) -> N = 1
    assert len(r) == 1 and r.n == 1
    res = r.rank(peaked_features())
    assert res.order.tolist() == [0] and res.worst_index == 0
    assert res.scores.tolist() == pytest.approx([2.0 * H * H])
    r.replace_worst(delta_kernel(4.0))
    assert kernel_scales(r) == [4.0]


def test_from_kernel_makes_n_copies():
    h0 = torch.randn(1, C, K, K)
    r = Ranking.from_kernel(h0, 3)
    assert r.kernels.shape == (3, C, K, K)
    for i in range(3):
        torch.testing.assert_close(r.kernels[i], h0[0])
    r.replace_worst(torch.zeros(C, K, K))
    torch.testing.assert_close(r.kernels[0], h0[0])  # copies, not views of one another
    assert Ranking.from_kernel(h0[0], 1).kernels.shape == (1, C, K, K)
    with pytest.raises(ValueError, match="n must be >= 1"):
        Ranking.from_kernel(h0, 0)


def test_shape_errors_name_the_expected_shape():
    r = ranking_of(1.0, 2.0)
    with pytest.raises(ValueError, match=rf"\(1, {C}, H, W\)"):
        r.score(torch.rand(2, C, H, H, dtype=torch.float64))  # a batch of scales: pick one first
    with pytest.raises(ValueError, match=rf"\(1, {C}, H, W\)"):
        r.rank(torch.rand(1, C + 1, H, H, dtype=torch.float64))
    with pytest.raises(ValueError, match=rf"\(1, {C}, {K}, {K}\)"):
        r.replace_worst(torch.zeros(1, C, K + 2, K + 2))
    with pytest.raises(ValueError, match=r"\(N, C, k, k\)"):
        Ranking(torch.zeros(C, K))
    with pytest.raises(ValueError, match="floating"):
        Ranking(torch.zeros(2, C, K, K, dtype=torch.int64))


def test_results_are_tensors_on_the_kernels_device():
    r = ranking_of(1.0, 2.0)
    res = r.rank(peaked_features())
    for value in (res.scores, res.order, res.responses, res.best):
        assert isinstance(value, torch.Tensor) and value.device == r.device
    assert res.order.dtype == torch.int64


def test_rank_and_replace_are_differentiable():
    k = torch.stack([delta_kernel(1.0), delta_kernel(2.0)]).requires_grad_(True)
    r = Ranking(k)
    res = r.rank(peaked_features())
    new = res.best * 0.5
    r.replace_worst(new)
    r.kernels.sum().backward()
    # slot 0 = kernel 1 (the best, used twice: kept and copied into the worst slot at 0.5)
    assert k.grad is not None
    torch.testing.assert_close(k.grad[1], torch.full((C, K, K), 1.5, dtype=torch.float64))
    torch.testing.assert_close(k.grad[0], torch.zeros(C, K, K, dtype=torch.float64))
    r.detach_()
    assert not r.kernels.requires_grad
