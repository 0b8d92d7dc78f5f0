"""Tests of the CREST-style tracker (rankatt_lib.trackers.crest) and the shared tracker pieces
(rankatt_lib.trackers.base).

Fast tests use a randomly initialised VGG16 on small patches; one slow test tracks a textured
target with the real pretrained backbone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rankatt_lib.configs import make_config
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center
from rankatt_lib.registry import make_tracker
from rankatt_lib.trackers.base import (
    Profiler,
    SampleBuffer,
    SearchGeometry,
    UpdateSchedule,
    damped_size,
    find_peaks,
    gaussian_map,
    motion_prior,
    odd_kernel_size,
    pca_basis,
    project_channels,
    select_scale,
)
from rankatt_lib.trackers.crest import (
    ConvolutionalDCF,
    CRESTConfig,
    CRESTTracker,
    crest_loss,
    mse_loss,
)

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def random_backbone() -> VGG16Features:
    return VGG16Features(weights="random", device="cpu", layers=("conv4_3",))


def textured_sequence(
    n: int = 12,
    size: tuple[int, int] = (120, 160),
    box: tuple[float, float, float, float] = (40.0, 35.0, 32.0, 28.0),
    step: tuple[float, float] = (3.0, 2.0),
    seed: int = 0,
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` RGB frames ``(H, W, 3)`` of a textured target translating by ``step`` px per frame on a
    textured background, and the ground-truth boxes ``(n, 4)`` (OTB, 1-based)."""
    rng = np.random.default_rng(seed)
    h, w = size
    coarse = rng.integers(40, 200, size=(h // 8 + 1, w // 8 + 1, 3))
    background = np.kron(coarse, np.ones((8, 8, 1)))[:h, :w] + rng.normal(0, 12, size=(h, w, 3))
    tw, th = int(box[2]), int(box[3])
    blocks = rng.integers(0, 2, size=(th // 4 + 1, tw // 4 + 1, 1)) * np.array([[[230, 40, 30]]]) + np.array(
        [[[10, 120, 220]]]
    ) * rng.integers(0, 2, size=(th // 4 + 1, tw // 4 + 1, 1))
    target = np.kron(blocks, np.ones((4, 4, 1)))[:th, :tw]
    frames, gt = [], []
    for i in range(n):
        x0 = int(round(box[0] + i * step[0])) - 1  # 1-based -> array index
        y0 = int(round(box[1] + i * step[1])) - 1
        img = background.copy()
        img[y0 : y0 + th, x0 : x0 + tw] = target
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        gt.append([x0 + 1, y0 + 1, tw, th])
    return frames, np.asarray(gt, dtype=np.float64)


def small_tracker(backbone: VGG16Features, **overrides: object) -> CRESTTracker:
    """A fast tracker: 63 px patches (conv4_3 7 x 7), no PCA, few first-frame steps."""
    opts: dict[str, object] = {"patch_size": 63, "init_max_steps": 20, "pca_channels": None}
    opts.update(overrides)
    return CRESTTracker(backbone=backbone, **opts)


# --------------------------------------------------------------------------- config


def test_config_defaults_are_crests_documented_values() -> None:
    cfg = CRESTConfig()
    # CREST's released code (book appendix, reading-evaluation)
    assert cfg.output_sigma_factor == 0.1
    assert cfg.init_loss_threshold == 0.02
    assert cfg.update_interval == 2 and cfg.update_steps == 2
    assert cfg.buffer_size == 2
    assert cfg.search.motion_sigma_factor == 0.6
    assert cfg.search.scales == (1.0, 0.95, 1.05)
    assert cfg.search.scale_damping == 0.6
    assert cfg.search.scale_min_peak == 0.15 and cfg.update_min_peak == 0.15
    assert cfg.pca_channels == 64 and cfg.layer == "conv4_3"
    assert cfg.loss == "crest" and cfg.dead_zone == 0.1
    assert cfg.feature_window and cfg.bias and cfg.fresh_update_optimizer
    assert cfg.search.scale_penalty == 1.0
    # the search region of book appendix, reading-method
    assert cfg.search.search_area_factor == 2.9 and cfg.search.patch_size == 255


def test_config_validation_and_overrides(random_backbone: VGG16Features) -> None:
    with pytest.raises(ValueError):
        make_config(CRESTConfig, None, {"scales": (1.0, -0.9)})
    with pytest.raises(ValueError):
        CRESTConfig(loss="l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CRESTConfig(update_interval=0)
    with pytest.raises(TypeError, match="unknown CRESTConfig option"):
        CRESTTracker(backbone=random_backbone, not_an_option=1)
    t = CRESTTracker(CRESTConfig(update_steps=5), backbone=random_backbone, init_max_steps=7)
    assert t.config.update_steps == 5 and t.config.init_max_steps == 7


def test_backbone_without_the_layer_is_rejected() -> None:
    net = VGG16Features(weights="random", device="cpu", layers=("conv3_3",))
    with pytest.raises(ValueError, match="conv4_3"):
        CRESTTracker(backbone=net)


# --------------------------------------------------------------------------- geometry and maps


def test_search_geometry() -> None:
    geo = SearchGeometry.for_layer("conv4_3")
    assert (geo.patch_size, geo.stride, geo.map_size) == (255, 8, 31)
    assert geo.centre_cell == pytest.approx(15.4375)
    # a square target is 255 / 2.9 = 87.9 px = 10.99 cells in the patch, whatever its image size
    np.testing.assert_allclose(geo.target_cells((40, 40)), [10.99, 10.99], atol=0.01)
    np.testing.assert_allclose(geo.target_cells((100, 100)), geo.target_cells((20, 20)))
    assert geo.search_side((20, 80)) == pytest.approx(2.9 * 40)
    # one cell right of the centre = 8 patch px = 8 * side / 255 image px
    np.testing.assert_allclose(geo.cell_to_offset((16.4375, 15.4375), 255.0), [8.0, 0.0])
    assert odd_kernel_size(10.99, 31) == 13  # CREST: 2 ceil(t / 2) + 1
    assert odd_kernel_size(11.0, 31) == 13
    assert odd_kernel_size(3.2, 31) == 5
    assert odd_kernel_size(40.0, 31) == 31 and odd_kernel_size(40.0, 30) == 29
    with pytest.raises(ValueError):
        SearchGeometry(search_area_factor=0.0)


def test_find_peaks_subcell_and_border() -> None:
    maps = torch.stack(
        [
            gaussian_map((15, 20), torch.tensor([10.3, 7.6]), (1.5, 1.5)),
            gaussian_map((15, 20), torch.tensor([0.0, 14.0]), (1.5, 1.5)),  # corner peak
            -torch.ones(15, 20),  # constant: first cell, no refinement
        ]
    )
    peaks = find_peaks(maps)
    assert peaks.shape == (3, 3)
    np.testing.assert_allclose(peaks[0, :2].numpy(), [10.3, 7.6], atol=0.06)
    np.testing.assert_allclose(peaks[1].numpy(), [0.0, 14.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(peaks[2].numpy(), [0.0, 0.0, -1.0])
    no_sub = find_peaks(maps[0], subpixel=False)
    np.testing.assert_allclose(no_sub[:2].numpy(), [10.0, 8.0])


def test_motion_prior_and_damped_size() -> None:
    prior = motion_prior((31, 31), (15.0, 15.0), (6.6, 6.6), device="cpu")
    assert prior.shape == (31, 31) and float(prior[15, 15]) == pytest.approx(1.0)
    assert float(prior[15, 22]) == pytest.approx(math.exp(-0.5 * (7 / 6.6) ** 2), rel=1e-5)
    assert float(prior[0, 0]) < 0.1
    # CREST: 0.4 size + 0.6 size * s
    np.testing.assert_allclose(damped_size((100.0, 50.0), 1.05, 0.6), [103.0, 51.5])
    np.testing.assert_allclose(damped_size((100.0, 50.0), 0.95, 0.0), [100.0, 50.0])


def _zoom_responses(true_scale: float, scales: tuple[float, ...]) -> torch.Tensor:
    """Responses of a target zoomed by ``true_scale``: each scale's peak falls off with the log of
    the scale mismatch (as a correlation filter's does)."""
    maps = []
    for s in scales:
        height = math.exp(-((math.log(s / true_scale) / 0.06) ** 2))
        maps.append(0.9 * height * gaussian_map((31, 31), torch.tensor([15.0, 15.0]), (1.1, 1.1)))
    return torch.stack(maps)


@pytest.mark.parametrize(("true_scale", "expected"), [(1.05, 2), (0.95, 1), (1.0, 0), (1.3, 2), (0.8, 1)])
def test_select_scale_picks_the_zoom(true_scale: float, expected: int) -> None:
    scales = (1.0, 0.95, 1.05)
    peaks = find_peaks(_zoom_responses(true_scale, scales))[:, 2]
    idx = select_scale(peaks, scales, penalty=1.0, min_peak=0.0)
    assert idx.ndim == 0 and idx.dtype == torch.long
    assert int(idx) == expected


def test_select_scale_penalty_gate_and_ties() -> None:
    scales = (1.0, 0.95, 1.05)
    assert int(select_scale(torch.tensor([0.80, 0.70, 0.85]), scales)) == 2
    assert int(select_scale(torch.tensor([0.80, 0.70, 0.85]), scales, penalty=0.9)) == 0  # 0.765 < 0.8
    # not confident at scale 1 (CREST: peak < 0.15): keep the size
    assert int(select_scale(torch.tensor([0.10, 0.12, 0.14]), scales, min_peak=0.15)) == 0
    assert int(select_scale(torch.tensor([0.5, 0.5, 0.5]), scales)) == 0  # ties: scale 1
    # the reference is the scale closest to 1 wherever it is listed
    assert int(select_scale(torch.tensor([0.5, 0.5, 0.4]), (0.95, 1.0, 1.05))) == 1
    with pytest.raises(ValueError):
        select_scale(torch.tensor([0.5, 0.5]), scales)


# --------------------------------------------------------------------------- learning pieces


def test_update_schedule() -> None:
    sched = UpdateSchedule(interval=2, min_peak=0.15)
    assert [f for f in range(1, 12) if sched.is_update_frame(f)] == [3, 5, 7, 9, 11]
    assert sched.decide(3, 0.5) == (True, True)
    assert sched.decide(4, 0.5) == (True, False)
    assert sched.decide(5, 0.149) == (False, False)
    assert sched.decide(2, 0.15) == (True, False)
    assert [f for f in range(1, 9) if UpdateSchedule(interval=3).is_update_frame(f)] == [4, 7]
    with pytest.raises(ValueError):
        UpdateSchedule(interval=0)


def test_sample_buffer_is_a_ring() -> None:
    buf = SampleBuffer(2, (3, 4, 4), (4, 4), device="cpu")
    assert len(buf) == 0 and buf.features().shape == (0, 3, 4, 4)
    for k in range(3):
        buf.push(torch.full((3, 4, 4), float(k)), torch.full((4, 4), 10.0 + k))
    assert len(buf) == 2 and buf.pushed == 3
    assert sorted(buf.features()[:, 0, 0, 0].tolist()) == [1.0, 2.0]  # the oldest (0) was replaced
    assert sorted(buf.labels()[:, 0, 0].tolist()) == [11.0, 12.0]
    with pytest.raises(ValueError):
        buf.push(torch.zeros(3, 5, 5), torch.zeros(4, 4))
    buf.clear()
    assert len(buf) == 0


def test_pca_basis_finds_the_dominant_directions() -> None:
    gen = torch.Generator().manual_seed(0)
    directions = torch.linalg.qr(torch.randn(16, 2, generator=gen))[0]  # (16, 2) orthonormal
    coeffs = torch.randn(2, 200, generator=gen) * torch.tensor([[5.0], [2.0]])
    data = (directions @ coeffs + 0.01 * torch.randn(16, 200, generator=gen)).reshape(16, 10, 20)
    basis = pca_basis(data, 2)
    assert basis.shape == (16, 2)
    np.testing.assert_allclose((basis.T @ basis).numpy(), np.eye(2), atol=1e-5)
    overlap = (basis.T @ directions).abs()  # |cos| between found and true directions
    assert float(overlap[0, 0]) > 0.999 and float(overlap[1, 1]) > 0.999
    assert project_channels(data[None], basis).shape == (1, 2, 10, 20)
    with pytest.raises(ValueError):
        pca_basis(data, 17)


def test_dcf_layer_and_losses() -> None:
    model = ConvolutionalDCF(4, (5, 3))
    x = torch.randn(2, 4, 9, 11)
    assert model(x).shape == (2, 9, 11)
    assert float(model(x).detach().abs().max()) == 0.0  # starts at zero
    with pytest.raises(ValueError):
        ConvolutionalDCF(4, (4, 3))
    y = gaussian_map((9, 11), torch.tensor([5.0, 4.0]), (1.0, 1.0))[None].expand(2, -1, -1)
    # errors below the dead zone cost nothing; the peak error is weighted by exp(1)
    assert float(crest_loss(y + 0.05, y)) == 0.0
    zero = torch.zeros(2, 9, 11)
    expected = float(((torch.exp(y[0]) * y[0])[y[0] >= 0.1] ** 2).sum())
    assert float(crest_loss(zero, y)) == pytest.approx(expected, rel=1e-6)
    assert float(mse_loss(zero, y)) == pytest.approx(float((y[0] ** 2).mean()), rel=1e-6)


def test_profiler_disabled_records_nothing() -> None:
    prof = Profiler(enabled=False)
    with prof.section("a"):
        pass
    assert prof.summary() == {}
    prof = Profiler(enabled=True)
    with prof.section("a"):
        pass
    assert set(prof.summary()) == {"a"} and prof.summary()["a"] >= 0.0


# --------------------------------------------------------------------------- tracker (random backbone)


@pytest.mark.parametrize(
    "box",
    [
        (10.0, 10.0, 0.0, 10.0),
        (10.0, 10.0, 10.0, -3.0),
        (float("nan"), 10.0, 10.0, 10.0),
        (500.0, 10.0, 10.0, 10.0),  # outside the 64 x 64 image
        (1.0, 2.0, 3.0),
    ],
)
def test_bad_box_raises(random_backbone: VGG16Features, box: tuple[float, ...]) -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        small_tracker(random_backbone).init(image, box)


def test_update_before_init_raises(random_backbone: VGG16Features) -> None:
    with pytest.raises(RuntimeError, match="init"):
        small_tracker(random_backbone).update(np.zeros((64, 64, 3), dtype=np.uint8))


def test_tracker_runs_and_updates_on_schedule(random_backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=8, size=(72, 96), box=(30.0, 25.0, 20.0, 18.0), step=(1.0, 1.0))
    t = small_tracker(random_backbone, update_min_peak=-1e9, profile=True, pca_channels=16)
    t.init(frames[0], gt[0])
    n = t.geometry.map_size
    assert n == 7  # 63 // 8
    assert t.model is not None and t.model.weight.shape[1] == 16  # PCA: 512 -> 16 channels
    assert t.init_info is not None and t.init_info.kernel_size == (
        odd_kernel_size(t.init_info.target_cells[1], n),
        odd_kernel_size(t.init_info.target_cells[0], n),
    )
    boxes = [t.update(f) for f in frames[1:]]
    assert t.update_frames == [3, 5, 7]
    assert all(b.shape == (4,) and np.all(np.isfinite(b)) for b in boxes)
    last = t.last
    assert last is not None and last.frame == 8 and last.stored and not last.updated
    assert last.response.shape == (3, n, n) and last.weighted.shape == (3, n, n)
    assert last.peaks.shape == (3,) and 0 <= last.scale_index < 3
    assert last.scale == t.config.search.scales[last.scale_index]
    assert last.peak_value == pytest.approx(float(last.peaks[last.scale_index]), abs=1e-6)
    assert t.buffer is not None and len(t.buffer) == 2 and t.buffer.pushed == 7
    assert {"crop", "features", "response", "update"} <= set(t.profiler.summary())


def test_low_peak_skips_updates_and_scale(random_backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=6, size=(72, 96), box=(30.0, 25.0, 20.0, 18.0), step=(1.0, 1.0))
    t = small_tracker(random_backbone, update_min_peak=1e9, scale_min_peak=1e9)
    t.init(frames[0], gt[0])
    weights = t.model.weight.detach().clone() if t.model is not None else None
    for f in frames[1:]:
        box = t.update(f)
        assert box[2:] == pytest.approx(gt[0, 2:])  # the scale gate keeps the size
    assert t.update_frames == []
    assert t.buffer is not None and len(t.buffer) == 0
    assert t.last is not None and not t.last.stored and t.last.scale_index == 0
    assert t.model is not None and torch.equal(t.model.weight, weights)


def test_first_frame_training_stops_at_threshold_or_cap(random_backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=1, size=(72, 96), box=(30.0, 25.0, 20.0, 18.0))
    capped = small_tracker(random_backbone, init_max_steps=3, init_check_every=2, init_loss_threshold=-1.0)
    capped.init(frames[0], gt[0])
    info = capped.init_info
    assert info is not None and info.steps == 3 and not info.converged
    assert [s for s, _ in info.history] == [0, 2, 3]
    easy = small_tracker(random_backbone, init_max_steps=50, init_loss_threshold=1e9)
    easy.init(frames[0], gt[0])
    assert easy.init_info is not None and easy.init_info.steps == 0 and easy.init_info.converged


def test_registered_as_crest(random_backbone: VGG16Features) -> None:
    t = make_tracker("crest", backbone=random_backbone, patch_size=63)
    assert isinstance(t, CRESTTracker) and t.config.search.patch_size == 63 and t.device == torch.device("cpu")


# --------------------------------------------------------------------------- tracker (real backbone)


@pytest.mark.slow
def test_follows_a_translating_target_with_the_pretrained_backbone() -> None:
    backbone = VGG16Features(device="cpu", layers=("conv4_3",))  # the real weights: never random here
    frames, gt = textured_sequence(n=12)
    t = CRESTTracker(backbone=backbone, init_max_steps=300)
    t.init(frames[0], gt[0])
    info = t.init_info
    assert info is not None
    assert info.converged and info.loss < 0.02 and info.steps <= 300
    assert info.kernel_size == (13, 13)
    assert float(info.response.max()) > 0.7  # the fit reproduces the label's peak
    pred = np.array([gt[0]] + [t.update(f) for f in frames[1:]])
    err = np.linalg.norm(box_to_center(pred)[:, :2] - box_to_center(gt)[:, :2], axis=1)
    assert err.mean() < 3.0 and err.max() < 6.0, err
    assert t.update_frames == [3, 5, 7, 9, 11]
    sizes = pred[:, 2:] / gt[:, 2:]
    assert np.all(np.abs(sizes - 1) < 0.12), sizes  # no zoom: the size stays put
