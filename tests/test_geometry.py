"""Tests of rankatt_lib.features.geometry: boxes, frames as tensors, crops, labels, windows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from rankatt_lib.features import geometry as G

CPU = torch.device("cpu")


def coord_image(h: int = 48, w: int = 64) -> np.ndarray:
    """A float64 image whose value encodes its pixel: ``1000 * row + col`` (linear in both axes)."""
    r, c = np.mgrid[0:h, 0:w]
    return (1000.0 * r + c).astype(np.float64)


def random_rgb(h: int = 40, w: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- boxes


def test_box_to_center_follows_otb_convention():
    cx, cy, w, h = G.box_to_center([1, 1, 4, 6])
    assert (cx, cy, w, h) == (2.5, 3.5, 4.0, 6.0)  # pixels 1..4 -> centre 2.5; 1..6 -> 3.5


def test_box_round_trip_numpy_and_torch():
    boxes = np.random.default_rng(1).uniform(1, 100, size=(7, 4))
    back = G.center_to_box(G.box_to_center(boxes))
    np.testing.assert_allclose(back, boxes, atol=1e-12)
    t = torch.as_tensor(boxes, dtype=torch.float64)
    ct = G.box_to_center(t)
    assert isinstance(ct, torch.Tensor) and ct.shape == (7, 4) and ct.dtype == torch.float64
    np.testing.assert_allclose(ct.numpy(), G.box_to_center(boxes), atol=1e-12)
    np.testing.assert_allclose(G.center_to_box(ct).numpy(), boxes, atol=1e-12)


def test_box_conversion_rejects_wrong_shape():
    with pytest.raises(ValueError, match="4 values"):
        G.box_to_center([1, 2, 3])


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ([1, 1, 0, 5], "zero or negative size"),
        ([1, 1, 5, -2], "zero or negative size"),
        ([1, np.nan, 5, 5], "non-finite"),
        ([1, 2, 3], "4 values"),
        ([200, 10, 5, 5], "entirely outside"),
        ([-10, 10, 5, 5], "entirely outside"),  # covers x = -10..-6: left of pixel 1
        ([10, 61, 5, 5], "entirely outside"),  # image rows 1..60
    ],
)
def test_check_box_names_the_problem(box, message):
    with pytest.raises(ValueError, match=message):
        G.check_box(box, (60, 80, 3))


def test_check_box_accepts_partly_visible_boxes():
    out = G.check_box([-3, 10, 5, 5], (60, 80, 3))  # x = -3..1: its last column is pixel 1
    assert out.dtype == np.float64 and out.tolist() == [-3, 10, 5, 5]
    with pytest.raises(ValueError, match="entirely outside"):
        G.check_box([-4, 10, 5, 5], (60, 80, 3))  # x = -4..0: nothing inside
    G.check_box([-4, 10, 5, 5], (60, 80, 3), origin=0)  # ...but pixel 0 exists 0-based


def test_clip_box():
    shape = (60, 80)
    np.testing.assert_array_equal(G.clip_box([10, 10, 20, 20], shape), [10, 10, 20, 20])
    np.testing.assert_array_equal(G.clip_box([-9, 50, 20, 20], shape), [1, 50, 10, 11])
    # entirely outside -> a min_size strip at the nearest border, still a valid box
    out = G.clip_box([[500, -500, 20, 20]], shape, min_size=2)
    np.testing.assert_array_equal(out, [[79, 1, 2, 2]])
    G.check_box(out[0], shape)


# --------------------------------------------------------------------------- frames


def test_to_tensor_image_layouts():
    img = random_rgb()
    t = G.to_tensor_image(img, CPU)
    assert t.shape == (3, 40, 50) and t.dtype == torch.uint8
    np.testing.assert_array_equal(t.permute(1, 2, 0).numpy(), img)
    hwc = torch.from_numpy(img)
    assert torch.equal(G.to_tensor_image(hwc), t)
    assert torch.equal(G.to_tensor_image(t), t)
    assert G.to_tensor_image(img[..., 0], CPU).shape == (1, 40, 50)
    with pytest.raises(ValueError):
        G.to_tensor_image(np.zeros((2, 3, 4, 5)), CPU)
    with pytest.raises(TypeError):
        G.to_tensor_image([[1, 2], [3, 4]], CPU)


def test_rgb_to_gray_weights():
    t = torch.tensor([255, 0, 0], dtype=torch.uint8).view(3, 1, 1).expand(3, 2, 2)
    assert torch.allclose(G.rgb_to_gray(t), torch.full((1, 2, 2), 0.299 * 255))


# --------------------------------------------------------------------------- crops


@pytest.mark.parametrize("out", [11, 10])
def test_crop_scale_one_copies_pixels_exactly(out):
    img = coord_image()
    r0, c0 = 7, 12  # top-left pixel of the expected patch (array indices)
    cx = c0 + (out - 1) / 2 + 1  # 1-based centre (half-integer for even sizes)
    cy = r0 + (out - 1) / 2 + 1
    p = G.crop_patches(img, (cx, cy), out, out, device=CPU, dtype=torch.float64)
    assert p.shape == (1, 1, out, out)
    np.testing.assert_allclose(p[0, 0].numpy(), img[r0 : r0 + out, c0 : c0 + out], atol=1e-9)
    # origin=0: the same patch from array-index coordinates
    p0 = G.crop_patches(img, (cx - 1, cy - 1), out, out, origin=0, device=CPU, dtype=torch.float64)
    assert torch.equal(p0, p)


def test_crop_uint8_rgb_is_exact_and_matches_a_slice():
    img = random_rgb(60, 70, seed=3)
    p = G.crop_patches(img, (31, 21), 15, 15, device=CPU, dtype=torch.uint8)
    assert p.dtype == torch.uint8 and p.shape == (1, 3, 15, 15)
    np.testing.assert_array_equal(p[0].permute(1, 2, 0).numpy(), img[13:28, 23:38])


def test_crop_rectangular_sizes_and_outputs():
    img = coord_image()
    p = G.crop_patches(img, (20, 15), [[9, 5]], (5, 9), device=CPU, dtype=torch.float64)  # (w, h) -> (h, w)
    assert p.shape == (1, 1, 5, 9)
    np.testing.assert_allclose(p[0, 0].numpy(), img[12:17, 15:24], atol=1e-9)


def test_crop_fractional_positions_are_bilinear():
    img = coord_image()  # linear in x and y: bilinear sampling reproduces the coordinates exactly
    cx, cy, size, out = 30.3, 20.6, 10.0, 4  # 1-based centre, scale 2.5
    p = G.crop_patches(img, (cx, cy), size, out, device=CPU, dtype=torch.float64)[0, 0].numpy()
    j = np.arange(out)
    xs = cx - 1 + (j - (out - 1) / 2) * size / out
    ys = cy - 1 + (j - (out - 1) / 2) * size / out
    np.testing.assert_allclose(p, 1000 * ys[:, None] + xs[None, :], atol=1e-9)


def test_crop_scale_two_subsamples_like_area_halving():
    img = random_rgb(64, 64, seed=5)
    x0, y0, n = 10, 6, 16  # patch covers pixels [x0, x0 + 2n) x [y0, y0 + 2n)
    cx, cy = x0 + n - 0.5 + 1, y0 + n - 0.5 + 1  # 1-based centre of that block
    p = G.crop_patches(img, (cx, cy), 2 * n, n, device=CPU)[0].permute(1, 2, 0).numpy()
    block = img[y0 : y0 + 2 * n, x0 : x0 + 2 * n].astype(np.float64)
    mean2x2 = (block[0::2, 0::2] + block[1::2, 0::2] + block[0::2, 1::2] + block[1::2, 1::2]) / 4
    np.testing.assert_allclose(p, mean2x2, atol=1e-3)  # samples at 2j + 0.5: the 2x2 means
    ref = cv2.resize(img[y0 : y0 + 2 * n, x0 : x0 + 2 * n], (n, n), interpolation=cv2.INTER_LINEAR)
    assert np.abs(p - ref).max() <= 1.0  # OpenCV's uint8 rounding


def test_crop_partly_outside_replicates_the_border():
    img = random_rgb(30, 40, seed=7)
    padded = np.pad(img, ((20, 20), (20, 20), (0, 0)), mode="edge")
    for cx, cy in [(1, 1), (40, 30), (-3, 15), (45, -2)]:  # 1-based integer centres
        p = G.crop_patches(img, (cx, cy), 9, 9, device=CPU, dtype=torch.uint8)[0].permute(1, 2, 0).numpy()
        r, c = int(cy) - 1 - 4 + 20, int(cx) - 1 - 4 + 20
        np.testing.assert_array_equal(p, padded[r : r + 9, c : c + 9], err_msg=f"centre {(cx, cy)}")


def test_crop_entirely_outside_does_not_crash():
    img = random_rgb(30, 40, seed=8)
    far = G.crop_patches(img, (-500, -700), [20, 60], 9, device=CPU, dtype=torch.uint8)
    assert far.shape == (2, 3, 9, 9)
    assert torch.equal(far, torch.from_numpy(img[0, 0]).view(1, 3, 1, 1).expand(2, 3, 9, 9))
    left = G.crop_patches(img, (-100, 16), 9, 9, device=CPU, dtype=torch.uint8)[0]
    expected = np.repeat(img[11:20, 0][:, None, :], 9, axis=1)  # each row: its left border pixel
    np.testing.assert_array_equal(left.permute(1, 2, 0).numpy(), expected)
    huge = G.crop_patches(img, (20, 15), 10_000, 5, device=CPU)  # a patch far larger than the image
    assert torch.isfinite(huge).all()


@pytest.mark.parametrize("antialias", [False, True])
def test_batch_of_scales_equals_independent_crops(antialias):
    img = random_rgb(80, 90, seed=9)
    centre, out = (41.5, 37.25), 15
    scales = [0.9, 1.7, 3.1]
    kw = {"device": CPU, "antialias": antialias, "dtype": torch.float64}
    batch = G.crop_patches(img, centre, [20 * s for s in scales], out, **kw)
    assert batch.shape == (3, 3, out, out)
    for k, s in enumerate(scales):
        one = G.crop_patches(img, centre, 20 * s, out, **kw)
        torch.testing.assert_close(batch[k : k + 1], one, atol=1e-9, rtol=0)
    # a batch of centres, too
    two = G.crop_patches(img, [[30, 30], [60, 50]], 20, out, **kw)
    torch.testing.assert_close(two[1:], G.crop_patches(img, (60, 50), 20, out, **kw), atol=1e-9, rtol=0)
    # float32 (the default) agrees to float32 precision
    f32 = G.crop_patches(img, centre, [20 * s for s in scales], out, device=CPU, antialias=antialias)
    torch.testing.assert_close(f32, batch.float(), atol=2e-3, rtol=0)


def test_antialias_removes_aliasing():
    checker = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)  # period-2 checkerboard
    # 1-based centre 33 -> samples at array index 2 + 4 j: all on black pixels (row + col even)
    plain = G.crop_patches(checker, (33, 33), 64, 16, device=CPU)
    smooth = G.crop_patches(checker, (33, 33), 64, 16, device=CPU, antialias=True)
    assert plain.max().item() < 0.01  # aliased: the grey texture comes out black
    assert abs(smooth.mean().item() - 127.5) < 3 and smooth.std().item() < 5


def test_crop_errors():
    img = random_rgb()
    with pytest.raises(ValueError, match="non-finite"):
        G.crop_patches(img, (np.nan, 3), 10, 5, device=CPU)
    with pytest.raises(ValueError, match="> 0"):
        G.crop_patches(img, (3, 3), [10, 0], 5, device=CPU)
    with pytest.raises(ValueError, match="out_size"):
        G.crop_patches(img, (3, 3), 10, 0, device=CPU)
    with pytest.raises(ValueError, match="broadcast"):
        G.crop_patches(img, [[3, 3], [4, 4]], [10, 11, 12], 5, device=CPU)


# --------------------------------------------------------------------------- labels and windows


@pytest.mark.parametrize(("h", "w"), [(11, 11), (10, 12), (7, 8)])
def test_gaussian_label_peak(h, w):
    y = G.gaussian_label((h, w), 2.0, device=CPU)
    assert y.shape == (h, w) and y.device == CPU
    assert y.max().item() == 1.0
    assert divmod(int(y.argmax()), w) == (h // 2, w // 2)  # documented convention
    assert torch.fft.ifftshift(y)[0, 0].item() == 1.0  # wraps to the origin for KCF/MOSSE
    assert y[h // 2, w // 2 + 2].item() == pytest.approx(np.exp(-0.5))  # one sigma away
    assert torch.allclose(y[h // 2, w // 2 - 2], y[h // 2, w // 2 + 2])


def test_gaussian_label_anisotropic_and_explicit_centre():
    y = G.gaussian_label((9, 15), (1.0, 3.0), center=(4.5, 2.0), device=CPU, dtype=torch.float64)
    assert y[2, 4].item() == pytest.approx(np.exp(-0.5 * (0.5 / 3.0) ** 2))
    assert y[3, 4].item() == pytest.approx(np.exp(-0.5 * (1 / 1.0) ** 2 - 0.5 * (0.5 / 3.0) ** 2))


def test_gaussian_labels_multi_peak():
    centres = np.array([[2, 3], [10, 1], [5.5, 7]])
    ys = G.gaussian_labels((9, 12), centres, 1.5, device=CPU)
    assert ys.shape == (3, 9, 12)
    for k, (x, y) in enumerate(centres[:2]):
        assert divmod(int(ys[k].argmax()), 12) == (y, x) and ys[k].max().item() == 1.0
    assert ys[2, 7, 5].item() == pytest.approx(ys[2, 7, 6].item())  # centre between two columns
    with pytest.raises(ValueError, match="sigma"):
        G.gaussian_labels((9, 12), centres, 0.0, device=CPU)


@pytest.mark.parametrize(("h", "w"), [(9, 9), (8, 13), (1, 5)])
def test_cosine_window(h, w):
    win = G.cosine_window(h, w, device=CPU)
    assert win.shape == (h, w)
    torch.testing.assert_close(win, win.flip(0))
    torch.testing.assert_close(win, win.flip(1))
    if h > 1:
        assert win[0].abs().max() == 0 and win[-1].abs().max() == 0
    assert win[:, 0].abs().max() == 0 and win[:, -1].abs().max() == 0
    if h % 2 and w % 2:
        assert win[h // 2, w // 2].item() == pytest.approx(1.0)
    assert win.min() >= 0 and win.max() <= 1


# --------------------------------------------------------------------------- devices


def test_tensors_are_created_on_the_requested_device():
    img = random_rgb()
    assert G.crop_patches(img, (10, 10), 8, 4, device="cpu").device == CPU
    assert G.gaussian_label(5, 1.0, device="cpu").device == CPU
    assert G.cosine_window(5, 5, device="cpu").device == CPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_crop_on_cuda_matches_cpu():
    img = random_rgb(60, 70, seed=11)
    frame = G.to_tensor_image(img, "cuda")
    assert frame.is_cuda
    gpu = G.crop_patches(frame, (33.2, 21.7), [12, 20, 31], 15, antialias=True)
    assert gpu.is_cuda
    cpu = G.crop_patches(img, (33.2, 21.7), [12, 20, 31], 15, device=CPU, antialias=True)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3, rtol=0)
    assert G.gaussian_label(7, 1.0, device="cuda").is_cuda
    assert G.cosine_window(7, 7, device="cuda").is_cuda


def test_a_read_only_frame_converts_without_a_warning():
    """Frames from PIL (``np.asarray(Image)``) are read-only; torch.from_numpy warned on them."""
    import warnings

    frame = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    frame.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = G.to_tensor_image(frame, device="cpu")
    assert t.shape == (3, 4, 5)
    np.testing.assert_array_equal(t.permute(1, 2, 0).numpy(), frame)
    assert not frame.flags.writeable  # the caller's array is not touched
