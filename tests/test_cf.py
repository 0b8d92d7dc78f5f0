"""Tests of rankatt_lib.trackers.cf: the circulant trick, KCF and MOSSE filters, and the two trackers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from rankatt_lib import registry
from rankatt_lib.features.geometry import box_to_center, gaussian_label
from rankatt_lib.trackers import cf

CPU = torch.device("cpu")


def smooth_texture(rng: np.random.Generator, h: int, w: int, blur: float, channels: int = 3) -> np.ndarray:
    """Blurred uniform noise stretched to 0..255, float32 ``(h, w, channels)``."""
    t = cv2.GaussianBlur(rng.uniform(0, 255, size=(h, w, channels)).astype(np.float32), (0, 0), blur)
    t = t.reshape(h, w, channels)
    return (t - t.min()) / (t.max() - t.min()) * 255


def translating_sequence(
    n: int = 30, seed: int = 0, static: bool = False
) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured 40x32 target moving over a textured 320x240 background (up to ~5 px/frame)."""
    rng = np.random.default_rng(seed)
    bg = smooth_texture(rng, 240, 320, 3.0)
    target = smooth_texture(rng, 32, 40, 1.5)
    frames, boxes = [], []
    for i in range(n):
        x = 100 + (0 if static else 60 * np.sin(1.5 * np.pi * i / n))
        y = 90 + (0 if static else 60.0 * i / n)
        xi, yi = int(round(x)), int(round(y))
        frame = bg.copy()
        frame[yi : yi + 32, xi : xi + 40] = target
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        boxes.append([xi + 1, yi + 1, 40, 32])  # 1-based
    return frames, np.array(boxes, dtype=np.float64)


def run(tracker, frames: list[np.ndarray], box0: np.ndarray) -> np.ndarray:
    tracker.init(frames[0], box0)
    return np.array([box0, *[tracker.update(f) for f in frames[1:]]], dtype=np.float64)


def centre_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    return np.linalg.norm(box_to_center(pred)[:, :2] - box_to_center(gt)[:, :2], axis=1)


@pytest.fixture(scope="module")
def sequence() -> tuple[list[np.ndarray], np.ndarray]:
    return translating_sequence()


# --------------------------------------------------------------------------- the circulant trick


def test_circulant_rows_are_cyclic_shifts():
    x = torch.arange(5.0)
    c = cf.circulant(x)
    for i in range(5):
        assert torch.equal(c[i], torch.roll(x, i))


def test_circulant_product_identity_and_diagonalisation():
    gen = torch.Generator().manual_seed(0)
    n = 12
    x, y = (
        torch.randn(n, generator=gen, dtype=torch.float64),
        torch.randn(n, generator=gen, dtype=torch.float64),
    )
    c = cf.circulant(x)
    torch.testing.assert_close(c @ y, cf.circulant_product(x, y), atol=1e-12, rtol=0)
    torch.testing.assert_close(c @ y, torch.fft.ifft(torch.fft.fft(x).conj() * torch.fft.fft(y)).real)
    u = torch.fft.fft(torch.eye(n, dtype=torch.complex128), norm="ortho")  # unitary DFT matrix
    torch.testing.assert_close(u @ torch.diag(torch.fft.fft(x)) @ u.conj().T, c.to(torch.complex128))


# --------------------------------------------------------------------------- KCF and MOSSE filters


def patch(seed: int, channels: int = 1, size: tuple[int, int] = (24, 30)) -> torch.Tensor:
    t = smooth_texture(np.random.default_rng(seed), *size, 1.0, channels) / 255.0
    return torch.from_numpy(t).permute(2, 0, 1).double()  # (C, H, W)


