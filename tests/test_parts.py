"""Tests of the part-based multi-channel convolutional tracker (rankatt_lib.components.parts, paper §2.2, Eq. 10).

Small channel counts (16) keep every test fast on the CPU; the module's defaults (256 channels,
7 x 7 kernels) are only checked for shapes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rankatt_lib.components.parts import (
    PartTracker,
    PartTrackerConfig,
    label_sigma,
    part_centres,
    part_labels,
    part_offsets,
    pixels_to_cells,
    prior_kernel,
    shift_pair,
)
from rankatt_lib.features import cell_centre
from rankatt_lib.trackers.base import find_peaks

pytestmark = pytest.mark.usefixtures("one_thread")


def loss_value(m: PartTracker, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(m.loss(x, y))


def local_maxima(r: torch.Tensor, rel: float = 0.1) -> int:
    """Number of 3 x 3 local maxima of a map ``(h, w)`` above ``rel`` x its maximum."""
    pooled = F.max_pool2d(r[None, None], 3, stride=1, padding=1)[0, 0]
    return int(((r == pooled) & (r > rel * r.max())).sum())


# --------------------------------------------------------------------------- geometry


def test_part_centres_known_box() -> None:
    c = part_centres((31.0, 31.0, 21.0, 21.0))
    want = [(x, y) for y in (24, 31, 38) for x in (24, 31, 38)]  # row-major, top row first
    np.testing.assert_allclose(c, want)
    # a non-square, off-centre box; the mean of the parts is the centre
    c = part_centres((10.5, 20.0, 6.0, 12.0))
    np.testing.assert_allclose(c[0], (8.5, 16.0))
    np.testing.assert_allclose(c[5], (12.5, 20.0))  # row 1, col 2
    np.testing.assert_allclose(c.mean(axis=0), (10.5, 20.0))
    np.testing.assert_allclose(part_offsets((6.0, 12.0)), c - np.array([10.5, 20.0]))
    # a tensor box stays a tensor (on its device) with the same values
    t = part_centres(torch.tensor([10.5, 20.0, 6.0, 12.0]))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), c, atol=1e-6)
    assert part_centres((5.0, 5.0, 4.0, 4.0), grid=1).tolist() == [[5.0, 5.0]]
    with pytest.raises(ValueError):
        part_centres((1.0, 2.0, 0.0, 3.0))
    with pytest.raises(ValueError):
        part_centres((1.0, 2.0, 3.0))


def test_pixels_to_cells_matches_features_convention() -> None:
    # the centre pixel 127 of a 255 px patch, an 88 px target -> cell 31.375, 22 cells
    np.testing.assert_allclose(pixels_to_cells((127.0, 127.0, 88.0, 88.0)), (31.375, 31.375, 22.0, 22.0))
    b = pixels_to_cells((40.0, 90.0, 8.0, 4.0))
    assert cell_centre("conv3_3", b[0]) == pytest.approx(40.0)
    assert cell_centre("conv3_3", b[1]) == pytest.approx(90.0)
    np.testing.assert_allclose(pixels_to_cells((3.5, 3.5, 8.0, 8.0), stride=8), (0.0, 0.0, 1.0, 1.0))


def test_part_labels_peak_one_at_part_centres() -> None:
    centres = part_centres((31.0, 31.0, 21.0, 21.0))
    sigma = label_sigma((21.0, 21.0))
    assert sigma == pytest.approx((2.1, 2.1))
    y = part_labels((63, 63), centres, sigma)
    assert y.shape == (9, 63, 63)
    for lbl, (cx, cy) in zip(y, centres, strict=True):
        assert float(lbl.max()) == pytest.approx(1.0)
        iy, ix = divmod(int(lbl.argmax()), 63)
        assert (ix, iy) == (int(cx), int(cy))
    # per-axis sigma = 0.1 x (h, w): one sigma away along x the label is exp(-1/2)
    sy, sx = label_sigma((20.0, 30.0))
    assert (sy, sx) == pytest.approx((3.0, 2.0))
    y = part_labels((40, 50), [(25.0, 20.0)], (sy, sx))
    assert float(y[0, 20, 27]) == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert float(y[0, 23, 25]) == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert label_sigma((2.0, 2.0)) == (0.5, 0.5)  # the floor
    # a tensor of centres gives the same labels
    yt = part_labels((40, 50), torch.tensor([[25.0, 20.0]]), (sy, sx))
    torch.testing.assert_close(yt, y)
    with pytest.raises(ValueError):
        part_labels((63, 63), np.zeros((9, 3)), 2.0)
    with pytest.raises(ValueError):
        part_labels((63, 63), centres, 0.0)


def test_tracker_labels_parts_and_single_channel() -> None:
    m = PartTracker(channels=4)
    y = m.labels((31.0, 31.0), (21.0, 21.0), 63)
    torch.testing.assert_close(y, part_labels(63, part_centres((31.0, 31.0, 21.0, 21.0)), 2.1))
    yt = m.labels(torch.tensor([31.0, 31.0]), (21.0, 21.0), 63)  # a device centre: no host read
    torch.testing.assert_close(yt, y)
    s = PartTracker(channels=4, single_channel=True).labels((30.0, 32.0), (21.0, 21.0), 63)
    assert s.shape == (1, 63, 63) and float(s[0, 32, 30]) == pytest.approx(1.0)


# --------------------------------------------------------------------------- the prior kernel


def test_prior_kernel_values() -> None:
    off = part_offsets((21.0, 21.0))  # integer offsets: -7, 0, 7
    k = prior_kernel(off, combine="sum")
    assert k.shape == (1, 9, 15, 15)
    for l_, (dx, dy) in enumerate(off):  # one unit vote at c + o_l, c = 7
        nz = torch.nonzero(k[0, l_]).tolist()
        assert nz == [[7 + int(dy), 7 + int(dx)]]
        assert float(k[0, l_].sum()) == pytest.approx(1.0)
    km = prior_kernel(off, combine="mean")
    torch.testing.assert_close(km, k / 9)
    # a fractional vote is split bilinearly: (0.25, 0.5) from the centre of a 5 x 5 kernel
    kf = prior_kernel([[0.25, 0.5]], size=5, combine="sum")[0, 0]
    np.testing.assert_allclose(kf[2:4, 2:4].numpy(), [[0.375, 0.125], [0.375, 0.125]])
    assert float(kf.sum()) == pytest.approx(1.0)
    kg = prior_kernel(off, kind="gaussian", sigma=1.0)
    assert kg.shape == (1, 9, 21, 21)  # 2 * (7 + 3) + 1
    np.testing.assert_allclose(kg.sum(dim=(2, 3)).numpy(), np.full((1, 9), 1 / 9), rtol=1e-6)
    with pytest.raises(ValueError, match="cannot hold"):
        prior_kernel(off, size=13)
    with pytest.raises(ValueError):
        prior_kernel(off, size=16)
    with pytest.raises(ValueError):
        prior_kernel(np.zeros((9, 3)))
    with pytest.raises(ValueError):
        prior_kernel(off, kind="box")  # type: ignore[arg-type]


@pytest.mark.parametrize("combine", ["mean", "sum"])
def test_planted_part_peaks_combine_into_one_peak_at_target_integer(combine: str) -> None:
    box = (31.0, 30.0, 21.0, 21.0)
    parts = part_labels(63, part_centres(box), 2.1)[None]  # each channel peaks on its part
    m = PartTracker(channels=4, combine=combine)
    m.set_target_size(box[2:])
    r = m.combine(parts)
    assert r.shape == (1, 1, 63, 63)
    r = r[0, 0]
    scale = 1.0 if combine == "mean" else 9.0
    # every vote lands exactly on the target: the combined map *is* the target's Gaussian
    torch.testing.assert_close(r, scale * part_labels(63, [box[:2]], 2.1)[0], atol=1e-5, rtol=1e-5)
    iy, ix = divmod(int(r.argmax()), 63)
    assert (ix, iy) == (31, 30)
    assert float(r.max()) == pytest.approx(scale, rel=1e-5)
    assert local_maxima(r) == 1


@pytest.mark.parametrize("combine", ["mean", "sum"])
@pytest.mark.parametrize("kind", ["delta", "gaussian"])
def test_planted_part_peaks_combine_at_target_fractional(combine: str, kind: str) -> None:
    box = pixels_to_cells((127.0, 130.0, 88.0, 70.0))  # (31.375, 32.125, 22, 17.5): offsets 7.33, 5.83
    parts = part_labels(63, part_centres(box), label_sigma(box[2:]))[None]
    m = PartTracker(channels=4, combine=combine, prior=kind)
    m.set_target_size(box[2:])
    r = m.combine(parts)[0, 0]
    peak = find_peaks(r).numpy()
    assert abs(peak[0] - box[0]) < 0.15 and abs(peak[1] - box[1]) < 0.15
    scale = 1.0 if combine == "mean" else 9.0
    assert peak[2] > (0.9 if kind == "delta" else 0.7) * scale
    assert local_maxima(r) == 1
    # the same parts, uncombined, peak in 9 places
    assert local_maxima(parts[0].sum(0)) == 9


def test_prior_kernel_follows_the_target_size() -> None:
    m = PartTracker(channels=4)
    m.set_target_size((21.0, 21.0))
    assert m.prior.shape == (1, 9, 15, 15)
    m.set_target_size((27.0, 15.0))  # parts move with the box: offsets 9 and 5
    assert m.prior.shape == (1, 9, 19, 19)
    box = (30.0, 31.0, 27.0, 15.0)
    r = m.combine(part_labels(63, part_centres(box), label_sigma(box[2:]))[None])[0, 0]
    iy, ix = divmod(int(r.argmax()), 63)
    assert (ix, iy) == (30, 31)
    assert "prior" not in m.state_dict()  # derived, not learnt
    with pytest.raises(RuntimeError, match="set_target_size"):
        PartTracker(channels=4).combine(torch.zeros(1, 9, 8, 8))


# --------------------------------------------------------------------------- Eq. 10


def test_eq10_loss_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    m = PartTracker(channels=2, kernel=3, lambda2=0.01, normalize_features=False)
    with torch.no_grad():
        m.weight.copy_(torch.randn(9, 2, 3, 3, generator=g))
    x = torch.randn(2, 2, 4, 5, generator=g)
    y = torch.rand(2, 9, 4, 5, generator=g)
    # by hand: cross-correlation with zero padding 1, squared error summed over parts and cells,
    # divided by h w = 20, averaged over the 2 frames, plus 0.01 ||w||^2
    w = m.weight.detach().double().numpy()
    xp = np.pad(x.double().numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    total = 0.0
    for b in range(2):
        for l_ in range(9):
            for i in range(4):
                for j in range(5):
                    r = sum(
                        w[l_, c, u, v] * xp[b, c, i + u, j + v] for c in range(2) for u in range(3) for v in range(3)
                    )
                    total += (r - float(y[b, l_, i, j])) ** 2
    want = total / 20 / 2 + 0.01 * float((w**2).sum())
    assert loss_value(m, x, y) == pytest.approx(want, rel=1e-5)
    # zero weights: the loss is the labels' energy per cell, averaged over frames
    m.weight.data.zero_()
    assert loss_value(m, x, y) == pytest.approx(float(y.square().sum() / 20 / 2), rel=1e-6)
    # the paper's lambda2 is the default
    assert PartTrackerConfig().lambda2 == 1e-7


def test_shapes_and_errors() -> None:
    m = PartTracker()
    assert m.weight.shape == (9, 256, 7, 7) and m.bias is None and m.fan_in == 256 * 49
    x = torch.zeros(1, 256, 63, 63)
    assert m(x).shape == (1, 9, 63, 63)
    with pytest.raises(ValueError, match="256"):
        m(torch.zeros(1, 128, 63, 63))
    with pytest.raises(ValueError, match="yL"):
        m.loss(x, torch.zeros(1, 8, 63, 63))
    with pytest.raises(ValueError):
        m.combine(torch.zeros(1, 4, 63, 63))
    s = PartTracker(channels=8, single_channel=True, bias=True)
    assert s.weight.shape == (1, 8, 7, 7) and s.bias is not None
    xs = torch.randn(2, 8, 20, 20)
    torch.testing.assert_close(s.combine(s(xs)), s(xs))  # no prior kernel
    with pytest.raises(ValueError):
        PartTrackerConfig(kernel=6)
    with pytest.raises(ValueError):
        PartTrackerConfig(combine="max")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown"):
        PartTracker(kernal=7)
    with pytest.raises(ValueError, match="target_size"):
        PartTracker(channels=8).init(xs[0], torch.zeros(9, 20, 20))


def test_shift_pair() -> None:
    x = torch.arange(20.0).reshape(1, 4, 5)
    y = torch.arange(20.0).reshape(1, 4, 5) + 100
    xs, ys = shift_pair(x, y, 2, -1)
    assert float(xs[0, 0, 2]) == float(x[0, 1, 0]) and float(xs[0, 3, 2]) == 0.0 and float(xs[0, 0, 1]) == 0.0
    assert float(ys[0, 2, 4]) == float(y[0, 3, 2])


# --------------------------------------------------------------------------- learning on a synthetic xL

C, N, S = 16, 63, 21  # channels, map side, target side in cells (parts of 7 cells)
PATTERN = torch.relu(torch.randn(C, S, S, generator=torch.Generator().manual_seed(7)) + 0.5)


def scene(centre: tuple[int, int], seed: int, occlude: tuple[int, ...] = (), occluder: str = "zero") -> torch.Tensor:
    """A synthetic ``xL (1, C, N, N)``: weak random features, the target's distinctive pattern
    (``S x S`` cells) centred on ``centre``, and parts ``occlude`` (row-major) blanked out (zero)
    or covered with background-like random features."""
    g = torch.Generator().manual_seed(seed)
    x = torch.relu(torch.randn(1, C, N, N, generator=g)) * 0.5
    x0, y0 = centre[0] - S // 2, centre[1] - S // 2
    x[0, :, y0 : y0 + S, x0 : x0 + S] = PATTERN
    p = S // 3
    for l_ in occlude:
        r, c = divmod(l_, 3)
        region = (slice(None), slice(y0 + p * r, y0 + p * r + p), slice(x0 + p * c, x0 + p * c + p))
        x[0][region] = 0.0 if occluder == "zero" else torch.relu(torch.randn(C, p, p, generator=g)) * 0.5
    return x


@pytest.fixture(scope="module")
def trained() -> dict[bool, PartTracker]:
    """A part tracker and a single-channel one, trained on frame 1 (target at the map centre)."""
    torch.set_num_threads(1)
    out = {}
    for single in (False, True):
        m = PartTracker(channels=C, single_channel=single)
        y = m.labels((31.0, 31.0), (S, S), N)
        m.init(scene((31, 31), seed=1)[0], y, (S, S), max_steps=60)
        out[single] = m
    return out


def test_init_decreases_the_loss_and_fills_the_buffer(trained: dict[bool, PartTracker]) -> None:
    for m in trained.values():
        info = m.init_info
        assert info is not None and info.steps == 60 and not info.converged
        assert info.history[0][1] == pytest.approx(info.baseline, rel=1e-5)  # zero weights
        assert info.loss < 0.7 * info.baseline
        # Adam from zero overshoots in its first steps (all features >= 0), then descends steadily
        tail = [loss for _, loss in info.history[3:]]
        assert all(b < a for a, b in zip(tail, tail[1:], strict=False))
        assert m.buffer is not None and len(m.buffer) == 1


def test_init_stops_at_the_threshold() -> None:
    m = PartTracker(channels=C)
    y = m.labels((31.0, 31.0), (S, S), N)
    info = m.init(scene((31, 31), 1)[0], y, (S, S), threshold=0.9, max_steps=200)
    assert info.converged and info.steps < 200 and info.loss < 0.9 * info.baseline
    # shifted copies join the batch (and need no more than the cap)
    info = PartTracker(channels=C).init(scene((31, 31), 1)[0], y, (S, S), shifts=[(2, 0), (0, -2)], max_steps=10)
    assert info.steps == 10


def test_init_accepts_features_made_under_inference_mode_and_refuses_to_train_inside_it() -> None:
    with torch.inference_mode():
        x = scene((31, 31), 1)[0] * 1.0
    assert x.is_inference()
    ref, m = PartTracker(channels=C), PartTracker(channels=C)
    y = m.labels((31.0, 31.0), (S, S), N)
    info = m.init(x, y, (S, S), max_steps=5)
    ref_info = ref.init(x.clone(), y, (S, S), max_steps=5)
    assert info.steps == 5 and info.loss == pytest.approx(ref_info.loss, rel=1e-6)
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        PartTracker(channels=C).init(x, y, (S, S), max_steps=5)
    with torch.inference_mode():
        xb = scene((33, 31), 2)
    m.fit(xb, y[None], steps=2)  # online steps on inference tensors too


def test_fit_decreases_the_loss_no_sync_result() -> None:
    m = PartTracker(channels=C)
    x = scene((31, 31), 3)
    y = m.labels((31.0, 31.0), (S, S), N)[None]
    before = loss_value(m, x, y)
    last = m.fit(x, y, steps=20, lr=0.1)
    assert isinstance(last, torch.Tensor) and last.ndim == 0 and not last.requires_grad
    after = loss_value(m, x, y)
    assert after < 0.85 * before
    m.fit(x, y, steps=20, lr=0.1)
    assert loss_value(m, x, y) < after
    assert math.isnan(float(m.fit(x, y, steps=0)))
    sgd = PartTracker(channels=C, optimizer="sgd")
    before = loss_value(sgd, x, y)
    sgd.fit(x, y, steps=20, lr=0.1)
    assert loss_value(sgd, x, y) < before


def test_trained_response_peaks_on_the_moved_target(trained: dict[bool, PartTracker]) -> None:
    m = trained[False]
    for seed, centre in ((2, (35, 28)), (3, (27, 36))):  # new background, target moved
        with torch.no_grad():
            parts = m(scene(centre, seed))[0]
            r = m.combine(parts[None])[0, 0]
        peak = find_peaks(r).numpy()
        assert np.hypot(peak[0] - centre[0], peak[1] - centre[1]) < 0.5
        assert peak[2] > 0.2
        # Fig. 5: each channel peaks on its own part
        want = part_centres((*centre, S, S))
        got = find_peaks(parts).numpy()[:, :2]
        assert np.abs(got - want).max() < 1.0


def test_occlusion_robustness(trained: dict[bool, PartTracker]) -> None:
    """Blank out 3 of the 9 parts after training: the part tracker's combined peak stays on the
    target. The single-channel variant is only reported (its 7 x 7 kernel sees the middle part only,
    so it ignores a side being covered and fails when the middle is)."""
    centre = (35, 28)
    report = []
    for occ in ((0, 3, 6), (0, 4, 8), (3, 4, 5)):
        for single, m in trained.items():
            for occluder in ("zero", "noise"):
                with torch.no_grad():
                    r = m.response(scene(centre, 4, occ, occluder))[0, 0]
                peak = find_peaks(r).numpy()
                err = float(np.hypot(peak[0] - centre[0], peak[1] - centre[1]))
                report.append((occ, "single" if single else "parts", occluder, round(err, 2), round(float(peak[2]), 2)))
                if not single:
                    assert err < 1.0, report[-1]
    print("\nocclusion (parts covered, model, occluder, peak error in cells, peak value):")
    for row in report:
        print("  ", row)


# --------------------------------------------------------------------------- online update


def test_ring_buffer_keeps_the_last_T_frames() -> None:
    T = 12
    m = PartTracker(channels=2, kernel=3, T=T, update_steps=3)
    m.set_target_size((6.0, 6.0))
    xs = [torch.full((2, 9, 9), float(i)) + torch.rand(2, 9, 9) for i in range(15)]
    ys = [m.labels((4.0 + (i % 3) * 0.5, 4.0), (6.0, 6.0), 9) for i in range(15)]
    for x, y in zip(xs, ys, strict=True):
        m.push(x, y)
    assert m.buffer is not None and len(m.buffer) == T and m.buffer.pushed == 15
    kept = sorted(int(v) for v in m.buffer.features()[:, 0, 0, 0].floor())
    assert kept == list(range(3, 15))  # frames 0, 1, 2 were overwritten
    # update() trains on exactly the last T pairs: same weights as fitting them directly
    twin = PartTracker(channels=2, kernel=3, T=T)
    twin.load_state_dict(m.state_dict())
    m.update()
    twin.fit(torch.stack(xs[3:]), torch.stack(ys[3:]), steps=3, lr=m.config.update_lr)
    torch.testing.assert_close(m.weight, twin.weight, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        m.push(xs[0][None], ys[0])


def test_observe_follows_the_schedule() -> None:
    m = PartTracker(channels=2, kernel=3, T=4, update_interval=2, update_min_peak=0.15)
    y = m.labels((4.0, 4.0), (6.0, 6.0), 9)
    m.init(torch.rand(2, 9, 9), y, (6.0, 6.0), max_steps=1)
    assert m.buffer is not None and len(m.buffer) == 1
    assert m.observe(2, torch.rand(2, 9, 9), y, peak=0.5) == (True, False)
    w = m.weight.detach().clone()
    assert m.observe(3, torch.rand(2, 9, 9), y, peak=0.5) == (True, True)
    assert not torch.equal(w, m.weight) and m.update_frames == [3]
    assert m.observe(4, torch.rand(2, 9, 9), y, peak=0.1) == (False, False)  # not confident
    assert m.observe(5, torch.rand(2, 9, 9), y, peak=0.1) == (False, False)
    assert len(m.buffer) == 3
