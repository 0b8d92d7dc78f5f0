r"""Correlation filters from first principles: MOSSE and KCF, in ``torch.fft``.

Two trackers for the book's correlation-filter chapter, and the small pure functions they are made
of, so the chapter can show each step on its own:

* :class:`MOSSE` — Bolme, Beveridge, Draper, Lui, "Visual Object Tracking using Adaptive
  Correlation Filters", CVPR 2010. Grayscale, log + normalise + cosine window, a Gaussian target,
  the closed-form filter :math:`H^* = \sum_i G_i \odot F_i^* / (\sum_i F_i \odot F_i^* + \epsilon)`
  (:func:`mosse_filter`), learnt from 8 random affine perturbations of the first patch, updated
  by running averages of numerator and denominator (learning rate 0.125), PSR (:func:`psr`).
* :class:`KCF` — Henriques, Caseiro, Martins, Batista, "High-Speed Tracking with Kernelized
  Correlation Filters", TPAMI 2015 (equation numbers below are those of that paper, arXiv
  1404.7584). Kernel ridge regression over all cyclic shifts of a patch, solved in the Fourier
  domain: train :math:`\hat\alpha = \hat y / (\hat k^{xx} + \lambda)` (Eq. 17,
  :func:`train_kcf`), detect :math:`\hat f(z) = \hat k^{xz} \odot \hat\alpha` (Eq. 22,
  :func:`detect_kcf`) with the Gaussian kernel correlation of Eq. 31
  (:func:`gaussian_correlation`). Raw grayscale pixels by default, or FHOG-like gradient features
  (:func:`hog_features`). Like the paper's KCF it has a fixed scale by default; a small scale search
  (``scales=(0.95, 1.0, 1.05)``) is available as an option that is *not* in the paper.

Registered trackers (:mod:`rankatt_lib.registry`): ``"mosse"``, ``"kcf"`` (raw gray pixels, the
paper's "KCF on raw pixels") and ``"kcf-hog"`` (the paper's headline KCF with HOG features). They
are the book's own implementations, distinct from OpenCV's ``"opencv-mosse"`` / ``"opencv-kcf"``.

Conventions
-----------
* A response map ``r`` of size ``(h, w)`` is *cyclic*: ``r[dy, dx]`` scores the shift of the
  target by ``(dx, dy)`` cells, indices wrapped (``dx = w - 1`` means ``-1``). The regression
  target is a Gaussian peaked at index ``[0, 0]`` (``ifftshift`` of
  :func:`rankatt_lib.features.geometry.gaussian_label`), so training on a patch and detecting on the same
  patch cyclically shifted by ``(dx, dy)`` peaks exactly at ``[dy, dx]``.
* The spatial correlation ``F^{-1}(\hat a^* \odot \hat b)[d] = \sum_u a[u]\, b[u + d]`` (indices
  mod n) is what both filters compute; :func:`circulant` builds the matrix whose product with a
  vector is that correlation, to show the trick numerically.
* Every tensor op runs on the tracker's ``device`` (default :func:`rankatt_lib.device`); each
  ``update`` synchronises with the device once, to read the peak.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from rankatt_lib import device as default_device
from rankatt_lib.configs import make_config
from rankatt_lib.features.geometry import (
    box_to_center,
    center_to_box,
    check_box,
    cosine_window,
    crop_patches,
    gaussian_label,
    rgb_to_gray,
    upload_frame,
)

__all__ = [
    "circulant",
    "circulant_product",
    "gaussian_correlation",
    "train_kcf",
    "detect_kcf",
    "mosse_filter",
    "preprocess_mosse",
    "psr",
    "find_peak",
    "hog_features",
    "MOSSEConfig",
    "MOSSE",
    "KCFConfig",
    "KCF",
]


# =========================================================================== pure helpers


def circulant(x: torch.Tensor) -> torch.Tensor:
    r"""The circulant matrix :math:`C(x)` of a 1-D signal (Henriques et al. 2015, Eq. 6).

    Row ``i`` is ``x`` cyclically shifted right by ``i`` (``torch.roll(x, i)``), i.e.
    ``C[i, j] = x[(j - i) mod n]``: the rows are all the cyclic shifts of ``x``, the "virtual
    samples" of KCF. Its product with a vector is a cyclic cross-correlation, computed in
    ``O(n log n)`` by the FFT (:func:`circulant_product`)::

        circulant(x) @ y == ifft(conj(fft(x)) * fft(y)).real

    and the DFT diagonalises it (Eq. 7): ``C(x) = U diag(fft(x)) U^H`` with ``U`` the unitary DFT
    matrix (``U[k, j] = exp(-2 pi i k j / n) / sqrt(n)``).

    Args:
        x: ``(n,)`` real or complex tensor.

    Returns:
        ``(n, n)`` tensor, same dtype and device.
    """
    if x.ndim != 1:
        raise ValueError(f"circulant takes a 1-D signal, got shape {tuple(x.shape)}")
    n = x.shape[0]
    i = torch.arange(n, device=x.device)
    return x[(i[None, :] - i[:, None]) % n]


def circulant_product(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""``circulant(x) @ y`` without building the matrix: :math:`F^{-1}(\hat x^* \odot \hat y)`.

    Args:
        x, y: real ``(n,)`` tensors (or batches ``(..., n)``).

    Returns:
        ``(..., n)`` real tensor: ``out[i] = sum_j x[j - i] y[j] = sum_u x[u] y[u + i]``.
    """
    return torch.fft.ifft(torch.fft.fft(x).conj() * torch.fft.fft(y)).real


