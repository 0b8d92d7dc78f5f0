"""Geometry shared by every tracker: boxes, frames as tensors, search-patch crops, labels, windows.

Conventions (read these once; every function below follows them)
-----------------------------------------------------------------

**Boxes** are ``x, y, w, h`` in the dataset's convention (OTB: 1-based). A box covers the pixel
centres ``x, x+1, ..., x+w-1`` (horizontally), i.e. the continuous extent ``[x - 1/2, x + w - 1/2]``,
and its centre is ``cx = x + (w - 1) / 2`` (book appendix, reading-evaluation, ``docs/interfaces.md``).

**Image coordinates.** The pixel at array index ``[r, c]`` has its centre at ``(c + origin,
r + origin)``. ``origin = 1`` (the default everywhere) is OTB's 1-based convention, so a box centre
computed by :func:`box_to_center` can be handed to :func:`crop_patches` as it is; pass
``origin=0`` to work in array indices.

**Order of pairs.** Points are ``(x, y)``. Extents *in the image* (box sizes, the source sizes of
:func:`crop_patches`) are ``(w, h)``, like boxes. Shapes *of tensors* (``out_size`` of a crop, the
size of a label or window, a per-axis ``sigma``) are ``(h, w)``, like ``tensor.shape``.

**Devices.** Every function that creates a tensor takes ``device``; ``None`` means the device of
the input tensor when there is one, else :func:`rankatt_lib.device` (CUDA when available).
Nothing here synchronises with the GPU except where a Python number is unavoidable.

Crops (:func:`crop_patches`) are exact to the pixel: output pixel ``j`` (of ``n``) of a patch of
source width ``s`` centred on ``cx`` samples the image at ``x = cx + (j - (n - 1) / 2) * s / n``
(bilinear, replicate padding outside the image). The ``n`` output pixels therefore tile the
source extent ``[cx - s/2, cx + s/2]`` exactly, and at scale 1 (``s == n``) with ``cx - (n-1)/2``
an integer the patch is a plain copy of image pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "upload_frame",
    "ANTIALIAS_MIN_SIGMA",
    "box_to_center",
    "center_to_box",
    "clip_box",
    "check_box",
    "to_tensor_image",
    "rgb_to_gray",
    "crop_patches",
    "magnify",
    "gaussian_label",
    "gaussian_labels",
    "cosine_window",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _default_device(device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    from rankatt_lib import device as library_device  # late import: rankatt_lib/__init__ is tiny, no cycle

    return library_device()


# --------------------------------------------------------------------------- boxes


def _as_box_array(box: Any) -> np.ndarray | torch.Tensor:
    if isinstance(box, torch.Tensor):
        out: np.ndarray | torch.Tensor = box if box.is_floating_point() else box.double()
    else:
        out = np.asarray(box, dtype=np.float64)
    if out.ndim == 0 or out.shape[-1] != 4:
        raise ValueError(
            f"a box has 4 values (x, y, w, h) in its last dimension, got shape {tuple(out.shape)}"
        )
    return out


def _stack(parts: list[Any], like: np.ndarray | torch.Tensor) -> Any:
    if isinstance(like, torch.Tensor):
        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def box_to_center(box: Any) -> Any:
    """``x, y, w, h`` -> ``cx, cy, w, h`` with ``cx = x + (w - 1) / 2`` (OTB convention).

    Args:
        box: shape ``(..., 4)``; a list, numpy array or tensor.

    Returns:
        Same shape; a tensor for a tensor input (same dtype and device, integer promoted to
        float64), else a float64 numpy array. ``cx, cy, w, h = box_to_center(b)`` unpacks one box.
    """
    b = _as_box_array(box)
    x, y, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return _stack([x + (w - 1) / 2, y + (h - 1) / 2, w, h], b)


def center_to_box(center_box: Any) -> Any:
    """``cx, cy, w, h`` -> ``x, y, w, h``; the inverse of :func:`box_to_center`.

    Args:
        center_box: shape ``(..., 4)``; list, numpy array or tensor.

    Returns:
        Same shape and type rules as :func:`box_to_center`.
    """
    b = _as_box_array(center_box)
    cx, cy, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return _stack([cx - (w - 1) / 2, cy - (h - 1) / 2, w, h], b)


def _image_hw(image_shape: Sequence[int]) -> tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) < 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"image_shape must be numpy-style (H, W[, C]) with H, W >= 1, got {image_shape!r}")
    return shape[0], shape[1]


def check_box(box: Any, image_shape: Sequence[int] | None = None, *, origin: float = 1.0) -> np.ndarray:
    """Validate one box and return it as a float64 array ``(4,)``.

    Args:
        box: ``x, y, w, h``.
        image_shape: numpy-style ``(H, W[, C])``; when given, a box that does not overlap the image
            at all is rejected.
        origin: coordinate of the first pixel's centre (1 for OTB boxes).

    Raises:
        ValueError: wrong number of values, a NaN/inf, ``w <= 0`` or ``h <= 0``, or (with
            ``image_shape``) a box entirely outside the image; the message names the problem.
    """
    b = np.asarray(box.detach().cpu() if isinstance(box, torch.Tensor) else box, dtype=np.float64)
    b = b.reshape(-1)
    if b.shape != (4,):
        raise ValueError(f"a box is 4 values x, y, w, h; got {b.size} values")
    if not np.all(np.isfinite(b)):
        raise ValueError(f"box {b.tolist()} has a non-finite value")
    if b[2] <= 0 or b[3] <= 0:
        raise ValueError(f"box {b.tolist()} has a zero or negative size (w={b[2]:g}, h={b[3]:g})")
    if image_shape is not None:
        height, width = _image_hw(image_shape)
        # continuous extents: box [x - 1/2, x + w - 1/2), image [origin - 1/2, origin + W - 1/2)
        lo = origin - 0.5
        if (
            b[0] + b[2] - 0.5 <= lo
            or b[0] - 0.5 >= lo + width
            or b[1] + b[3] - 0.5 <= lo
            or b[1] - 0.5 >= lo + height
        ):
            raise ValueError(
                f"box {b.tolist()} lies entirely outside the {width}x{height} image "
                f"(pixel centres {origin:g}..{origin + width - 1:g} by {origin:g}..{origin + height - 1:g})"
            )
    return b


def clip_box(
    box: Any, image_shape: Sequence[int], *, origin: float = 1.0, min_size: float = 1.0
) -> np.ndarray:
    """Intersect boxes with the image, keeping at least ``min_size`` pixels of width and height.

    The image spans the continuous extent ``[origin - 1/2, origin + W - 1/2]``; a box (extent
    ``[x - 1/2, x + w - 1/2]``) is cut to it. When the intersection is thinner than ``min_size``
    (e.g. a box that has left the image), the result is a ``min_size``-wide strip at the nearest
    image border, so the result is always a valid box inside the image.

    Args:
        box: ``(..., 4)`` boxes ``x, y, w, h`` (numpy, list or tensor; the result is numpy float64).
        image_shape: numpy-style ``(H, W[, C])``.
        origin: coordinate of the first pixel's centre (1 for OTB).
        min_size: smallest width/height of the result (clamped to the image size).

    Returns:
        ``(..., 4)`` float64 boxes.
    """
    height, width = _image_hw(image_shape)
    b = _as_box_array(box)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else b
    b = np.array(b, dtype=np.float64)
    if not np.all(np.isfinite(b)):
        raise ValueError("clip_box: a box has a non-finite value")
    for axis, extent in ((0, width), (1, height)):
        lo, hi = origin, origin + extent  # box-coordinate left edge range: [lo, hi) in "x" units
        m = min(float(min_size), float(extent))
        left = np.clip(b[..., axis], lo, hi - m)
        right = np.clip(b[..., axis] + b[..., axis + 2], lo + m, hi)
        size = np.maximum(right - left, m)
        left = np.minimum(left, hi - size)
        b[..., axis] = left
        b[..., axis + 2] = size
    return b


# --------------------------------------------------------------------------- frames as tensors


def upload_frame(image: Any, device: torch.device | str | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """A tracker's frame on ``device`` and its ``(H, W)``: the one upload per frame of every tracker.

    Raises:
        TypeError: ``image`` is not a numpy array or tensor.
    """
    if not isinstance(image, np.ndarray | torch.Tensor):
        raise TypeError(f"image must be an RGB uint8 numpy array (H, W, 3), got {type(image).__name__}")
    frame = to_tensor_image(image, device)
    return frame, (int(frame.shape[1]), int(frame.shape[2]))


def to_tensor_image(image: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """A frame as a ``(C, H, W)`` tensor on ``device``, dtype kept (``uint8`` stays ``uint8``).

    Upload a frame once and crop from it as often as needed. From numpy to CUDA the copy goes
    through pinned memory with ``non_blocking=True`` (PyTorch's caching host allocator keeps the
    pinned buffer alive until the copy is done).

    Args:
        image: numpy ``(H, W, C)`` / ``(H, W)`` array (the library's RGB ``uint8`` frames), or a
            tensor ``(C, H, W)``, ``(H, W, C)`` or ``(H, W)``. A 3-D tensor is read as channels-first
            when ``shape[0]`` is 1 or 3, else as channels-last.
        device: target device; ``None``: the tensor's own device, or :func:`rankatt_lib.device`
            for a numpy input.

    Returns:
        ``(C, H, W)`` tensor (a view when no copy was needed).

    Raises:
        ValueError: not 2-D or 3-D, or an empty image.
        TypeError: neither a numpy array nor a tensor.
    """
    if isinstance(image, torch.Tensor):
        dev = image.device if device is None else torch.device(device)
        t = image
        if t.ndim == 2:
            t = t.unsqueeze(0)
        elif t.ndim == 3:
            if t.shape[0] not in (1, 3):
                t = t.permute(2, 0, 1)
        else:
            raise ValueError(f"an image tensor is (C, H, W), (H, W, C) or (H, W); got shape {tuple(t.shape)}")
        if t.shape[1] < 1 or t.shape[2] < 1:
            raise ValueError(f"empty image of shape {tuple(image.shape)}")
        return t.to(dev, non_blocking=True) if t.device != dev else t
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"an image array is (H, W, C) or (H, W); got shape {image.shape}")
    dev = _default_device(device)
    arr = np.ascontiguousarray(image)
    if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory (e.g. from PIL)
        arr = arr.copy()
    if arr.dtype == np.uint16 or arr.dtype == np.uint32:  # torch lacks most ops on these
        arr = arr.astype(np.int64)
    t = torch.from_numpy(arr)
    if dev.type == "cuda":
        t = t.pin_memory().to(dev, non_blocking=True)
    elif dev != t.device:
        t = t.to(dev)
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)


def rgb_to_gray(image: torch.Tensor) -> torch.Tensor:
    """Luma of RGB tensors, ITU-R BT.601 (``0.299 R + 0.587 G + 0.114 B``, as MATLAB's ``rgb2gray``).

    Args:
        image: ``(..., 3, H, W)`` (any dtype; the result is float32, or the input's float dtype),
            or ``(..., 1, H, W)`` (returned as float, unchanged in value).

    Returns:
        ``(..., 1, H, W)``.
    """
    if image.ndim < 3 or image.shape[-3] not in (1, 3):
        raise ValueError(f"rgb_to_gray expects (..., 3, H, W) or (..., 1, H, W), got {tuple(image.shape)}")
    x = image if image.is_floating_point() else image.float()
    if x.shape[-3] == 1:
        return x
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
    return (x * w.view(3, 1, 1)).sum(dim=-3, keepdim=True)


# --------------------------------------------------------------------------- crops


def _pair_int(value: Any, what: str) -> tuple[int, int]:
    v = np.asarray(value).reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 2)
    if (
        v.size != 2
        or not np.all(np.isfinite(v.astype(np.float64)))
        or np.any(v < 1)
        or np.any(v != np.round(v))
    ):
        raise ValueError(f"{what} must be a positive integer or a pair of them, got {value!r}")
    return int(v[0]), int(v[1])


def _source_sizes(sizes: Any) -> np.ndarray:
    if isinstance(sizes, torch.Tensor):
        sizes = sizes.detach().cpu().numpy()
    s = np.asarray(sizes, dtype=np.float64)
    if s.ndim == 0:
        s = s.reshape(1)
    if s.ndim == 1:
        s = np.stack([s, s], axis=1)  # square patches, one per entry
    if s.ndim != 2 or s.shape[1] != 2 or s.shape[0] < 1:
        raise ValueError(
            "sizes must be a number, a sequence of numbers (square patches, one per scale) or an "
            f"array (B, 2) of (w, h); got shape {s.shape}"
        )
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"source sizes must be finite and > 0, got {s.tolist()}")
    return s


def _gaussian_taps(sigmas: np.ndarray, radius: int) -> np.ndarray:
    """``(B, 2r+1)`` normalised Gaussian taps, each cut at its own radius ``ceil(3 sigma)``.

    (Cutting each row at its own radius makes a batch equal to separate calls.) Sigma 0: a delta.
    """
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    s = np.maximum(sigmas, 1e-12)[:, None]
    k = np.exp(-0.5 * (t[None, :] / s) ** 2)
    k[np.abs(t)[None, :] > np.ceil(3.0 * sigmas)[:, None]] = 0.0
    return k / k.sum(axis=1, keepdims=True)


ANTIALIAS_MIN_SIGMA = 0.3
"""Below this sigma the anti-aliasing blur is skipped: a Gaussian that narrow, sampled on the pixel
grid, is a delta to within 0.4 % (taps 0.004, 0.992, 0.004)."""


def _antialias_sigma(factor: np.ndarray) -> np.ndarray:
    """``(factor - 1) / 2`` (skimage's choice) where that reaches :data:`ANTIALIAS_MIN_SIGMA`, else 0."""
    sigma = np.maximum(factor - 1.0, 0.0) / 2
    return np.where(sigma >= ANTIALIAS_MIN_SIGMA, sigma, 0.0)


def _blur_per_item(region: torch.Tensor, sig_x: np.ndarray, sig_y: np.ndarray) -> torch.Tensor:
    """Blur ``(C, h, w)`` with a separable Gaussian per batch item -> ``(B, C, h, w)``, replicate edges."""
    c, h, w = region.shape
    b = len(sig_x)
    x = region.unsqueeze(0).expand(b, c, h, w).reshape(1, b * c, h, w)
    for axis, sig in ((3, sig_x), (2, sig_y)):
        radius = int(math.ceil(3.0 * float(sig.max())))
        if radius == 0:
            continue
        taps = torch.as_tensor(_gaussian_taps(sig, radius), dtype=region.dtype, device=region.device)
        weight = taps.repeat_interleave(c, dim=0)  # (B*C, K): channel b*c + k uses item b's taps
        if axis == 3:
            x = F.conv2d(
                F.pad(x, (radius, radius, 0, 0), mode="replicate"), weight.view(b * c, 1, 1, -1), groups=b * c
            )
        else:
            x = F.conv2d(
                F.pad(x, (0, 0, radius, radius), mode="replicate"), weight.view(b * c, 1, -1, 1), groups=b * c
            )
    return x.view(b, c, h, w)


def crop_patches(
    image: Any,
    center: Any,
    sizes: Any,
    out_size: int | Sequence[int],
    *,
    origin: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    antialias: bool = False,
) -> torch.Tensor:
    """Crop-and-resize a batch of patches (one per scale) around a centre, in one call.

    Patch ``b`` covers the image extent of size ``sizes[b] = (sw, sh)`` centred on ``center``, and
    is resampled to ``out_size = (out_h, out_w)`` pixels: output pixel ``(i, j)`` samples the image
    at ::

        x = cx + (j - (out_w - 1) / 2) * sw / out_w,    y = cy + (i - (out_h - 1) / 2) * sh / out_h

    bilinearly (``torch.nn.functional.grid_sample``, ``align_corners=False`` with coordinates
    normalised so that pixel centres map exactly). Outside the image the border pixels are
    replicated, so a patch partly or entirely outside the image is valid. Only the bounding region
    of the patches is converted to float and sampled, so the cost does not grow with the frame.

    Args:
        image: the frame: numpy ``(H, W, C)``/``(H, W)`` or a tensor ``(C, H, W)``/``(H, W, C)``
            (see :func:`to_tensor_image`; pass a tensor already on the device to avoid an upload).
        center: ``(cx, cy)`` in image coordinates (see ``origin``), or ``(B, 2)``, one per patch.
        sizes: source extent per patch: a number or a sequence of ``B`` numbers (square patches),
            or an array ``(B, 2)`` of ``(w, h)``. A 1-D sequence is always read as square sizes.
        out_size: ``out`` or ``(out_h, out_w)``.
        origin: coordinate of pixel ``[0, 0]``'s centre: 1 (default) for OTB boxes, 0 for array
            indices.
        device: where to crop; ``None``: the image tensor's device, or :func:`rankatt_lib.device`.
        dtype: output dtype; ``torch.uint8`` rounds and clamps to 0..255. Sampling runs in float64
            when ``dtype`` is float64, else in float32.
        antialias: low-pass the image before downsampling: a Gaussian with
            ``sigma = (s / out - 1) / 2`` per axis and patch (the choice of ``skimage.transform``),
            none when upsampling or when that sigma is below :data:`ANTIALIAS_MIN_SIGMA` (a
            downsampling by less than 1.6x). Off by default (like OpenCV's ``INTER_LINEAR`` crops
            of SiamFC/CREST).

    Returns:
        ``(B, C, out_h, out_w)`` tensor on ``device``.

    Raises:
        ValueError: non-finite centre, non-positive sizes, inconsistent batch sizes.
    """
    img = to_tensor_image(image, device)
    dev = img.device
    c, height, width = img.shape
    out_h, out_w = _pair_int(out_size, "out_size")
    src = _source_sizes(sizes)
    ctr = np.asarray(center.detach().cpu() if isinstance(center, torch.Tensor) else center, dtype=np.float64)
    if ctr.shape == (2,):
        ctr = ctr[None, :]
    if ctr.ndim != 2 or ctr.shape[1] != 2:
        raise ValueError(f"center must be (cx, cy) or (B, 2), got shape {ctr.shape}")
    if not np.all(np.isfinite(ctr)):
        raise ValueError(f"center has a non-finite value: {ctr.tolist()}")
    batch = max(len(src), len(ctr))
    if len(src) not in (1, batch) or len(ctr) not in (1, batch):
        raise ValueError(f"{len(ctr)} centres and {len(src)} sizes do not broadcast to one batch")
    src = np.broadcast_to(src, (batch, 2))
    ctr = np.broadcast_to(ctr, (batch, 2)) - origin  # -> array-index coordinates

    # sampling positions (float64, array-index coordinates): (B, out_w) and (B, out_h)
    fx, fy = src[:, 0] / out_w, src[:, 1] / out_h
    xs = ctr[:, :1] + (np.arange(out_w) - (out_w - 1) / 2)[None, :] * fx[:, None]
    ys = ctr[:, 1:] + (np.arange(out_h) - (out_h - 1) / 2)[None, :] * fy[:, None]

    sig_x = _antialias_sigma(fx) if antialias else np.zeros(batch)
    sig_y = _antialias_sigma(fy) if antialias else np.zeros(batch)
    mx, my = int(math.ceil(3 * sig_x.max())), int(math.ceil(3 * sig_y.max()))

    # the bounding region (clipped to the image: beyond it, border replication does the rest)
    x0 = int(np.clip(math.floor(xs.min()) - mx, 0, width - 1))
    x1 = int(np.clip(math.ceil(xs.max()) + mx, 0, width - 1))
    y0 = int(np.clip(math.floor(ys.min()) - my, 0, height - 1))
    y1 = int(np.clip(math.ceil(ys.max()) + my, 0, height - 1))
    work = torch.float64 if dtype == torch.float64 else torch.float32
    region = img[:, y0 : y1 + 1, x0 : x1 + 1].to(work)
    rh, rw = region.shape[1:]
    if mx or my:
        batch_region = _blur_per_item(region, sig_x, sig_y)
    else:
        batch_region = region.unsqueeze(0).expand(batch, c, rh, rw)

    # normalised grid: with align_corners=False, g = (2 * x + 1) / size - 1 puts x on pixel centre x
    gx = (2 * (xs - x0) + 1) / rw - 1
    gy = (2 * (ys - y0) + 1) / rh - 1
    g = torch.as_tensor(np.concatenate([gx, gy], axis=1), dtype=work, device=dev)
    gxt, gyt = g[:, :out_w], g[:, out_w:]
    grid = torch.stack(torch.broadcast_tensors(gxt[:, None, :], gyt[:, :, None]), dim=-1)
    out = F.grid_sample(batch_region, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(dtype)


# --------------------------------------------------------------------------- labels and windows


def magnify(image: np.ndarray, centre: Sequence[float], scale: float) -> np.ndarray:
    """``image`` magnified ``scale`` times about ``centre`` (1-based OTB pixel coordinates), same
    size: a target at ``centre`` looks ``scale`` times larger (bilinear, edges reflected). The
    probe of a scale estimate: on frame 1 magnified by 1.05 a tracker should choose scale 1.05.

    Raises:
        ValueError: a scale that is not positive and finite, or an image that is not (H, W[, C]).
    """
    import cv2

    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    cx, cy = float(centre[0]) - 1.0, float(centre[1]) - 1.0  # 0-based pixel centres
    m = np.array([[scale, 0.0, (1.0 - scale) * cx], [0.0, scale, (1.0 - scale) * cy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _pair_float(value: Any, what: str) -> tuple[float, float]:
    v = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    v = v.reshape(-1)
    if v.size == 1:
        v = np.repeat(v, 2)
    if v.size != 2 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{what} must be a positive number or a pair (y, x) of them, got {value!r}")
    return float(v[0]), float(v[1])


def gaussian_labels(
    size: int | Sequence[int],
    centers: Any,
    sigma: float | Sequence[float],
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``K`` 2-D Gaussians, one per centre: ``y_k[i, j] = exp(-(j-x_k)^2/(2 s_x^2) - (i-y_k)^2/(2 s_y^2))``.

    Args:
        size: ``n`` or ``(h, w)``.
        centers: ``(K, 2)`` points ``(x, y)`` in array-index coordinates (``[0, 0]`` is pixel
            ``[0, 0]``; fractional values allowed). A single ``(x, y)`` gives ``K = 1``.
        sigma: standard deviation in pixels, a number or ``(sigma_y, sigma_x)``.
        device: ``None`` -> :func:`rankatt_lib.device`.
        dtype: floating dtype of the result.

    Returns:
        ``(K, h, w)``; each map is 1 at its centre when the centre is on a pixel.
    """
    h, w = _pair_int(size, "size")
    sy, sx = _pair_float(sigma, "sigma")
    ctr = np.asarray(
        centers.detach().cpu() if isinstance(centers, torch.Tensor) else centers, dtype=np.float64
    )
    if ctr.ndim == 1:
        ctr = ctr.reshape(1, -1)
    if ctr.ndim != 2 or ctr.shape[1] != 2 or not np.all(np.isfinite(ctr)):
        raise ValueError(f"centers must be finite (K, 2) points (x, y), got shape {ctr.shape}")
    dev = _default_device(device)
    c = torch.as_tensor(ctr, dtype=torch.float64, device=dev)
    xs = torch.arange(w, dtype=torch.float64, device=dev)
    ys = torch.arange(h, dtype=torch.float64, device=dev)
    gx = torch.exp(-0.5 * ((xs[None, :] - c[:, :1]) / sx) ** 2)  # (K, w)
    gy = torch.exp(-0.5 * ((ys[None, :] - c[:, 1:]) / sy) ** 2)  # (K, h)
    return (gy[:, :, None] * gx[:, None, :]).to(dtype)


def gaussian_label(
    size: int | Sequence[int],
    sigma: float | Sequence[float],
    center: Sequence[float] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """One 2-D Gaussian label ``(h, w)`` with peak 1 (the regression target of correlation filters).

    Convention for the default centre: pixel ``(w // 2, h // 2)`` — the exact centre for odd sizes,
    the pixel just right of/below the geometric centre for even sizes (the position of the zero
    frequency after ``fftshift``). So the peak is exactly 1 on a pixel for every size, and
    ``torch.fft.ifftshift(label)`` moves it to index ``[0, 0]`` (the wrapped label of KCF/MOSSE).
    Pass ``center=((w - 1) / 2, (h - 1) / 2)`` for the geometric centre of an even-sized patch
    (the centre of a :func:`crop_patches` output); the peak is then below 1.

    Args:
        size: ``n`` or ``(h, w)``.
        sigma: standard deviation in pixels: a number or ``(sigma_y, sigma_x)``.
        center: ``(x, y)`` in array-index coordinates; default ``(w // 2, h // 2)``.
        device: ``None`` -> :func:`rankatt_lib.device`.
        dtype: floating dtype.

    Returns:
        ``(h, w)`` tensor.
    """
    h, w = _pair_int(size, "size")
    ctr = (w // 2, h // 2) if center is None else center
    return gaussian_labels(
        (h, w), np.asarray(ctr, dtype=np.float64).reshape(1, 2), sigma, device=device, dtype=dtype
    )[0]


def cosine_window(
    h: int, w: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The 2-D cosine (Hann) window ``hann(h)[:, None] * hann(w)[None, :]``.

    The symmetric Hann window ``0.5 (1 - cos(2 pi n / (N - 1)))``, ``n = 0..N-1`` (MATLAB's
    ``hann(N)``, used by KCF and MOSSE): zero on the first and last row and column, symmetric, and
    1 at the centre for odd sizes. A size of 1 gives a window of ones along that axis.

    Returns:
        ``(h, w)`` tensor on ``device`` (``None`` -> :func:`rankatt_lib.device`).
    """
    h, w = _pair_int((h, w), "window size")
    dev = _default_device(device)
    wy = torch.hann_window(h, periodic=False, dtype=torch.float64, device=dev)
    wx = torch.hann_window(w, periodic=False, dtype=torch.float64, device=dev)
    return (wy[:, None] * wx[None, :]).to(dtype)
