r"""A deep DCF: chapter 2's correlation filter, multi-channel, on VGG16 conv4_3 (the simple baseline).

The book's MOSSE / KCF (:mod:`rankatt_lib.trackers.cf`) made multi-channel and put on the same deep features
and search region as the CREST-style tracker (:mod:`rankatt_lib.trackers.crest`), so that the
comparison is about the *model*, not about the features or the scale search. The filter is solved
in **closed form in the Fourier domain**, never by gradient descent:

* features ``x = hann . conv4_3(patch) / rms_1`` (``C = 512`` channels, 31 x 31 cells for the
  255 px patch of a ``2.9 sqrt(w h)`` search square; ``rms_1`` is the frame-1 RMS);
* the multi-channel linear ridge regression over all cyclic shifts (Henriques et al. 2015,
  "linear kernel" DCF; Bolme et al. 2010 for one channel) has, for one training sample, the
  per-frequency solution

  .. math::
      \hat h_c^* = \frac{\hat y \odot \hat x_c^*}{\sum_k \hat x_k \odot \hat x_k^* + \lambda},
      \qquad \hat r(z) = \sum_c \hat h_c^* \odot \hat z_c

  and the model keeps numerator ``A_c = y x_c^*`` and denominator ``B = sum_k |x_k|^2`` as running
  averages with learning rate ``eta`` (MOSSE, DSST, HCF: Ma et al. 2015 use this on conv features);
* ``lambda`` is relative: ``lambda_rel x mean(B_1)`` (the mean over frequencies of frame 1's
  denominator), so it does not depend on the feature scale or the number of channels;
* the label is a Gaussian with ``sigma = output_sigma_factor x`` the target size in cells per axis,
  peaked at the patch centre cell (15.4375, not an integer: the response is read with the same
  :class:`~rankatt_lib.trackers.base.SearchGeometry` as CREST's, non-cyclically, with parabolic
  sub-cell refinement);
* scale: CREST's search, reused from :mod:`rankatt_lib.trackers.base` (:func:`crop_pyramid` of
  scales ``[1, 0.95, 1.05]`` in one backbone batch, :func:`select_scale` with its penalty and its
  0.15 gate, :func:`damped_size`);
* update: every frame, the sample is the winning scale's search patch, labelled by a Gaussian
  centred where the target was found (no second backbone pass: one batch of 3 patches per frame,
  like CREST).

Per frame the tracker makes one backbone pass and reads one small tensor back from the device.
Every tensor lives on the tracker's ``device`` (CUDA when there is one), in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rankatt_lib.configs import check_groups, make_config
from rankatt_lib.features.geometry import cosine_window
from rankatt_lib.features.vgg16 import VGG16Features
from rankatt_lib.registry import register
from rankatt_lib.trackers.base import (
    DeepTrackerBase,
    SearchConfig,
    SearchGeometry,
    crop_pyramid,
    damped_size,
    extract_features,
    find_peaks,
    gaussian_map,
    motion_prior,
    select_scale,
)

__all__ = ["DeepDCFConfig", "DeepDCFTracker", "dcf_denominator", "dcf_numerator", "dcf_response"]


# --------------------------------------------------------------------------- configuration


@dataclass
class DeepDCFConfig:
    """Every number of the deep DCF. Where each comes from is given in brackets.

    Features (the same as :class:`~rankatt_lib.trackers.crest.CRESTConfig`, for a fair comparison):
        layer: backbone layer (CRESTConfig: conv4_3).
        feature_window: multiply the features by a Hann window (every DCF; CREST too).

    Filter:
        lambda_rel: ridge regulariser relative to the mean of frame 1's denominator
            ``sum_c |x_c|^2`` (KCF's and HCF's lambda is 1e-4; relative here, so that it does not
            depend on the feature scale or channel count). Checked on the synthetic training
            split (see the module's tests / the branch report).
        output_sigma_factor: label sigma = factor x target size in cells, per axis (KCF, HCF and
            CREST: 0.1; ~1.1 cells for the ~11-cell target).
        learning_rate: running-average rate of numerator and denominator (HCF: 0.01; KCF-HOG: 0.02).
        update_min_peak: frames whose response peak is below it are not learned from (0: always
            learn, as MOSSE / KCF / HCF do).

    Groups:
        search: the search region and the scale search, CREST's (:class:`~.base.SearchConfig`, the
            same as :class:`~rankatt_lib.trackers.crest.CRESTConfig`'s: a search square 2.9x the
            target, where HCF's padding 1.8 is 2.8x and KCF's 1.5 is 2.5x), except
            ``motion_sigma_factor=None``: no motion prior, as in MOSSE / KCF / HCF (the Hann window
            already favours small displacements). The scales are compared by CREST's rule
            (``scale_normalisation="none"``) and the geometry is never refreshed
            (``refresh_geometry=False``): the deep DCF has no other.
    """

    layer: str = "conv4_3"
    feature_window: bool = True

    lambda_rel: float = 1e-4
    output_sigma_factor: float = 0.1
    learning_rate: float = 0.01
    update_min_peak: float = 0.0

    search: SearchConfig = field(default_factory=lambda: SearchConfig(motion_sigma_factor=None, refresh_geometry=False))

    def __post_init__(self) -> None:
        check_groups(self, search=SearchConfig)
        if self.search.scale_normalisation != "none" or self.search.refresh_geometry:
            raise ValueError(
                "the deep DCF compares the scales by CREST's rule and keeps frame 1's geometry: "
                "search.scale_normalisation must be 'none' and search.refresh_geometry False"
            )
        if not self.output_sigma_factor > 0:
            raise ValueError(f"output_sigma_factor must be > 0, got {self.output_sigma_factor}")
        if not self.lambda_rel >= 0:
            raise ValueError(f"lambda_rel must be >= 0, got {self.lambda_rel}")
        if not 0.0 <= self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in [0, 1], got {self.learning_rate}")


# --------------------------------------------------------------------------- the filter


def dcf_numerator(xf: torch.Tensor, yf: torch.Tensor) -> torch.Tensor:
    r"""``A_c = \hat y \odot \hat x_c^*``: ``xf`` ``(..., C, h, w')`` and ``yf`` ``(h, w')`` spectra."""
    return yf * xf.conj()


def dcf_denominator(xf: torch.Tensor) -> torch.Tensor:
    r"""``B = \sum_c |\hat x_c|^2``: ``(..., C, h, w')`` -> ``(..., h, w')`` real."""
    return xf.real.square().sum(dim=-3) + xf.imag.square().sum(dim=-3)


def dcf_response(num: torch.Tensor, den: torch.Tensor, lam: float | torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""The filter's response on features ``z`` ``(S, C, h, w)``: ``F^{-1}(\sum_c A_c \hat z_c / (B + \lambda))``.

    ``num`` ``(C, h, w // 2 + 1)`` and ``den`` ``(h, w // 2 + 1)`` are the half spectra of
    :func:`dcf_numerator` / :func:`dcf_denominator` (``torch.fft.rfft2``). Returns ``(S, h, w)``
    real maps: a target that moved by ``d`` cells from where the label peaks gives a peak moved by
    ``d`` (indices cyclic).
    """
    h, w = z.shape[-2:]
    zf = torch.fft.rfft2(z)
    rf = (num * zf).sum(dim=-3) / (den + lam)
    return torch.fft.irfft2(rf, s=(h, w))


