"""Scale estimation, anti-aliased crops and the refresh of the target's geometry (issue #20).

* ``scale_normalisation``: the part tracker's kernels (7 x 7 cells) are smaller than the target,
  and their response to the *same* target grows when it looks smaller, i.e. on the larger crops:
  with the raw peaks (``"none"``, the default) an unchanged frame picks scale 1.05. ``"frame1"``
  divides every scale's peak by the frame-1 model's peak on that scale of frame 1, and an
  unchanged frame keeps scale 1. ``"attention"`` compares the scales on the whole-target kernel's
  response (the attention map), which has no such bias: an unchanged frame keeps scale 1, a
  magnified one picks 1.05.
* ``antialias``: a shrunk search patch of a fine pattern aliases without it, not with it; an
  enlarged patch is bit-identical either way.
* ``refresh_geometry``: a per-axis clamp of the size changes the box's aspect ratio; the label,
  prior kernel and motion prior then follow the new size in cells.

The pretrained VGG16 runs on 127 px patches (rankatt) and a random one on 63 px patches (CREST).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_crest import small_tracker, textured_sequence

from rankatt_lib.components.parts import PartTracker, part_centres, part_labels
from rankatt_lib.configs import make_config
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center, magnify
from rankatt_lib.trackers.base import (
    choose_scale,
    crop_pyramid,
    motion_prior,
    scale_calibration,
    scale_trend_calibration,
    select_scale,
    shared_backbone,
)
from rankatt_lib.trackers.crest import CRESTConfig
from rankatt_lib.trackers.rankatt import (
    VARIANTS,
    RankingAttentionConfig,
    RankingAttentionTracker,
    kernel_scale_scores,
    part_layout_scores,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def backbone() -> VGG16Features:
    return shared_backbone("cpu")


@pytest.fixture(scope="module")
def random_backbone() -> VGG16Features:
    return VGG16Features(weights="random", device="cpu", layers=("conv4_3",))


@pytest.fixture(scope="module")
def frames() -> tuple[list[np.ndarray], np.ndarray]:
    return textured_sequence(n=2)


def fast(backbone: VGG16Features, **overrides: object) -> RankingAttentionTracker:
    opts: dict[str, object] = {"patch_size": 127, "part_init_max_steps": 10, "updater": "untrained"}
    opts.update(overrides)
    return RankingAttentionTracker(backbone=backbone, **opts)


# --------------------------------------------------------------------------- choosing a scale


def test_choose_scale_with_scores_or_a_calibration() -> None:
    peaks = torch.tensor([0.70, 0.64, 0.72])
    assert int(choose_scale(peaks, 0)) == 2  # raw peaks: 1.05 wins
    # calibrated by the frame-1 peaks themselves: every score is 1, the reference wins the tie
    assert int(choose_scale(peaks, 0, scores=peaks / peaks)) == 0
    assert int(select_scale(peaks, (1.0, 0.95, 1.05), calibration=peaks.clone())) == 0
    # a real gain still wins after calibration
    assert int(select_scale(torch.tensor([0.70, 0.64, 0.80]), (1.0, 0.95, 1.05), calibration=peaks)) == 2
    assert int(select_scale(torch.tensor([0.60, 0.64, 0.60]), (1.0, 0.95, 1.05), calibration=peaks)) == 1
    # the confidence gate reads the raw reference peak, not the score
    assert int(choose_scale(torch.tensor([0.10, 0.20, 0.20]), 0, scores=torch.tensor([1.0, 2.0, 2.0]))) == 0
    assert int(choose_scale(torch.tensor([0.50, 0.20, 0.20]), 0, scores=torch.tensor([1.0, 2.0, 3.0]))) == 2
    # without scores the function is unchanged
    assert int(select_scale(peaks, (1.0, 0.95, 1.05))) == 2
    with pytest.raises(ValueError, match="calibration"):
        select_scale(peaks, (1.0, 0.95, 1.05), calibration=torch.ones(2))


def test_scale_calibration_bounds() -> None:
    cal = scale_calibration(torch.tensor([0.5, 0.1, 2.0]), 0)
    assert torch.allclose(cal, torch.tensor([0.5, 0.25, 1.0]))  # within [ref / 2, 2 ref]
    assert torch.equal(scale_calibration(torch.tensor([-0.1, 0.3, 0.2]), 0), torch.ones(3))  # no calibration


def test_scale_trend_calibration_removes_the_slope_and_keeps_the_curvature() -> None:
    scales = (1.0, 0.95, 1.05)
    x = np.log(scales)
    # peaks that grow with the crop (slope 1.2 in log-log) and a fit that favours scale 1 (+3 %)
    p1 = torch.tensor(np.exp(-0.4 + 1.2 * x + np.array([0.03, 0.0, 0.0])), dtype=torch.float32)
    cal = scale_trend_calibration(p1, scales, 0)
    assert torch.all(torch.isfinite(cal)) and torch.all(cal > 0)
    assert float(cal[0]) == pytest.approx(float(p1[0]), rel=1e-6)  # the reference is divided by its own peak
    # the slope is gone: the ratio of the divisors of 1.05 and 0.95 is (1.05 / 0.95) ** 1.2
    assert float(cal[2] / cal[1]) == pytest.approx((1.05 / 0.95) ** 1.2, rel=2e-3)
    # on frame 1 itself the reference wins by its curvature (its neighbours score about 0.97)
    scored = (p1 / cal).numpy()
    assert scored[0] == pytest.approx(1.0, abs=1e-6) and np.all(scored[1:] < 0.975) and np.all(scored[1:] > 0.96)
    assert int(choose_scale(p1, 0, scores=p1 / cal)) == 0
    # the same model on a target that really grew 5 %: the 1.05 peak is up by more than the trend
    later = p1 * torch.tensor([0.95, 0.90, 1.02])
    assert int(choose_scale(later, 0, scores=later / cal)) == 2
    # the "frame1" calibration chooses 1.05 on a 0.1 % gain (it has no curvature left); the trend does not
    tiny = p1 * torch.tensor([1.0, 1.0, 1.001])
    assert int(choose_scale(tiny, 0, scores=tiny / p1)) == 2
    assert int(choose_scale(tiny, 0, scores=tiny / cal)) == 0
    # no curvature (the reference below the line): its neighbours' divisors are raised to their
    # own peaks, so a repeated frame 1 still keeps scale 1
    flat = torch.tensor([0.60, 0.64, 0.72])
    cal2 = scale_trend_calibration(flat, scales, 0)
    assert torch.all(flat / cal2 <= 1.0 + 1e-6) and int(choose_scale(flat, 0, scores=flat / cal2)) == 0
    # a non-positive frame-1 peak: no calibration
    assert torch.equal(scale_trend_calibration(torch.tensor([0.5, -0.1, 0.4]), scales, 0), torch.ones(3))
    with pytest.raises(ValueError, match="scales"):
        scale_trend_calibration(p1, (1.0, 1.05), 0)


def test_config_defaults() -> None:
    # CREST compares its own kernel's peaks; the ranking-attention tracker its attention kernel's
    # (issue #20), not the parts' raw peaks, which the rankatt-crestscale variant keeps
    assert CRESTConfig().search.scale_normalisation == "none" and CRESTConfig().search.antialias is True
    assert RankingAttentionConfig().search.scale_normalisation == "attention"
    assert RankingAttentionConfig().search.antialias is True
    assert VARIANTS["rankatt-crestscale"] == {"scale_normalisation": "none"}
    with pytest.raises(ValueError, match="scale_normalisation"):
        make_config(CRESTConfig, None, {"scale_normalisation": "max"})
    with pytest.raises(ValueError, match="scale_normalisation"):
        make_config(CRESTConfig, None, {"scale_normalisation": "parts"})  # CREST has one kernel, no parts
    with pytest.raises(ValueError, match="scale_normalisation"):
        make_config(CRESTConfig, None, {"scale_normalisation": "attention"})  # nor an attention kernel
    with pytest.raises(ValueError, match="scale_normalisation"):
        make_config(CRESTConfig, None, {"scale_normalisation": "attention_h0"})
    with pytest.raises(ValueError, match="scale_normalisation"):
        make_config(RankingAttentionConfig, None, {"scale_normalisation": "max"})


# --------------------------------------------------------------------------- a repeated frame


def test_part_layout_score_reads_the_layout_not_the_heights() -> None:
    """Part maps peaking on the frame-1 layout score 1, whatever their heights; the layout of a
    target 5 % smaller or larger (what the 1.05 / 0.95 crops show) scores less, both alike."""
    n, size = 63, np.array([21.0, 21.0])  # whole-cell part offsets (7 cells)
    parts = PartTracker(channels=4)
    parts.set_target_size(size)
    prior = motion_prior((n, n), (31.0, 31.0), (13.0, 13.0))
    sigma = (2.2, 2.2)

    def maps(scale: float) -> torch.Tensor:
        return part_labels(n, part_centres(np.array([31.0, 31.0, *(size / scale)])), sigma, device="cpu")[None]

    score = {s: float(part_layout_scores(parts, maps(s), prior)[0]) for s in (0.9, 0.95, 1.0, 1.05, 1.1)}
    assert score[1.0] == pytest.approx(1.0, abs=1e-6)
    # sub-cell shifts count too (the peaks' heights are refined between cells)
    assert score[0.9] < score[0.95] < 0.99 and score[1.1] < score[1.05] < 0.99
    assert abs(score[0.95] - score[1.05]) < 0.01
    heights = torch.linspace(0.3, 1.2, 9)[None, :, None, None]
    assert float(part_layout_scores(parts, maps(1.0) * heights, prior)[0]) == pytest.approx(1.0, abs=1e-6)
    # the raw combined peak, by contrast, follows the heights
    raw = parts.combine(maps(1.0) * heights)[0, 0].max()
    assert float(raw) == pytest.approx(float(heights.mean()), rel=1e-4)
    # a channel without a positive value counts 0
    dead = maps(1.0).clone()
    dead[:, 0] = -1.0
    assert float(part_layout_scores(parts, dead, prior)[0]) == pytest.approx(8 / 9, abs=1e-4)


@pytest.mark.parametrize(
    ("variant", "norm"),
    [
        ({}, "frame1"),
        ({}, "parts"),
        ({}, "trend"),
        ({"single_channel": True}, "frame1"),
        ({"single_channel": True}, "parts"),
    ],
    ids=["parts-frame1", "parts-parts", "parts-trend", "single-frame1", "single-parts"],
)
def test_rankatt_repeated_frame_keeps_scale_1_when_normalised(
    backbone: VGG16Features, frames: tuple[list[np.ndarray], np.ndarray], variant: dict[str, object], norm: str
) -> None:
    imgs, gt = frames
    raw = fast(backbone, scale_normalisation="none", **variant)
    raw.init(imgs[0], gt[0])
    raw.update(imgs[0])  # frame 1 again
    # the bias: the same target scores higher on the 1.05 crop (it looks smaller there)
    assert raw.last is not None and raw.last.peaks[2] > raw.last.peaks[0]
    assert raw.last.scale == 1.05

    tr = fast(backbone, scale_normalisation=norm, **variant)
    tr.init(imgs[0], gt[0])
    box = tr.update(imgs[0])
    assert tr.last is not None and tr.last.scale == 1.0
    np.testing.assert_array_equal(box[2:], gt[0][2:])
    # the raw peaks are the same as without the switch; only the comparison changed
    np.testing.assert_allclose(tr.last.peaks, raw.last.peaks, rtol=1e-6)
    assert tr._scale_calib is not None
    if norm == "parts" and not variant:
        scores = part_layout_scores(tr.parts, tr.last.parts, tr._prior)
    else:  # the single-channel variant has no parts: it calibrates the peaks
        scores = torch.as_tensor(tr.last.peaks, dtype=torch.float32)
    calibrated = (scores / tr._scale_calib).numpy()
    if norm == "trend":  # the reference scores 1, its neighbours less (the fit's curvature is kept)
        assert calibrated[0] == pytest.approx(1.0, abs=1e-6) and np.all(calibrated[1:] <= 1.0 + 1e-6)
    else:
        np.testing.assert_array_equal(calibrated, np.ones(3))


@pytest.mark.parametrize(
    "variant",
    [{}, {"use_ranking": False}, {"use_attention": False}, {"single_channel": True}],
    ids=["rankatt", "noranking", "noattention", "single"],
)
def test_rankatt_attention_scale_keeps_1_on_a_repeated_frame_and_follows_a_magnified_one(
    backbone: VGG16Features, frames: tuple[list[np.ndarray], np.ndarray], variant: dict[str, object]
) -> None:
    imgs, gt = frames
    g = gt[0]
    centre = box_to_center(g)[:2]
    chosen = {}
    for s in (1.0, 1.05**2, 1.05**-2):
        tr = fast(backbone, **variant)  # the default: scale_normalisation="attention"
        assert tr.config.search.scale_normalisation == "attention"
        tr.init(imgs[0], g)
        tr.update(imgs[0] if s == 1.0 else magnify(imgs[0], centre, s))
        assert tr.last is not None and tr._scale_calib is None
        chosen[round(s, 3)] = tr.last.scale
        if s == 1.0:
            # the scores are the kernel's peaks: on the repeated frame the reference's is the highest
            m = tr.last.attention
            if m is not None:
                sc = kernel_scale_scores(m)
                assert int(torch.argmax(sc)) == 0
    assert chosen == {1.0: 1.0, 1.103: 1.05, 0.907: 0.95}
    # the raw part peaks of the same repeated frame prefer the larger crop (the bias this avoids)
    raw = fast(backbone, scale_normalisation="none", **variant)
    raw.init(imgs[0], g)
    raw.update(imgs[0])
    assert raw.last is not None and raw.last.scale == 1.05


def test_rankatt_h0_scale_keeps_1_on_a_repeated_frame_and_reads_h0_not_the_updated_kernel(
    backbone: VGG16Features, frames: tuple[list[np.ndarray], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scale_normalisation="attention_h0"`` compares the scales on the frame-1 kernel's map: a
    repeated frame keeps scale 1, a magnified one is followed, and the scores are h0's map even
    when the ConvLSTM has made a different attention kernel."""
    imgs, gt = frames
    g = gt[0]
    centre = box_to_center(g)[:2]
    chosen = {}
    for s in (1.0, 1.05**2, 1.05**-2):
        tr = fast(backbone, scale_normalisation="attention_h0")
        tr.init(imgs[0], g)
        tr.update(imgs[0] if s == 1.0 else magnify(imgs[0], centre, s))
        assert tr.last is not None and tr._scale_calib is None
        chosen[round(s, 3)] = tr.last.scale
    assert chosen == {1.0: 1.0, 1.103: 1.05, 0.907: 0.95}

    # which kernel's map is scored: record every map kernel_scale_scores is given
    import rankatt_lib.trackers.rankatt as rk

    seen: list[torch.Tensor] = []
    real = rk.kernel_scale_scores
    monkeypatch.setattr(rk, "kernel_scale_scores", lambda m: seen.append(m.clone()) or real(m))
    tr = fast(backbone, scale_normalisation="attention_h0")
    tr.init(imgs[0], g)
    for img in imgs[1:4]:
        tr.update(img)
        assert tr.last is not None and tr.last.attention is not None
        torch.testing.assert_close(seen[-1], rk.attention_map(tr.h0, tr.last.xS))
        # the map the parts were attended with is h_t's, and it is not the one scored
        assert not torch.equal(seen[-1], tr.last.attention)