def _as_chw(x: torch.Tensor, what: str) -> torch.Tensor:
    """``(H, W)`` -> ``(1, H, W)``; ``(..., C, H, W)`` unchanged."""
    if x.ndim == 2:
        return x.unsqueeze(0)
    if x.ndim < 2:
        raise ValueError(f"{what} must be (H, W) or (..., C, H, W), got shape {tuple(x.shape)}")
    return x


def gaussian_correlation(x: torch.Tensor, z: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""Gaussian kernel correlation :math:`k^{xz}` of two multi-channel patches (Eq. 31).

    .. math::
        k^{xz} = \exp\Big(-\frac{1}{\sigma^2}\,\max\big(0,\; \tfrac{1}{N}\big(\|x\|^2 + \|z\|^2
            - 2\,F^{-1}(\textstyle\sum_c \hat x_c^* \odot \hat z_c)\big)\big)\Big)

    ``k[d]`` is the Gaussian kernel between ``x`` and ``z`` cyclically shifted back by ``d``
    (``z[u + d]``), for every shift ``d`` at once. As in the authors' code the squared distance is
    divided by ``N = C * H * W`` (so ``sigma`` does not depend on the patch size) and clamped at 0
    (rounding). The MATLAB code names this ``gaussian_correlation(zf, model_xf)``.

    Args:
        x: ``(C, H, W)`` or ``(H, W)`` real tensor (the training patch / model).
        z: ``(..., C, H, W)`` or ``(H, W)``; leading dims broadcast against ``x`` (e.g. one
            patch per scale).
        sigma: kernel bandwidth.

    Returns:
        ``(..., H, W)`` real tensor.
    """
    x, z = _as_chw(x, "x"), _as_chw(z, "z")
    if x.shape[-3:] != z.shape[-3:]:
        raise ValueError(f"x {tuple(x.shape)} and z {tuple(z.shape)} differ in (C, H, W)")
    h, w = x.shape[-2:]
    xf = torch.fft.fft2(x)
    zf = torch.fft.fft2(z)
    xz = torch.fft.ifft2((xf.conj() * zf).sum(dim=-3)).real
    xx = x.square().sum(dim=(-3, -2, -1))
    zz = z.square().sum(dim=(-3, -2, -1))
    d = (xx + zz)[..., None, None] - 2 * xz
    numel = x.shape[-3] * h * w
    return torch.exp(-(d / numel).clamp_min(0) / (sigma * sigma))


def train_kcf(x: torch.Tensor, y: torch.Tensor, sigma: float, lam: float) -> torch.Tensor:
    r"""Kernel ridge regression on all cyclic shifts of ``x`` (Eq. 17).

    :math:`\hat\alpha = \hat y / (\hat k^{xx} + \lambda)`: the dual solution
    :math:`\alpha = (K + \lambda I)^{-1} y` with the circulant kernel matrix
    :math:`K = C(k^{xx})` diagonalised by the DFT.

    Args:
        x: ``(C, H, W)`` or ``(H, W)`` training patch (features, already windowed).
        y: ``(H, W)`` regression target (a Gaussian peaked at ``[0, 0]``, cyclic).
        sigma: Gaussian kernel bandwidth.
        lam: ridge regulariser :math:`\lambda`.

    Returns:
        :math:`\hat\alpha`, ``(H, W)`` complex: the dual coefficients in the Fourier domain.
    """
    k = gaussian_correlation(x, x, sigma)
    return torch.fft.fft2(y.to(k.dtype)) / (torch.fft.fft2(k) + lam)


def detect_kcf(alphaf: torch.Tensor, x: torch.Tensor, z: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""The response of a trained KCF on new patches (Eq. 22).

    :math:`f(z) = F^{-1}(\hat k^{xz} \odot \hat\alpha)`: the regression value of every cyclic
    shift of ``z`` at once.

    Args:
        alphaf: ``(H, W)`` complex, from :func:`train_kcf`.
        x: ``(C, H, W)`` the model patch the coefficients belong to.
        z: ``(..., C, H, W)`` (or ``(H, W)``) test patches.
        sigma: the kernel bandwidth used in training.

    Returns:
        ``(..., H, W)`` real response; its peak at cyclic index ``[dy, dx]`` means the target
        moved by ``(dx, dy)`` cells.
    """
    k = gaussian_correlation(x, z, sigma)
    return torch.fft.ifft2(alphaf * torch.fft.fft2(k)).real


def preprocess_mosse(patches: torch.Tensor, window: torch.Tensor | None = None) -> torch.Tensor:
    """MOSSE's preprocessing: ``log(p + 1)``, zero mean and unit norm per patch, times the window.

    Args:
        patches: ``(..., H, W)`` non-negative intensities (e.g. 0..255).
        window: ``(H, W)`` cosine window, or ``None``.

    Returns:
        ``(..., H, W)`` float tensor (float32 for integer input, else the input's dtype). A constant
        patch becomes all zeros (never NaN).
    """
    x = patches if patches.is_floating_point() else patches.float()
    x = torch.log1p(x.clamp_min(0))
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    x = x / (x.square().sum(dim=(-2, -1), keepdim=True).sqrt() + 1e-5)
    return x if window is None else x * window


def mosse_filter(patches: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""The MOSSE filter (Bolme et al. 2010).

    :math:`H^* = \sum_i G \odot F_i^* \,/\, (\sum_i F_i \odot F_i^* + \epsilon)`.

    The filter minimising :math:`\sum_i \| F_i \odot H^* - G \|^2` in closed form, frequency by
    frequency. Its response on a new (preprocessed) patch ``p`` is ``ifft2(fft2(p) * H*).real``.

    Args:
        patches: ``(N, H, W)`` (or ``(H, W)``) preprocessed training patches.
        target: ``(H, W)`` desired output ``g`` (a Gaussian peaked at ``[0, 0]``, cyclic).
        eps: regulariser added to the energy spectrum.

    Returns:
        :math:`H^*`, ``(H, W)`` complex (already conjugated: ``G = F ⊙ H*``).
    """
    f = torch.fft.fft2(patches.reshape(-1, *patches.shape[-2:]))
    g = torch.fft.fft2(target.to(f.real.dtype))
    a = (g * f.conj()).sum(dim=0)
    b = (f * f.conj()).real.sum(dim=0)
    return a / (b + eps)


def psr(response: torch.Tensor, exclude: int = 11) -> torch.Tensor:
    """Peak-to-sidelobe ratio ``(peak - mean(sidelobe)) / std(sidelobe)`` (Bolme et al. 2010).

    The sidelobe is the response map minus an ``exclude x exclude`` window around the peak
    (cyclically, as the map is cyclic). Bolme et al. report 20..60 for good tracking and below 7
    for occlusion or failure.

    Args:
        response: ``(..., H, W)`` real.
        exclude: side of the excluded window (11 in the paper).

    Returns:
        ``(...)`` tensor (0 where the sidelobe is empty or constant).
    """
    h, w = response.shape[-2:]
    flat = response.reshape(-1, h * w)
    peak, idx = flat.max(dim=1)
    py, px = idx // w, idx % w
    ys = torch.arange(h, device=response.device)
    xs = torch.arange(w, device=response.device)
    dy = (ys[None, :] - py[:, None]).remainder(h)
    dx = (xs[None, :] - px[:, None]).remainder(w)
    r = exclude // 2
    near_y = torch.minimum(dy, h - dy) <= r
    near_x = torch.minimum(dx, w - dx) <= r
    side = ~(near_y[:, :, None] & near_x[:, None, :]).reshape(-1, h * w)
    n = side.sum(dim=1).clamp_min(1)
    mean = (flat * side).sum(dim=1) / n
    var = (((flat - mean[:, None]) * side) ** 2).sum(dim=1) / n
    std = var.sqrt()
    out = torch.where(std > 1e-12, (peak - mean) / std.clamp_min(1e-12), torch.zeros_like(std))
    return out.reshape(response.shape[:-2])


def find_peak(response: torch.Tensor, subpixel: bool = True) -> torch.Tensor:
    """The peak of cyclic response maps as a displacement, on the device (no synchronisation).

    Args:
        response: ``(..., H, W)`` real, cyclic (index ``[0, 0]`` = no motion).
        subpixel: refine each axis with a parabola through the peak and its two cyclic
            neighbours (offset clipped to +-0.5; none where the three points are not concave).

    Returns:
        ``(..., 3)``: ``dx, dy`` (cells, wrapped to ``[-W/2, W/2)``-ish: index ``> size/2`` means
        negative, as in the KCF code) and the peak value.
    """
    h, w = response.shape[-2:]
    flat = response.reshape(-1, h, w)
    value, idx = flat.reshape(flat.shape[0], -1).max(dim=1)
    py, px = idx // w, idx % w
    dy, dx = py.to(flat.dtype), px.to(flat.dtype)
    if subpixel:
        b = torch.arange(flat.shape[0], device=flat.device)

        def offset(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            den = left - 2 * value + right
            off = 0.5 * (left - right) / torch.where(den < 0, den, torch.full_like(den, -1.0))
            return torch.where(den < 0, off.clamp(-0.5, 0.5), torch.zeros_like(off))

        if w > 2:
            dx = dx + offset(flat[b, py, (px - 1) % w], flat[b, py, (px + 1) % w])
        if h > 2:
            dy = dy + offset(flat[b, (py - 1) % h, px], flat[b, (py + 1) % h, px])
    dx = torch.where(dx > w / 2, dx - w, dx)
    dy = torch.where(dy > h / 2, dy - h, dy)
    return torch.stack([dx, dy, value], dim=-1).reshape(*response.shape[:-2], 3)


def hog_features(
    gray: torch.Tensor, cell: int = 4, orientations: int = 9, clip: float = 0.2, eps: float = 1e-4
) -> torch.Tensor:
    """FHOG-like gradient features (Felzenszwalb et al. 2010, as used by KCF), in torch.

    Per pixel: central-difference gradients, the signed orientation soft-assigned to the two
    nearest of ``2 * orientations`` bins, weighted by the magnitude. Per cell: a tent-weighted
    (bilinear) sum over a ``2 cell`` neighbourhood. Each cell is normalised by the energies of the
    four 2x2-cell blocks around it, truncated at ``clip``, and summarised as
    ``2 * orientations`` contrast-sensitive + ``orientations`` contrast-insensitive + 4 texture
    channels (31 for 9 orientations; FHOG's 32nd, always-zero channel is dropped). A simplified
    re-implementation: grayscale input, not bit-identical to Piotr's toolbox.

    Args:
        gray: ``(B, 1, H, W)`` float intensities (any scale; the normalisation removes it).
        cell: cell size in pixels.
        orientations: number of contrast-insensitive orientation bins.
        clip: truncation of normalised histograms.
        eps: added to block energies.

    Returns:
        ``(B, 3 * orientations + 4, H // cell, W // cell)``.
    """
    if gray.ndim != 4 or gray.shape[1] != 1:
        raise ValueError(f"hog_features expects (B, 1, H, W), got {tuple(gray.shape)}")
    if gray.shape[-2] < cell or gray.shape[-1] < cell:
        raise ValueError(f"patch {tuple(gray.shape[-2:])} is smaller than one {cell}x{cell} cell")
    x = gray.float()
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = p[..., 1:-1, 2:] - p[..., 1:-1, :-2]
    gy = p[..., 2:, 1:-1] - p[..., :-2, 1:-1]
    mag = torch.sqrt(gx * gx + gy * gy)
    nb = 2 * orientations
    pos = torch.atan2(gy, gx).remainder(2 * math.pi) * (nb / (2 * math.pi))
    lo = pos.floor()
    frac = pos - lo
    lo = lo.long().remainder(nb)
    hist = torch.zeros(x.shape[0], nb, *x.shape[-2:], dtype=x.dtype, device=x.device)
    hist.scatter_add_(1, lo, mag * (1 - frac))
    hist.scatter_add_(1, (lo + 1).remainder(nb), mag * frac)
    # tent-weighted (bilinear) aggregation into cells, separable: cell i gathers the 2*cell pixels
    # around its centre with weights 1 - |offset| / cell, i.e. blocks i and i + 1 of the padded map
    hc, wc = x.shape[-2] // cell, x.shape[-1] // cell
    t = 1 - (torch.arange(2 * cell, dtype=x.dtype, device=x.device) - (cell - 0.5)).abs() / cell
    half = cell // 2
    hist = F.pad(hist[..., : hc * cell, : wc * cell], (half, cell - half, half, cell - half))
    hb = hist.reshape(*hist.shape[:-1], wc + 1, cell)
    hist = hb @ t[:cell] + torch.roll(hb @ t[cell:], -1, dims=-1)  # (B, nb, H', wc + 1)
    hb = hist[..., :wc].transpose(-1, -2).reshape(hist.shape[0], nb, wc, hc + 1, cell)
    cells = (hb @ t[:cell] + torch.roll(hb @ t[cell:], -1, dims=-1))[..., :hc].transpose(-1, -2)
    unsigned = cells[:, :orientations] + cells[:, orientations:]
    energy = unsigned.square().sum(dim=1, keepdim=True)
    # block energies: the four 2x2 blocks around each cell
    ep = F.pad(energy, (1, 1, 1, 1), mode="replicate")
    block = ep[..., :-1, :-1] + ep[..., 1:, :-1] + ep[..., :-1, 1:] + ep[..., 1:, 1:]  # (Hc+1, Wc+1)
    norms = [
        (block[..., dy : dy + hc, dx : dx + wc] + eps).rsqrt() for dy in (0, 1) for dx in (0, 1)
    ]  # 4 x (B, 1, Hc, Wc)
    sens = sum((cells * n).clamp_max(clip) for n in norms) * 0.5
    insens = [(unsigned * n).clamp_max(clip) for n in norms]
    texture = torch.cat([u.sum(dim=1, keepdim=True) * 0.2357 for u in insens], dim=1)
    return torch.cat([sens, sum(insens) * 0.5, texture], dim=1)


# =========================================================================== shared tracker code


def _resolve_device(device: torch.device | str | None) -> torch.device:
    return default_device() if device is None else default_device(str(torch.device(device)))


class _CFTracker:
    """Bookkeeping common to MOSSE and KCF: the state, the box in and out, clamping the centre."""

    def __init__(self, device: torch.device | str | None) -> None:
        self.device = _resolve_device(device)
        self.center: np.ndarray | None = None  # (cx, cy), image coordinates (1-based)
        self.base_size = np.zeros(2)  # (w, h) of the first box
        self.scale = 1.0  # current size / first size
        self.image_hw = (0, 0)
        self.last_response: torch.Tensor | None = None
        self.last_peak = float("nan")

    def _start(self, image: np.ndarray, box: Any) -> torch.Tensor:
        frame, self.image_hw = upload_frame(image, self.device)
        b = check_box(box, self.image_hw)
        cx, cy, w, h = box_to_center(b)
        self.center = np.array([cx, cy], dtype=np.float64)
        self.base_size = np.array([w, h], dtype=np.float64)
        self.scale = 1.0
        return frame

    def _frame(self, image: Any) -> torch.Tensor:
        if self.center is None:
            raise RuntimeError("call init(image, box) before update(image)")
        frame, self.image_hw = upload_frame(image, self.device)
        return frame

    def _move(self, dx: float, dy: float) -> None:
        assert self.center is not None
        h, w = self.image_hw
        self.center = np.array(
            [min(max(self.center[0] + dx, 1.0), float(w)), min(max(self.center[1] + dy, 1.0), float(h))]
        )

    def box(self) -> np.ndarray:
        """The current box ``x, y, w, h`` (1-based, float64)."""
        if self.center is None:
            raise RuntimeError("the tracker has not been initialised")
        w, h = self.base_size * self.scale
        return center_to_box(np.array([self.center[0], self.center[1], w, h]))


# =========================================================================== MOSSE


@dataclass
class MOSSEConfig:
    """MOSSE settings. Paper values (Bolme et al. 2010) unless marked *ours*.

    Attributes:
        learning_rate: running-average rate of numerator and denominator (paper: 0.125).
        sigma: std of the Gaussian target, in template pixels (paper: 2.0).
        eps: regulariser added to the denominator (paper: "a small value"; *ours*: 1e-5, relative to
            patches of unit norm, whose energy spectrum averages 1).
        n_perturbations: random affine perturbations of the first patch used to initialise the
            filter (paper: 8), with the unperturbed patch.
        max_rotation: largest rotation of a perturbation, radians (*ours*, ±π/16 = ±11.25°).
        max_scale_jitter: largest relative scale change of a perturbation (*ours*, 5 %).
        seed: seed of the perturbations (deterministic).
        padding: window = ``(1 + padding) x`` the target box (*ours*: 1.0, twice the box; the
            paper works on a window "centred on the object").
        template_area: the window is resampled to about this many pixels when it is larger
            (*ours*; 64 x 64 like the paper's windows); never upsampled.
        psr_threshold: skip the model update when the PSR is below it (``None``: always update;
            the paper calls PSR < 7 a failure).
        subpixel: parabolic sub-pixel peak (*ours*).
        antialias: low-pass before downsampling the window (*ours*).
    """

    learning_rate: float = 0.125
    sigma: float = 2.0
    eps: float = 1e-5
    n_perturbations: int = 8
    max_rotation: float = math.pi / 16
    max_scale_jitter: float = 0.05
    seed: int = 0
    padding: float = 1.0
    template_area: float = 64.0 * 64.0
    psr_threshold: float | None = None
    subpixel: bool = True
    antialias: bool = True


class MOSSE(_CFTracker):
    """The MOSSE tracker (Bolme et al. 2010) on the library's tracker interface.

    ``init(image, box)`` then ``update(image) -> box``; images RGB ``uint8`` ``(H, W, 3)``, boxes
    ``x, y, w, h`` (1-based). Options: a :class:`MOSSEConfig` and/or its fields as keywords
    (``MOSSE(learning_rate=0.1)``). After each update, ``last_response`` (the cyclic response
    ``(h, w)``, on the device), ``last_psr`` and ``last_peak`` are available for plots.
    """

    def __init__(
        self, config: MOSSEConfig | None = None, *, device: torch.device | str | None = None, **overrides: Any
    ) -> None:
        super().__init__(device)
        self.config: MOSSEConfig = make_config(MOSSEConfig, config, overrides)
        self.last_psr = float("nan")

    def _patch(self, frame: torch.Tensor) -> torch.Tensor:
        """The current window, grayscale, ``(th, tw)``."""
        assert self.center is not None
        src = self.window * self.scale
        p = crop_patches(
            frame, self.center, src[None, :], self.template, antialias=self.config.antialias
        )  # (1, 3, th, tw)
        return rgb_to_gray(p)[0, 0]

    def init(self, image: np.ndarray, box: Any) -> None:
        """Learn the first filter from the window around ``box`` and its random perturbations."""
        cfg = self.config
        frame = self._start(image, box)
        window = self.base_size * (1 + cfg.padding)
        s0 = max(1.0, math.sqrt(window.prod() / cfg.template_area))
        tw, th = (max(4, int(round(v / s0))) for v in window)
        self.template = (th, tw)
        self.window = np.array([tw, th], dtype=np.float64) * s0  # source extent at scale 1
        dev = self.device
        self.cos = cosine_window(th, tw, device=dev)
        self.g = torch.fft.ifftshift(gaussian_label((th, tw), cfg.sigma, device=dev))
        patch = self._patch(frame)
        samples = torch.cat([patch[None], self._perturb(patch)], dim=0)  # (1 + n, th, tw)
        f = torch.fft.fft2(preprocess_mosse(samples, self.cos))
        gf = torch.fft.fft2(self.g)
        self.A = (gf * f.conj()).mean(dim=0)
        self.B = (f * f.conj()).real.mean(dim=0)

    def _perturb(self, patch: torch.Tensor) -> torch.Tensor:
        """``n_perturbations`` random rotations + scalings of ``patch`` about its centre, ``(n, th, tw)``."""
        cfg = self.config
        n = cfg.n_perturbations
        if n <= 0:
            return patch.new_zeros((0, *patch.shape))
        gen = torch.Generator().manual_seed(cfg.seed)
        angle = (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * cfg.max_rotation
        scale = 1 + (torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * cfg.max_scale_jitter
        th, tw = patch.shape
        c, s = torch.cos(angle) / scale, torch.sin(angle) / scale
        # affine_grid works in normalised coordinates; correct the aspect ratio so it is a rotation
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 1] = c, -s * th / tw
        theta[:, 1, 0], theta[:, 1, 1] = s * tw / th, c
        grid = F.affine_grid(theta.to(self.device, torch.float32), [n, 1, th, tw], align_corners=False)
        src = patch[None, None].expand(n, 1, th, tw)
        return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]

    def update(self, image: np.ndarray) -> np.ndarray:
        """Locate the target in ``image``, update the filter there, return the box ``x, y, w, h``."""
        cfg = self.config
        frame = self._frame(image)
        h_conj = self.A / (self.B + cfg.eps)
        z = preprocess_mosse(self._patch(frame), self.cos)
        response = torch.fft.ifft2(torch.fft.fft2(z) * h_conj).real
        peak = find_peak(response, cfg.subpixel)
        dx, dy, value, score = torch.cat([peak, psr(response)[None]]).tolist()  # the one sync
        self.last_response, self.last_peak, self.last_psr = response, value, score
        stride = self.window * self.scale / np.array([self.template[1], self.template[0]])
        self._move(dx * stride[0], dy * stride[1])
        if cfg.psr_threshold is None or score >= cfg.psr_threshold:
            f = torch.fft.fft2(preprocess_mosse(self._patch(frame), self.cos))
            eta = cfg.learning_rate
            self.A = eta * torch.fft.fft2(self.g) * f.conj() + (1 - eta) * self.A
            self.B = eta * (f * f.conj()).real + (1 - eta) * self.B
        return self.box()


# =========================================================================== KCF


_KCF_PAPER = {  # Henriques et al. 2015, Sec. 7 / run_tracker.m: per feature type
    "gray": {"kernel_sigma": 0.2, "interp_factor": 0.075, "cell_size": 1},
    "hog": {"kernel_sigma": 0.5, "interp_factor": 0.02, "cell_size": 4},
}


@dataclass
class KCFConfig:
    """KCF settings, the paper's defaults (Henriques et al. 2015, Sec. 7 and its ``run_tracker.m``).

    ``kernel_sigma``, ``interp_factor`` and ``cell_size`` left at ``None`` mean the paper's value for
    the chosen ``features``: raw gray pixels 0.2 / 0.075 / 1, HOG 0.5 / 0.02 / 4;
    :meth:`resolved` fills them in (a :class:`KCF` tracker's ``config`` is the resolved copy).

    Attributes:
        features: ``"gray"`` (raw pixels ``/255`` minus their mean) or ``"hog"`` (:func:`hog_features`,
            31 channels).
        padding: window = ``(1 + padding) x`` the target (paper: 1.5, i.e. 2.5x the target).
        lam: ridge regulariser λ (paper: 1e-4).
        output_sigma_factor: label std = ``sqrt(w h) x factor`` pixels, in cells (paper: 0.1).
        kernel_sigma: Gaussian kernel bandwidth σ.
        interp_factor: linear-interpolation (learning) rate of the model.
        cell_size: feature stride in pixels.
        hog_orientations: HOG orientation bins (paper: 9).
        resize_threshold: work at half resolution when ``sqrt(w h)`` of the first box is at least this
            (paper's code: 100 px).
        scales: relative scales searched each frame; ``(1.0,)`` = fixed scale, as in the paper.
            E.g. ``(0.95, 1.0, 1.05)`` adds a scale search (*ours*, not in the paper; experimental:
            the response of a window 2.5x the target is dominated by background that does not
            scale, and on our test sequences it recovered only about two thirds of a 50 % zoom and
            drifted a few pixels smaller on a target of constant size).
        scale_penalty: response multiplier for scales other than 1 (*ours*).
        scale_lr: damping of the size update, ``new = old x (1 - lr + lr x s)`` (*ours*).
        subpixel: parabolic sub-cell peak (*ours*; the paper takes the integer peak).
        antialias: low-pass before downsampling the window (*ours*).
    """

    features: Literal["gray", "hog"] = "gray"
    padding: float = 1.5
    lam: float = 1e-4
    output_sigma_factor: float = 0.1
    kernel_sigma: float | None = None
    interp_factor: float | None = None
    cell_size: int | None = None
    hog_orientations: int = 9
    resize_threshold: float = 100.0
    scales: tuple[float, ...] = (1.0,)
    scale_penalty: float = 0.99
    scale_lr: float = 0.6
    subpixel: bool = True
    antialias: bool = True

    def __post_init__(self) -> None:
        if self.features not in _KCF_PAPER:
            raise ValueError(f"features must be one of {sorted(_KCF_PAPER)}, got {self.features!r}")
        self.scales = tuple(float(s) for s in self.scales)
        if not self.scales or any(s <= 0 for s in self.scales):
            raise ValueError(f"scales must be positive, got {self.scales}")
        if self.lam < 0 or self.padding < 0:
            raise ValueError(f"lam and padding must be >= 0, got lam={self.lam}, padding={self.padding}")
        if self.kernel_sigma is not None and self.kernel_sigma <= 0:
            raise ValueError(f"kernel_sigma must be > 0, got {self.kernel_sigma}")
        if self.cell_size is not None and (int(self.cell_size) != self.cell_size or self.cell_size < 1):
            raise ValueError(f"cell_size must be a positive integer, got {self.cell_size}")

    def resolved(self) -> KCFConfig:
        """A copy with every ``None`` replaced by the paper's value for :attr:`features`."""
        paper = _KCF_PAPER[self.features]
        return dataclasses.replace(self, **{k: v for k, v in paper.items() if getattr(self, k) is None})


class KCF(_CFTracker):
    """The KCF tracker (Henriques et al. 2015) on the library's tracker interface.

    ``init(image, box)`` then ``update(image) -> box``; images RGB ``uint8`` ``(H, W, 3)``, boxes
    ``x, y, w, h`` (1-based). Options: a :class:`KCFConfig` and/or its fields as keywords
    (``KCF(features="hog")``). After each update ``last_response`` (cyclic, ``(S, h, w)`` for ``S``
    scales, on the device) and ``last_peak`` are available.
    """

    def __init__(
        self, config: KCFConfig | None = None, *, device: torch.device | str | None = None, **overrides: Any
    ) -> None:
        super().__init__(device)
        self.config: KCFConfig = make_config(KCFConfig, config, overrides).resolved()

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        """``(S, 3, th, tw)`` RGB 0..255 -> windowed features ``(S, C, gh, gw)``."""
        gray = rgb_to_gray(patches)
        if self.config.features == "gray":
            x = gray / 255.0
            x = x - x.mean(dim=(-2, -1), keepdim=True)
        else:
            x = hog_features(gray, int(self.config.cell_size or 4), self.config.hog_orientations)
        return x * self.cos

    def _patches(self, frame: torch.Tensor, scales: tuple[float, ...]) -> torch.Tensor:
        assert self.center is not None
        sizes = self.window[None, :] * self.scale * np.asarray(scales)[:, None]
        return crop_patches(frame, self.center, sizes, self.template, antialias=self.config.antialias)

    def init(self, image: np.ndarray, box: Any) -> None:
        """Train the first model on the window around ``box``."""
        cfg = self.config
        cell = int(cfg.cell_size or 1)
        frame = self._start(image, box)
        s0 = 2.0 if math.sqrt(self.base_size.prod()) >= cfg.resize_threshold else 1.0
        window = np.floor(self.base_size * (1 + cfg.padding)) / s0  # template pixels
        gw, gh = (max(2, int(v // cell)) for v in window)  # feature grid (cells)
        self.template = (gh * cell, gw * cell)
        self.window = np.array([gw * cell, gh * cell], dtype=np.float64) * s0
        self.stride = cell * s0  # source pixels per cell at scale 1
        dev = self.device
        sigma = math.sqrt(self.base_size.prod()) * cfg.output_sigma_factor / self.stride
        self.y = torch.fft.ifftshift(gaussian_label((gh, gw), sigma, device=dev))
        self.cos = cosine_window(gh, gw, device=dev)
        x = self._features(self._patches(frame, (1.0,)))[0]
        self.model_x = x
        self.model_alphaf = train_kcf(x, self.y, float(cfg.kernel_sigma or 0.2), cfg.lam)

    def update(self, image: np.ndarray) -> np.ndarray:
        """Detect in ``image``, move (and rescale), retrain there; return the box ``x, y, w, h``."""
        cfg = self.config
        sigma = float(cfg.kernel_sigma or 0.2)
        frame = self._frame(image)
        z = self._features(self._patches(frame, cfg.scales))  # (S, C, gh, gw)
        response = detect_kcf(self.model_alphaf, self.model_x, z, sigma)  # (S, gh, gw)
        peaks = find_peak(response, cfg.subpixel).cpu().numpy()  # (S, 3): dx, dy, value; the one sync
        penalty = np.array([1.0 if s == 1.0 else cfg.scale_penalty for s in cfg.scales])
        best = int(np.argmax(peaks[:, 2] * penalty))
        dx, dy, value = (float(v) for v in peaks[best])
        self.last_response, self.last_peak = response, value
        s = cfg.scales[best]
        step = self.stride * self.scale * s
        self._move(dx * step, dy * step)
        if s != 1.0:
            self.scale *= 1 - cfg.scale_lr + cfg.scale_lr * s
        x = self._features(self._patches(frame, (1.0,)))[0]
        alphaf = train_kcf(x, self.y, sigma, cfg.lam)
        eta = float(cfg.interp_factor or 0.0)
        self.model_alphaf = (1 - eta) * self.model_alphaf + eta * alphaf
        self.model_x = (1 - eta) * self.model_x + eta * x
        return self.box()


# =========================================================================== registry


def _register() -> None:
    from rankatt_lib.registry import register

    @register("mosse")
    def _make_mosse(**kwargs: Any) -> MOSSE:
        """The book's MOSSE (Bolme et al. 2010), in torch; options: :class:`MOSSEConfig` fields, device."""
        return MOSSE(**kwargs)

    @register("kcf")
    def _make_kcf(**kwargs: Any) -> KCF:
        """The book's KCF (Henriques et al. 2015), raw gray pixels; options: KCFConfig fields, device."""
        return KCF(**kwargs)

    @register("kcf-hog")
    def _make_kcf_hog(**kwargs: Any) -> KCF:
        """The book's KCF with HOG features (the paper's headline KCF)."""
        kwargs.setdefault("features", "hog")
        return KCF(**kwargs)


_register()
