"""Tests of the deep DCF baseline (rankatt_lib.trackers.deepdcf).

The filter's algebra is checked on small random tensors against an explicit ridge regression; the
tracker's bookkeeping with a randomly initialised VGG16 on small patches; one slow test tracks a
translating textured target with the real pretrained backbone.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rankatt_lib.configs import make_config
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center
from rankatt_lib.registry import available_trackers, make_tracker
from rankatt_lib.trackers import DeepDCFConfig, DeepDCFTracker
from rankatt_lib.trackers.base import gaussian_map
from rankatt_lib.trackers.deepdcf import dcf_denominator, dcf_numerator, dcf_response

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def random_backbone() -> VGG16Features:
    return VGG16Features(weights="random", device="cpu", layers=("conv4_3",))


def small_tracker(backbone: VGG16Features, **overrides: object) -> DeepDCFTracker:
    """A fast tracker: 127 px patches (conv4_3 15 x 15)."""
    opts: dict[str, object] = {"patch_size": 127}
    opts.update(overrides)
    return DeepDCFTracker(backbone=backbone, **opts)


def textured_frames(
    n: int, size: tuple[int, int] = (120, 160), box=(50.0, 40.0, 30.0, 26.0), step=(2.5, -1.5), seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` RGB frames of a block-textured target translating by ``step`` px per frame (rounded to
    whole pixels) over a textured background, and its boxes ``(n, 4)`` (OTB, 1-based)."""
    rng = np.random.default_rng(seed)
    h, w = size
    coarse = rng.integers(60, 180, size=(h // 8 + 1, w // 8 + 1, 3))
    background = np.kron(coarse, np.ones((8, 8, 1)))[:h, :w] + rng.normal(0, 10, size=(h, w, 3))
    tw, th = int(box[2]), int(box[3])
    blocks = rng.integers(0, 256, size=(th // 5 + 1, tw // 5 + 1, 3))
    target = np.kron(blocks, np.ones((5, 5, 1)))[:th, :tw]
    frames, gt = [], []
    for i in range(n):
        x0 = int(round(box[0] + i * step[0])) - 1
        y0 = int(round(box[1] + i * step[1])) - 1
        img = background.copy()
        img[y0 : y0 + th, x0 : x0 + tw] = target
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        gt.append([x0 + 1, y0 + 1, tw, th])
    return frames, np.asarray(gt, dtype=np.float64)


# --------------------------------------------------------------------------- config


def test_config_defaults_and_validation(random_backbone: VGG16Features) -> None:
    cfg = DeepDCFConfig()
    # CREST's search region and scale search (CRESTConfig), for a fair comparison
    assert (cfg.search.search_area_factor, cfg.search.patch_size, cfg.layer) == (2.9, 255, "conv4_3")
    assert cfg.search.scales == (1.0, 0.95, 1.05) and cfg.search.scale_damping == 0.6
    assert cfg.search.scale_min_peak == 0.15 and cfg.search.scale_penalty == 1.0
    # the DCF's own numbers: KCF / HCF values
    assert cfg.output_sigma_factor == 0.1 and cfg.lambda_rel == 1e-4
    assert 0.01 <= cfg.learning_rate <= 0.02
    for bad in ({"scales": (1.0, 0.0)}, {"learning_rate": 1.5}, {"lambda_rel": -1.0}, {"output_sigma_factor": 0.0}):
        with pytest.raises(ValueError):
            make_config(DeepDCFConfig, None, bad)
    with pytest.raises(TypeError, match="unknown DeepDCFConfig option"):
        DeepDCFTracker(backbone=random_backbone, not_an_option=1)
    t = DeepDCFTracker(DeepDCFConfig(learning_rate=0.05), backbone=random_backbone, lambda_rel=1e-3)
    assert t.config.learning_rate == 0.05 and t.config.lambda_rel == 1e-3


# --------------------------------------------------------------------------- the closed-form filter


def _correlate(h: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``r[d] = sum_c sum_u h_c[u] z_c[u + d]`` (indices cyclic), by loops: the reference."""
    c, n, m = z.shape
    r = np.zeros((n, m))
    for dy in range(n):
        for dx in range(m):
            r[dy, dx] = np.sum(h * np.roll(z, (-dy, -dx), axis=(1, 2)))
    return r


def test_closed_form_is_the_ridge_regression_over_all_cyclic_shifts() -> None:
    # min_h sum_d (sum_c <h_c, x_c(. + d)> - y[d])^2 + lam |h|^2, solved as a dense linear system
    gen = torch.Generator().manual_seed(0)
    c, n, m, lam = 3, 6, 5, 0.7
    x = torch.randn(c, n, m, generator=gen, dtype=torch.float64)
    z = torch.randn(2, c, n, m, generator=gen, dtype=torch.float64)
    y = gaussian_map((n, m), torch.tensor([2.0, 3.0]), (1.0, 1.0), dtype=torch.float64)
    xn = x.numpy()
    rows = np.stack([np.roll(xn, (-dy, -dx), axis=(1, 2)).ravel() for dy in range(n) for dx in range(m)])
    h = np.linalg.solve(rows.T @ rows + lam * np.eye(rows.shape[1]), rows.T @ y.numpy().ravel()).reshape(c, n, m)
    xf = torch.fft.rfft2(x)
    num, den = dcf_numerator(xf, torch.fft.rfft2(y)), dcf_denominator(xf)
    assert den.shape == (n, m // 2 + 1) and torch.all(den >= 0)
    got = dcf_response(num, den, lam, z)
    assert got.shape == (2, n, m)
    for k in range(2):
        np.testing.assert_allclose(got[k].numpy(), _correlate(h, z[k].numpy()), atol=1e-9)


def test_filter_reproduces_the_label_peak_and_follows_a_shift() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(16, 15, 15, generator=gen)
    y = gaussian_map((15, 15), torch.tensor([7.0, 7.0]), (1.2, 1.2))
    xf = torch.fft.rfft2(x)
    num, den = dcf_numerator(xf, torch.fft.rfft2(y)), dcf_denominator(xf)
    lam = 1e-4 * float(x.square().sum())
    r = dcf_response(num, den, lam, x[None])[0]
    assert r.dtype == torch.float32
    assert divmod(int(r.argmax()), 15) == (7, 7)
    assert float(r.max()) > 0.9
    assert float((r - y).abs().max()) < 0.1  # the training sample gives (nearly) its label
    shifted = torch.roll(x, shifts=(2, -3), dims=(1, 2))  # the target moved 3 cells left, 2 down
    r2 = dcf_response(num, den, lam, shifted[None])[0]
    assert divmod(int(r2.argmax()), 15) == (9, 4)


# --------------------------------------------------------------------------- tracker (random backbone)


def test_first_frame_response_peaks_at_the_target(random_backbone: VGG16Features) -> None:
    frames, gt = textured_frames(1)
    t = small_tracker(random_backbone)
    t.init(frames[0], gt[0])
    geo = t.geometry
    assert geo.map_size == 15
    assert t.last_response is not None and t.last_response.shape == (1, 15, 15)
    py, px = divmod(int(t.last_response[0].argmax()), 15)
    assert (px, py) == (round(geo.centre_cell), round(geo.centre_cell))  # the label's peak (7.4375)
    assert t.label is not None
    # the label peaks between cells (sigma ~0.6 cells here), so its largest sample is below 1
    assert t.last_peak == pytest.approx(float(t.label.max()), rel=0.15)
    assert float((t.last_response[0] - t.label).abs().max()) < 0.15
    for v in (t.num, t.den, t.lam, t.label):
        assert v is not None and v.device == t.device
    assert t.num is not None and t.num.dtype == torch.complex64 and t.num.shape == (512, 15, 8)
    np.testing.assert_allclose(t.box(), gt[0])


def test_repeated_frame_keeps_the_box(random_backbone: VGG16Features) -> None:
    # the real patch size: at 127 px the label is ~0.6 cells wide and the sub-cell peak too coarse
    frames, gt = textured_frames(1)
    t = DeepDCFTracker(backbone=random_backbone)
    t.init(frames[0], gt[0])
    for _ in range(2):
        box = t.update(frames[0])
        assert t.last_scale == 1.0
        assert t.last_response is not None and t.last_response.shape == (3, 31, 31)
        np.testing.assert_array_equal(box[2:], gt[0, 2:])
        np.testing.assert_allclose(box[:2], gt[0, :2], atol=0.25)
    assert t.frame_index == 3


def test_learning_rate_zero_keeps_the_model_and_one_replaces_it(random_backbone: VGG16Features) -> None:
    frames, gt = textured_frames(2)
    frozen = small_tracker(random_backbone, learning_rate=0.0)
    frozen.init(frames[0], gt[0])
    num0, den0 = frozen.num.clone(), frozen.den.clone()  # type: ignore[union-attr]
    frozen.update(frames[1])
    assert torch.equal(frozen.num, num0) and torch.equal(frozen.den, den0)
    full = small_tracker(random_backbone, learning_rate=1.0)
    full.init(frames[0], gt[0])
    full.update(frames[1])
    assert not torch.allclose(full.den, den0)  # type: ignore[arg-type]
    # the new model is the winning scale's sample alone: its response on itself is its label
    assert full.last_scale == 1.0


def test_low_peak_gate_skips_the_update_and_keeps_the_size(random_backbone: VGG16Features) -> None:
    frames, gt = textured_frames(2, step=(0.0, 0.0))
    t = small_tracker(random_backbone, update_min_peak=1e9, scale_min_peak=1e9)
    t.init(frames[0], gt[0])
    num0 = t.num.clone()  # type: ignore[union-attr]
    box = t.update(frames[1])
    assert torch.equal(t.num, num0)
    assert t.last_scale == 1.0
    np.testing.assert_allclose(box[2:], gt[0, 2:])


@pytest.mark.parametrize("box", [(50, 40, 0, 26), (50, 40, 30, -2), (np.nan, 40, 30, 26), (500, 400, 30, 26)])
def test_bad_box_raises(random_backbone: VGG16Features, box: tuple[float, ...]) -> None:
    frames, _ = textured_frames(1)
    with pytest.raises(ValueError):
        small_tracker(random_backbone).init(frames[0], box)


def test_bad_image_raises(random_backbone: VGG16Features) -> None:
    frames, gt = textured_frames(1)
    t = small_tracker(random_backbone)
    with pytest.raises(ValueError, match="uint8"):
        t.init(frames[0].astype(np.float32), gt[0])
    with pytest.raises(ValueError, match="shape"):
        t.init(frames[0][..., 0], gt[0])  # grayscale (H, W)
    with pytest.raises(ValueError, match="shape"):
        t.init(frames[0][..., :2], gt[0])  # two channels
    with pytest.raises(TypeError):
        t.init(frames[0].tolist(), gt[0])  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="init"):
        t.update(frames[0])
    t.init(frames[0], gt[0])
    with pytest.raises(ValueError, match="uint8"):
        t.update(frames[0].astype(np.float64))


def test_registered_as_deepdcf(random_backbone: VGG16Features) -> None:
    assert "deepdcf" in available_trackers()
    t = make_tracker("deepdcf", backbone=random_backbone, patch_size=127, learning_rate=0.02)
    assert isinstance(t, DeepDCFTracker)
    assert t.config.search.patch_size == 127 and t.config.learning_rate == 0.02 and t.device == torch.device("cpu")
    assert "DeepDCFTracker" in repr(t)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda() -> None:
    backbone = VGG16Features(weights="random", device="cuda", layers=("conv4_3",))
    frames, gt = textured_frames(3)
    t = small_tracker(backbone)
    t.init(frames[0], gt[0])
    for f in frames[1:]:
        assert t.update(f).shape == (4,)
    assert t.num is not None and t.num.device.type == "cuda" and t.num.dtype == torch.complex64


# --------------------------------------------------------------------------- tracker (real backbone)


@pytest.mark.slow
def test_tracks_a_translating_target_with_the_pretrained_backbone() -> None:
    backbone = VGG16Features(device="cpu", layers=("conv4_3",))  # the real weights: never random here
    frames, gt = textured_frames(6)
    t = DeepDCFTracker(backbone=backbone)
    t.init(frames[0], gt[0])
    pred = np.array([gt[0]] + [t.update(f) for f in frames[1:]])
    err = np.linalg.norm(box_to_center(pred)[:, :2] - box_to_center(gt)[:, :2], axis=1)
    assert err.max() < 2.0, err
    sizes = pred[:, 2:] / gt[:, 2:]
    assert np.all(np.abs(sizes - 1) < 0.1), sizes  # no zoom: the size stays put