def test_gaussian_correlation_matches_brute_force():
    x, z = patch(1, 2, (6, 7)), patch(2, 2, (6, 7))
    sigma = 0.5
    k = cf.gaussian_correlation(x, z, sigma)
    assert k.shape == (6, 7)
    for dy in range(6):
        for dx in range(7):
            zs = torch.roll(z, shifts=(-dy, -dx), dims=(-2, -1))  # z[u + d]
            expected = torch.exp(-((x - zs) ** 2).sum() / x.numel() / sigma**2)
            assert k[dy, dx].item() == pytest.approx(expected.item(), rel=1e-9)
    assert cf.gaussian_correlation(x, x, sigma)[0, 0].item() == pytest.approx(1.0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shift", [(0, 0), (3, 5), (-4, 2), (7, -9)])
def test_kcf_detects_an_exact_cyclic_shift(channels, shift):
    x = patch(3, channels)
    h, w = x.shape[-2:]
    y = torch.fft.ifftshift(gaussian_label((h, w), 2.0, device=CPU, dtype=torch.float64))
    alphaf = cf.train_kcf(x, y, sigma=0.2, lam=1e-4)
    dy, dx = shift
    z = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    r = cf.detect_kcf(alphaf, x, z, sigma=0.2)
    assert divmod(int(r.argmax()), w) == (dy % h, dx % w)
    got = cf.find_peak(r, subpixel=True)
    assert got[0].item() == pytest.approx(dx, abs=1e-3) and got[1].item() == pytest.approx(dy, abs=1e-3)


def test_kcf_regresses_its_label_on_the_training_patch():
    x = patch(4, 3)
    y = torch.fft.ifftshift(gaussian_label(x.shape[-2:], 2.0, device=CPU, dtype=torch.float64))
    alphaf = cf.train_kcf(x, y, sigma=0.2, lam=1e-6)
    torch.testing.assert_close(cf.detect_kcf(alphaf, x, x, sigma=0.2), y, atol=1e-3, rtol=0)
    # a batch of test patches (e.g. scales) broadcasts against the model
    zs = torch.stack([x, torch.roll(x, 2, dims=-1)])
    r = cf.detect_kcf(alphaf, x, zs, sigma=0.2)
    assert r.shape == (2, *x.shape[-2:]) and int(r[1].argmax()) == 2


@pytest.mark.parametrize("shift", [(0, 0), (2, -6), (-5, 4)])
def test_mosse_filter_detects_an_exact_cyclic_shift(shift):
    x = cf.preprocess_mosse(patch(5)[0] * 255)
    h, w = x.shape
    g = torch.fft.ifftshift(gaussian_label((h, w), 2.0, device=CPU, dtype=torch.float64))
    h_conj = cf.mosse_filter(x[None], g, eps=1e-9)
    # on its training patch the filter returns the target exactly, minus the target's mean: the
    # preprocessed patch has zero mean (no DC component), so neither has the response
    torch.testing.assert_close(
        torch.fft.ifft2(torch.fft.fft2(x) * h_conj).real, g - g.mean(), atol=1e-6, rtol=0
    )
    z = torch.roll(x, shifts=shift, dims=(-2, -1))
    r = torch.fft.ifft2(torch.fft.fft2(z) * h_conj).real
    assert divmod(int(r.argmax()), w) == (shift[0] % h, shift[1] % w)


def test_preprocess_mosse_normalises_and_survives_constant_patches():
    p = cf.preprocess_mosse(patch(6)[0] * 255)
    assert abs(p.mean().item()) < 1e-9 and p.norm().item() == pytest.approx(1.0, abs=1e-4)
    flat = cf.preprocess_mosse(torch.full((8, 8), 77.0))
    assert torch.equal(flat, torch.zeros(8, 8))


def test_psr_and_find_peak():
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(2, 32, 32, generator=gen) * 0.01
    peaked = noise.clone()
    peaked[0, 30, 3] = 1.0  # a clear peak at dy = -2, dx = 3
    values = cf.psr(peaked)
    assert values.shape == (2,) and values[0] > 50 and values[1] < 10
    peak = cf.find_peak(peaked, subpixel=False)
    assert peak[0].tolist() == pytest.approx([3.0, -2.0, 1.0])
    assert cf.psr(torch.zeros(16, 16)).item() == 0.0  # constant map: 0, not NaN
    # sub-pixel refinement recovers a Gaussian's fractional centre
    g = gaussian_label((21, 21), 2.0, center=(10.3, 9.8), device=CPU)
    fine = cf.find_peak(torch.fft.ifftshift(g), subpixel=True)  # index 10 -> 0 after ifftshift
    assert fine[0].item() == pytest.approx(0.3, abs=0.05) and fine[1].item() == pytest.approx(-0.2, abs=0.05)


def test_hog_features_shape_and_orientation():
    ramp = torch.linspace(0, 255, 48).repeat(32, 1)[None, None]  # intensity grows along x
    f = cf.hog_features(ramp, cell=4, orientations=9)
    assert f.shape == (1, 31, 8, 12)
    assert torch.isfinite(f).all() and f.min() >= 0
    sensitive = f[0, :18].mean(dim=(1, 2))
    assert int(sensitive.argmax()) in (0, 17)  # gradient direction 0 rad: the first signed bin
    torch.testing.assert_close(cf.hog_features(ramp * 3), f, atol=1e-3, rtol=0)  # contrast-normalised
    with pytest.raises(ValueError):
        cf.hog_features(ramp[0])


# --------------------------------------------------------------------------- trackers


@pytest.mark.parametrize(
    ("name", "kwargs", "limit"),
    [
        ("mosse", {}, 2.0),
        ("kcf", {}, 2.0),
        ("kcf-hog", {}, 2.0),
        ("kcf", {"scales": (0.95, 1.0, 1.05)}, 3.0),
    ],
)
def test_trackers_follow_a_translating_target(sequence, name, kwargs, limit):
    frames, gt = sequence
    tracker = registry.make_tracker(name, device="cpu", **kwargs)
    pred = run(tracker, frames, gt[0])
    err = centre_errors(pred, gt)
    assert err.mean() < limit, f"{name} {kwargs}: mean centre error {err.mean():.2f} px"
    assert err.max() < 2 * limit + 2
    if "scales" not in kwargs:
        np.testing.assert_array_equal(pred[:, 2:], gt[:, 2:])  # fixed scale


@pytest.mark.parametrize("name", ["mosse", "kcf", "kcf-hog"])
def test_static_image_keeps_the_box(name):
    frames, gt = translating_sequence(n=8, static=True)
    pred = run(registry.make_tracker(name, device="cpu"), frames, gt[0])
    # MOSSE learns from randomly rotated copies, so its peak on the unperturbed patch can sit a few
    # hundredths of a pixel off centre (sub-pixel refinement); KCF's is symmetric
    np.testing.assert_allclose(
        pred, np.repeat(gt[:1], len(gt), axis=0), atol=0.1 if name == "mosse" else 0.01
    )


def test_registry_names_and_options():
    assert {"mosse", "kcf", "kcf-hog"} <= set(registry.available_trackers())
    kcf = registry.make_tracker("kcf", lam=1e-3, device="cpu")
    assert isinstance(kcf, cf.KCF) and kcf.config.lam == 1e-3 and kcf.config.features == "gray"
    assert kcf.config.kernel_sigma == 0.2 and kcf.config.interp_factor == 0.075 and kcf.config.cell_size == 1
    hog = registry.make_tracker("kcf-hog", device="cpu")
    assert (
        hog.config.features == "hog" and hog.config.kernel_sigma == 0.5 and hog.config.interp_factor == 0.02
    )
    assert hog.config.cell_size == 4 and hog.config.padding == 1.5 and hog.config.scales == (1.0,)
    mosse = registry.make_tracker("mosse", device="cpu")
    assert isinstance(mosse, cf.MOSSE) and mosse.config.learning_rate == 0.125
    with pytest.raises(TypeError, match="unknown KCFConfig option"):
        cf.KCF(lamda=1.0)
    with pytest.raises(ValueError, match="features"):
        cf.KCFConfig(features="cnn")  # type: ignore[arg-type]


def test_tracker_errors():
    frames, gt = translating_sequence(n=2, static=True)
    with pytest.raises(RuntimeError, match="init"):
        cf.KCF(device="cpu").update(frames[0])
    with pytest.raises(ValueError, match="zero or negative size"):
        cf.MOSSE(device="cpu").init(frames[0], [10, 10, 0, 5])
    with pytest.raises(ValueError, match="entirely outside"):
        cf.KCF(device="cpu").init(frames[0], [1000, 10, 20, 20])


def test_target_at_the_border_and_leaving_the_image():
    frames, gt = translating_sequence(n=3, static=True)
    for tracker in (cf.KCF(device="cpu"), cf.MOSSE(device="cpu")):
        tracker.init(frames[0], [-10, -5, 30, 30])  # partly outside: replicate padding
        box = tracker.update(np.zeros_like(frames[0]))  # a blank frame: no crash, finite box
        assert np.all(np.isfinite(box))


def test_device_handling_on_cpu(sequence):
    frames, gt = sequence
    for tracker in (cf.KCF(device="cpu"), cf.MOSSE(device="cpu"), cf.KCF(device="cpu", features="hog")):
        tracker.init(frames[0], gt[0])
        tracker.update(frames[1])
        assert tracker.device == CPU
        state = [v for v in vars(tracker).values() if isinstance(v, torch.Tensor)]
        assert state and all(t.device == CPU for t in state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trackers_on_cuda_match_cpu(sequence):
    frames, gt = sequence
    for name in ("mosse", "kcf", "kcf-hog"):
        gpu = registry.make_tracker(name, device="cuda")
        pred_gpu = run(gpu, frames[:10], gt[0])
        assert all(t.is_cuda for t in vars(gpu).values() if isinstance(t, torch.Tensor))
        pred_cpu = run(registry.make_tracker(name, device="cpu"), frames[:10], gt[0])
        np.testing.assert_allclose(pred_gpu, pred_cpu, atol=0.05)