# --------------------------------------------------------------------------- tracker


def _check_image(image: Any) -> None:
    """An RGB ``uint8`` frame: numpy ``(H, W, 3)``, or a tensor ``(3, H, W)`` / ``(H, W, 3)``."""
    if not isinstance(image, np.ndarray | torch.Tensor):
        raise TypeError(f"image must be an RGB uint8 numpy array (H, W, 3), got {type(image).__name__}")
    shape = tuple(image.shape)
    if image.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"image must be RGB uint8, got dtype {image.dtype}")
    three = len(shape) == 3 and (shape[-1] == 3 or (isinstance(image, torch.Tensor) and shape[0] == 3))
    if not three or min(shape) < 1:
        raise ValueError(f"image must be RGB (H, W, 3), got shape {shape}")


class DeepDCFTracker(DeepTrackerBase):
    """The deep DCF as a tracker: ``init(image, box)`` then ``update(image) -> box``.

    Images are RGB ``uint8`` ``(H, W, 3)``; boxes ``x, y, w, h`` (OTB, 1-based). Options: a
    :class:`DeepDCFConfig` and/or its fields as keywords (``DeepDCFTracker(learning_rate=0.02)``).

    Args:
        config: the settings (default :class:`DeepDCFConfig`).
        device: where everything runs (default: the backbone's device, else
            :func:`rankatt_lib.device`, i.e. CUDA when there is one).
        backbone: a :class:`~rankatt_lib.features.vgg16.VGG16Features` to share (default: the VGG16
            cached per device, :func:`~rankatt_lib.trackers.base.shared_backbone`).
        profile: time the components (``"crop"``, ``"features"``, ``"response"``, ``"update"``).

    Attributes:
        num, den: the model, ``A_c`` ``(C, h, w // 2 + 1)`` complex and ``B`` ``(h, w // 2 + 1)``.
        lam: the absolute regulariser (``lambda_rel x mean(B_1)``, a device scalar).
        label: the frame-1 label ``(h, w)`` (peak 1 at the patch centre cell).
        last_response: ``(S, h, w)`` responses of the latest frame (one per scale); frame 1: ``(1, h, w)``.
        last_peak, last_scale: the selected peak value and scale factor of the latest frame.
    """

    def __init__(
        self,
        config: DeepDCFConfig | None = None,
        device: torch.device | str | None = None,
        backbone: VGG16Features | None = None,
        *,
        profile: bool = False,
        **overrides: Any,
    ) -> None:
        self.config: DeepDCFConfig = make_config(DeepDCFConfig, config, overrides)
        super().__init__(device, backbone, self.config.layer, profile)
        cfg = self.config
        self.geometry = SearchGeometry.for_layer(
            cfg.layer, cfg.search.search_area_factor, cfg.search.patch_size, self.backbone
        )
        self.num: torch.Tensor | None = None
        self.den: torch.Tensor | None = None
        self.lam: torch.Tensor | None = None
        self.label: torch.Tensor | None = None
        self.last_response: torch.Tensor | None = None
        self.last_peak = float("nan")
        self.last_scale = 1.0
        self._window: torch.Tensor | None = None
        self._prior: torch.Tensor | None = None
        self._feat_scale = torch.ones(())

    # -- features --
    def _features(self, frame: torch.Tensor, scales: tuple[float, ...]) -> torch.Tensor:
        """Windowed, normalised conv4_3 features of the search patches ``(S, C, n, n)``."""
        assert self.center is not None
        side = self.geometry.search_side(self.size)
        with self.profiler.section("crop"):
            patches = crop_pyramid(
                frame, self.center, side, scales, self.geometry.patch_size, self.config.search.antialias
            )
        with self.profiler.section("features"):
            x = extract_features(self.backbone, patches, self.config.layer)
        if self._window is not None:
            x = x * self._window
        return x * self._feat_scale

    # -- tracker interface --
    def init(self, image: np.ndarray, box: Any) -> None:
        """Solve the filter on frame 1 in closed form.

        Raises:
            TypeError: ``image`` is not an array or tensor.
            ValueError: a bad image (not RGB ``uint8`` ``(H, W, 3)``) or box (NaN, ``w`` or
                ``h <= 0``, entirely outside the image).
        """
        cfg = self.config
        _check_image(image)
        frame = self._start(image, box)
        geo, dev, n = self.geometry, self.device, self.geometry.map_size
        self._window = cosine_window(n, n, device=dev) if cfg.feature_window else None
        self._feat_scale = torch.ones((), device=dev)
        x = self._features(frame, (1.0,))  # (1, C, n, n)
        if x.shape[-2:] != (n, n):
            raise RuntimeError(f"feature map {tuple(x.shape[-2:])} != the geometry's {n} x {n}")
        self._feat_scale = x.square().mean().sqrt().clamp_min(1e-12).reciprocal()
        x = x * self._feat_scale

        wc, hc = geo.target_cells(self.size)
        c0 = geo.centre_cell
        self._sigma = (cfg.output_sigma_factor * hc, cfg.output_sigma_factor * wc)
        self.label = gaussian_map((n, n), torch.tensor([c0, c0], device=dev), self._sigma)
        self._prior = (
            motion_prior(
                (n, n), (c0, c0), (cfg.search.motion_sigma_factor * hc, cfg.search.motion_sigma_factor * wc), device=dev
            )
            if cfg.search.motion_sigma_factor is not None
            else None
        )
        xf = torch.fft.rfft2(x[0])
        self.num = dcf_numerator(xf, torch.fft.rfft2(self.label))
        self.den = dcf_denominator(xf)
        # mean of B over the full spectrum = sum of x^2 over channels and cells (Parseval)
        self.lam = cfg.lambda_rel * x.square().sum()
        self.last_response = dcf_response(self.num, self.den, self.lam, x)
        self.last_peak = float(self.last_response.max())
        self.last_scale = 1.0

    def update(self, image: np.ndarray) -> np.ndarray:
        """Locate the target (3 scales, one backbone pass), update the model, return ``x, y, w, h``."""
        cfg = self.config
        _check_image(image)
        frame = self._frame(image)
        assert self.num is not None and self.den is not None and self.lam is not None
        side = self.geometry.search_side(self.size)
        z = self._features(frame, cfg.search.scales)  # (S, C, n, n)
        with self.profiler.section("response"):
            response = dcf_response(self.num, self.den, self.lam, z)  # (S, n, n)
            weighted = response * self._prior if self._prior is not None else response
            peaks = find_peaks(weighted, cfg.search.subpixel)  # (S, 3)
            best = select_scale(peaks[:, 2], cfg.search.scales, cfg.search.scale_penalty, cfg.search.scale_min_peak)
            pick = peaks[best]
            read = torch.cat([pick, best.to(pick.dtype)[None]]).tolist()  # the one synchronisation
        px, py, value, idx = read[0], read[1], read[2], int(read[3])
        s = cfg.search.scales[idx]
        self._move(self.geometry.cell_to_offset((px, py), side * s))
        if s != 1.0:
            self.size = damped_size(self.size, s, cfg.search.scale_damping)
            self._clamp_size(cfg.search.min_size)
        if value >= cfg.update_min_peak and cfg.learning_rate > 0:
            with self.profiler.section("update"):
                label = gaussian_map(tuple(z.shape[-2:]), pick[:2], self._sigma)
                xf = torch.fft.rfft2(z[idx])
                eta = cfg.learning_rate
                self.num = (1 - eta) * self.num + eta * dcf_numerator(xf, torch.fft.rfft2(label))
                self.den = (1 - eta) * self.den + eta * dcf_denominator(xf)
        self.last_response, self.last_peak, self.last_scale = response, value, s
        return self.box()

    def __repr__(self) -> str:
        c = self.config
        return f"DeepDCFTracker(device={self.device}, lambda_rel={c.lambda_rel:g}, learning_rate={c.learning_rate:g})"


# --------------------------------------------------------------------------- registry


@register("deepdcf")
def _make_deepdcf(**kwargs: Any) -> DeepDCFTracker:
    """A deep DCF: chapter 2's closed-form multi-channel linear correlation filter on VGG16
    conv4_3, with CREST's search region and scale search; options: DeepDCFConfig fields, device,
    backbone (default: one VGG16 cached per device)."""
    return DeepDCFTracker(**kwargs)