def test_kernel_scale_scores_refine_the_peak_between_cells() -> None:
    y, x = torch.meshgrid(torch.arange(31.0), torch.arange(31.0), indexing="ij")
    on_cell = torch.exp(-((x - 15) ** 2 + (y - 15) ** 2) / 8)
    between = torch.exp(-((x - 15.5) ** 2 + (y - 15) ** 2) / 8)  # the same peak, half a cell off
    sc = kernel_scale_scores(torch.stack([on_cell, between])[:, None])
    assert float(sc[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(sc[1]) == pytest.approx(1.0, abs=0.01) and float(between.max()) < 0.97


@pytest.mark.parametrize("norm", ["frame1", "trend"])
def test_crest_repeated_frame_keeps_scale_1_when_normalised(
    backbone: VGG16Features, frames: tuple[list[np.ndarray], np.ndarray], norm: str
) -> None:
    imgs, gt = frames
    tr = small_tracker(backbone, patch_size=127, scale_normalisation=norm)
    tr.init(imgs[0], gt[0])
    box = tr.update(imgs[0])
    assert tr.last is not None and tr.last.scale == 1.0
    np.testing.assert_array_equal(box[2:], gt[0][2:])
    assert tr._scale_calib is not None and np.all(tr.last.peaks > 0.15)
    calibrated = tr.last.peaks / tr._scale_calib.numpy()
    if norm == "frame1":  # every calibrated peak is 1: the reference wins the tie
        np.testing.assert_array_equal(calibrated, np.ones(3))
    else:  # the reference scores 1, its neighbours no more (the fit's curvature is kept)
        assert calibrated[0] == pytest.approx(1.0, abs=1e-6) and np.all(calibrated[1:] <= 1.0 + 1e-6)


def test_crest_normalisation_still_follows_a_real_scale_change(
    backbone: VGG16Features, frames: tuple[list[np.ndarray], np.ndarray]
) -> None:
    """The calibration only divides the peaks: a scale whose calibrated peak is higher still wins."""
    imgs, gt = frames
    tr = small_tracker(backbone, patch_size=127, scale_normalisation="frame1")
    tr.init(imgs[0], gt[0])
    assert tr._scale_calib is not None
    tr._scale_calib = tr._scale_calib * torch.tensor([1.0, 1.0, 0.5])  # make the 1.05 peak look twice as high
    tr.update(imgs[0])
    assert tr.last is not None and tr.last.scale == 1.05


# --------------------------------------------------------------------------- anti-aliasing


def test_antialias_removes_aliasing_when_shrinking() -> None:
    # vertical stripes with a period of 2.5 px: above the Nyquist frequency of a 3x smaller patch
    x = np.arange(400)
    stripes = 128 + 100 * np.cos(2 * np.pi * x / 2.5)
    img = np.repeat(np.repeat(stripes[None, :, None], 400, axis=0), 3, axis=2).astype(np.float32)
    frame = torch.from_numpy(img).permute(2, 0, 1).contiguous()
    centre = (200.5, 200.5)
    plain = crop_pyramid(frame, centre, 189.0, (1.0,), 63)  # 3x smaller
    smooth = crop_pyramid(frame, centre, 189.0, (1.0,), 63, antialias=True)
    # the stripes cannot be represented in the patch: all that remains of them is aliasing
    assert float(plain[0, 0].std()) > 20.0
    assert float(smooth[0, 0].std()) < 1.0
    assert abs(float(smooth.mean()) - 128.0) < 1.0


def test_antialias_is_bit_identical_when_enlarging_or_shrinking_a_little() -> None:
    rng = np.random.default_rng(0)
    frame = torch.from_numpy(rng.uniform(0, 255, size=(3, 200, 240)).astype(np.float32))
    for side in (40.0, 96.0, 127.0, 160.0):  # 127 px patches: up to 1.26x smaller (sigma < 0.3, no blur)
        a = crop_pyramid(frame, (120.3, 99.7), side, (1.0, 0.95, 1.05), 127)
        b = crop_pyramid(frame, (120.3, 99.7), side, (1.0, 0.95, 1.05), 127, antialias=True)
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- clamped sizes


def wide_sequence() -> tuple[list[np.ndarray], np.ndarray]:
    """A target as wide as the frame (160 px): any growth clamps the width, not the height."""
    imgs, _ = textured_sequence(n=3, size=(120, 160), box=(40.0, 35.0, 32.0, 28.0), step=(0.0, 0.0))
    return imgs, np.array([[1.0, 40.0, 160.0, 40.0]] * 3)


def test_crest_clamp_refreshes_the_geometry(random_backbone: VGG16Features) -> None:
    imgs, gt = wide_sequence()
    # scales=(1.05,): the only scale grows the box every frame
    for refresh in (True, False):
        tr = small_tracker(random_backbone, scales=(1.05,), scale_min_peak=-1.0, refresh_geometry=refresh)
        tr.init(imgs[0], gt[0])
        sigma1, prior1 = tr._label_sigma, tr._prior.clone()
        tr.update(imgs[1])
        assert tr.size[0] == 160.0 and tr.size[1] > 40.0  # the width was clamped: aspect ratio changed
        wc, hc = tr.geometry.target_cells(tr.size)
        want = (tr.config.output_sigma_factor * hc, tr.config.output_sigma_factor * wc)
        if refresh:
            np.testing.assert_allclose(tr._label_sigma, want)
            assert not torch.equal(tr._prior, prior1)
        else:
            assert tr._label_sigma == sigma1 and torch.equal(tr._prior, prior1)
            assert not np.allclose(tr._label_sigma, want)


def test_rankatt_clamp_refreshes_the_geometry(backbone: VGG16Features) -> None:
    imgs, gt = wide_sequence()
    for refresh in (True, False):
        tr = fast(backbone, scales=(1.05,), scale_min_peak=-1.0, refresh_geometry=refresh)
        tr.init(imgs[0], gt[0])
        tc1 = tr._tcL.copy()
        assert tr.parts is not None and tr.parts.target_size is not None
        tr.update(imgs[1])
        assert tr.size[0] == 160.0 and tr.size[1] > 40.0
        tc = tr.geo_L.target_cells(tr.size)
        if refresh:
            np.testing.assert_allclose(tr._tcL, tc)
            np.testing.assert_allclose(tr.parts.target_size, tc)
        else:
            np.testing.assert_array_equal(tr._tcL, tc1)
            np.testing.assert_allclose(tr.parts.target_size, tc1)
            assert not np.allclose(tc, tc1)


def test_clamp_size_reports_an_aspect_change(random_backbone: VGG16Features) -> None:
    imgs, gt = wide_sequence()
    tr = small_tracker(random_backbone)
    tr.init(imgs[0], gt[0])
    tr.size = np.array([100.0, 50.0])
    assert tr._clamp_size() is False  # inside the image: nothing clamped
    tr.size = np.array([200.0, 100.0])
    assert tr._clamp_size() is True and tuple(tr.size) == (160.0, 100.0)
    tr.size = np.array([200.0, 150.0])  # both axes clamped to the 160 x 120 frame: 4:3 -> 4:3
    assert tr._clamp_size() is False


def test_magnify_scales_about_the_centre() -> None:
    img = np.zeros((60, 80), dtype=np.float32)
    img[25:35, 35:45] = 1.0  # a 10 x 10 square centred on (40.5, 30.5), 1-based
    big = magnify(img, (40.5, 30.5), 2.0)
    ys, xs = np.nonzero(big > 0.5)
    assert (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (20, 20)
    assert (xs.mean() + 1, ys.mean() + 1) == pytest.approx((40.5, 30.5), abs=0.01)
    np.testing.assert_array_equal(magnify(img, (40.5, 30.5), 1.0), img)
    with pytest.raises(ValueError, match="scale"):
        magnify(img, (40.5, 30.5), 0.0)
    with pytest.raises(ValueError, match="image"):
        magnify(np.zeros(5), (1.0, 1.0), 1.1)
