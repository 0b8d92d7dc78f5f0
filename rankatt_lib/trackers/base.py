"""Pieces shared by the library's deep trackers (the CREST-style baseline, the part-based tracker).

Everything here runs on the tracker's ``device`` and, except where a docstring says otherwise,
never synchronises with it; a tracker reads one small tensor per frame (its final box).

Search-region geometry (:class:`SearchGeometry`)
------------------------------------------------
The search patch is a square of side ``search_area_factor x sqrt(w h)`` image pixels (2.9 by
default, book appendix, reading-method) centred on the previous target centre, resampled to ``patch_size``
(255) pixels, so that the target is about ``255 / 2.9 = 88`` px (11 conv4_3 cells) in the patch
whatever its size in the image. Cell ``i`` of a stride-``s`` feature map is centred on patch pixel
``s i + (s - 1) / 2`` (:func:`rankatt_lib.features.vgg16.cell_centre`), so the patch centre (pixel
``(P - 1) / 2``) lies at cell ``c0 = ((P - 1) / 2 - (s - 1) / 2) / s`` (15.4375 for P = 255,
s = 8): a response peak at cell ``p`` means the target moved by ``(p - c0) s side / P`` image
pixels.

Per frame (:func:`crop_pyramid`, :func:`extract_features`): the patches of every scale are cropped
in one :func:`~rankatt_lib.features.geometry.crop_patches` call and go through the backbone as one batch.

Response maps: :func:`find_peaks` (argmax + parabolic sub-cell refinement, not cyclic),
:func:`motion_prior` (CREST's Gaussian prior on small displacements), :func:`select_scale` (the
best of the scales, with a penalty for changing scale and a confidence gate) and
:func:`damped_size` (CREST's damped size update).

Online learning: :class:`UpdateSchedule` (when to store a sample, when to train) and
:class:`SampleBuffer` (a preallocated ring buffer of ``(features, label)`` pairs on the device).

Other helpers: :func:`shared_backbone` (one VGG16 per device and weights source, reused by every
tracker that the runner builds), :func:`pca_basis` / :func:`project_channels` (CREST's frame-1 PCA
of the feature channels) and :class:`Profiler` (optional per-component timing).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rankatt_lib import device as default_device
from rankatt_lib.components.online import SampleBuffer, UpdateSchedule
from rankatt_lib.features.geometry import box_to_center, center_to_box, check_box, crop_patches, upload_frame
from rankatt_lib.features.vgg16 import LAYER_STRIDES, VGG16Features

__all__ = [
    "COMPILE_MODES",
    "PRECISIONS",
    "SCALE_NORMALISATIONS",
    "ExecutionConfig",
    "SearchConfig",
    "DeepTrackerBase",
    "Profiler",
    "SampleBuffer",
    "SearchGeometry",
    "UpdateSchedule",
    "backbone_autocast",
    "choose_scale",
    "crop_pyramid",
    "damped_size",
    "extract_features",
    "find_peaks",
    "gaussian_map",
    "motion_prior",
    "odd_kernel_size",
    "pca_basis",
    "project_channels",
    "scale_calibration",
    "scale_trend_calibration",
    "select_scale",
    "shared_backbone",
]


# --------------------------------------------------------------------------- shared settings

#: ``SearchConfig.scale_normalisation``: what the peaks of the scales are compared on. ``"none"``
#: (CREST's rule: the raw peaks), ``"frame1"`` and ``"trend"`` (calibrated by frame 1's peaks) work
#: for any of the deep trackers; the rest only for the part-based one
#: (:data:`PART_TRACKER_SCALE_NORMALISATIONS`).
SCALE_NORMALISATIONS: tuple[str, ...] = ("none", "frame1", "parts", "trend", "attention", "attention_h0")
#: the values that compare the scales on something only the part-based tracker has (its parts, or
#: its attention kernel): its detection step scores them; CREST's config refuses them
PART_TRACKER_SCALE_NORMALISATIONS: tuple[str, ...] = ("parts", "attention", "attention_h0")

#: ``ExecutionConfig.compile``: ``"off"`` (eager, the default) or a ``torch.compile`` mode for the
#: per-frame detection step (``"reduce-overhead"`` = Inductor + CUDA graphs on a GPU).
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class SearchConfig:
    """Where a deep tracker looks and how it picks the scale: the settings the CREST-style tracker,
    the deep DCF and the ranking-attention tracker share, in one place. CREST's released values
    (book appendix, reading-evaluation) unless marked; each tracker's config holds one as ``search``.

    Search region (book appendix, reading-method):
        search_area_factor: search square side / ``sqrt(w h)`` (our reading: 2.9, so that the
            target is ~88 px = 11 conv4_3 cells in the patch; CREST: 5x the longer side).
        patch_size: search patch side H = W in pixels (paper: 255 -> conv4_3 31 x 31, conv3_3 63 x 63).
        antialias: low-pass the frame before a search patch is shrunk by 1.6x or more (*ours*, on by
            default: a target over ~88 px is otherwise shrunk with aliasing; CREST: no). Patches
            that are enlarged, or shrunk less than 1.6x (every synthetic sequence), are
            bit-identical either way.
        min_size: smallest target side in pixels (*ours*).
        refresh_geometry: when a per-axis clamp of the size changes the box's aspect ratio,
            rebuild the labels' size, the prior kernel and the motion prior from the new size in
            cells (*ours*; ``False``: keep frame 1's).

    Detection and scale:
        motion_sigma_factor: motion prior sigma = factor x target size in cells (CREST: 0.6;
            ``None``: no motion prior, as in MOSSE, KCF and the deep DCF).
        scales: relative scales searched each frame, the reference (1) first (CREST: 1, 0.95, 1.05).
        scale_penalty: multiplier of the peaks of scales != 1 (CREST: 1.0, none).
        scale_damping: fraction of the scale change applied to the size (CREST: 0.6).
        scale_min_peak: keep the size when the scale-1 peak is below it (CREST: 0.15).
        subpixel: parabolic sub-cell peak refinement (*ours*; CREST: integer peak).
        scale_normalisation: what the scales are compared on (:data:`SCALE_NORMALISATIONS`):
            ``"none"`` (CREST's rule: the raw peaks), ``"frame1"`` (*ours*: each scale's peak
            divided by the frame-1 model's peak on that scale of frame 1,
            :func:`scale_calibration`), ``"trend"`` (*ours*: divided by the trend of those peaks
            over the scales, :func:`scale_trend_calibration`), or, for the ranking-attention
            tracker only, ``"attention"``, ``"attention_h0"`` and ``"parts"``
            (:class:`~rankatt_lib.trackers.rankatt.RankingAttentionConfig` says what they do).
    """

    search_area_factor: float = 2.9
    patch_size: int = 255
    antialias: bool = True
    min_size: float = 4.0
    refresh_geometry: bool = True
    motion_sigma_factor: float | None = 0.6
    scales: tuple[float, ...] = (1.0, 0.95, 1.05)
    scale_penalty: float = 1.0
    scale_damping: float = 0.6
    scale_min_peak: float = 0.15
    subpixel: bool = True
    scale_normalisation: str = "none"

    def __post_init__(self) -> None:
        self.scales = tuple(float(s) for s in self.scales)
        if not self.scales or any(not (s > 0) for s in self.scales):
            raise ValueError(f"scales must be positive, got {self.scales}")
        if not self.search_area_factor > 0:
            raise ValueError(f"search_area_factor must be > 0, got {self.search_area_factor}")
        if int(self.patch_size) < 1:
            raise ValueError(f"patch_size must be >= 1, got {self.patch_size}")
        if self.motion_sigma_factor is not None and not self.motion_sigma_factor > 0:
            raise ValueError(f"motion_sigma_factor must be > 0 or None, got {self.motion_sigma_factor}")
        if not 0.0 <= self.scale_damping <= 1.0:
            raise ValueError(f"scale_damping must be in [0, 1], got {self.scale_damping}")
        if self.scale_normalisation not in SCALE_NORMALISATIONS:
            raise ValueError(
                f"scale_normalisation must be one of {SCALE_NORMALISATIONS}, got {self.scale_normalisation!r}"
            )


@dataclass
class ExecutionConfig:
    """How the tracker runs, not what it computes (GPU options; they change rounding only).

    Execution:
        precision: the frozen backbone's precision, ``"fp32"`` (default, and the only sensible one
            on a CPU), ``"bf16"`` or ``"fp16"`` (``torch.autocast`` around VGG16 only; its outputs
            and everything the tracker ranks and learns stay float32).
        channels_last: the default backbone in ``torch.channels_last`` memory format.
        compile: ``"off"`` (default: eager) or a ``torch.compile`` mode (:data:`COMPILE_MODES`) for
            the per-frame detection step (the ranking-attention tracker's
            :func:`~rankatt_lib.trackers.rankatt.detect_step`: backbone, ranking, attention, parts,
            peaks and scale choice; the crop and the Eq. 10 update stay eager).
            ``"reduce-overhead"`` replays it as a CUDA graph on a GPU. The first frames of a run
            pay the compilation.
        compile_backend: the ``torch.compile`` backend (``"inductor"``; ``"eager"`` / ``"aot_eager"``
            only trace, which checks the step for graph breaks without compiling).
    """

    precision: str = "fp32"
    channels_last: bool = False
    compile: str = "off"
    compile_backend: str = "inductor"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {self.precision!r}")
        self.channels_last = bool(self.channels_last)
        if self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {COMPILE_MODES}, got {self.compile!r}")
        if not isinstance(self.compile_backend, str) or not self.compile_backend:
            raise ValueError(f"compile_backend must be a backend name, got {self.compile_backend!r}")


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class SearchGeometry:
    """Where the search patch lies in the image and how its feature cells map back to pixels.

    Attributes:
        search_area_factor: side of the (square) search region / ``sqrt(w h)`` of the target
            (our reading: about 2.9, so that the target is ~88 px in a 255 px patch).
        patch_size: side ``P`` of the resampled search patch in pixels (the paper's H = W = 255).
        stride: stride of the feature map in patch pixels (8 for conv4_3, 4 for conv3_3).
        map_size: side of the feature map (``P // stride`` for torchvision's floor pooling).
    """

    search_area_factor: float = 2.9
    patch_size: int = 255
    stride: int = 8
    map_size: int = 31

    def __post_init__(self) -> None:
        if not (self.search_area_factor > 0 and math.isfinite(self.search_area_factor)):
            raise ValueError(f"search_area_factor must be > 0, got {self.search_area_factor}")
        if self.patch_size < self.stride or self.stride < 1 or self.map_size < 1:
            raise ValueError(
                f"need patch_size >= stride >= 1 and map_size >= 1, got patch_size={self.patch_size}, "
                f"stride={self.stride}, map_size={self.map_size}"
            )

    @classmethod
    def for_layer(
        cls,
        layer: str = "conv4_3",
        search_area_factor: float = 2.9,
        patch_size: int = 255,
        backbone: VGG16Features | None = None,
    ) -> SearchGeometry:
        """The geometry of ``layer`` (its stride, and its map size as ``backbone`` computes it)."""
        stride = LAYER_STRIDES[layer]
        if backbone is not None:
            map_size = backbone.output_size(patch_size, patch_size)[layer][0]
        else:
            map_size = patch_size // stride
        return cls(float(search_area_factor), int(patch_size), int(stride), int(map_size))

    @property
    def centre_cell(self) -> float:
        """Cell coordinate of the patch centre: ``((P - 1) / 2 - (s - 1) / 2) / s`` (15.4375 for 255/8)."""
        return ((self.patch_size - 1) / 2 - (self.stride - 1) / 2) / self.stride

    def search_side(self, target_wh: Any) -> float:
        """Side of the square search region in image pixels: ``factor x sqrt(w h)``."""
        w, h = (float(v) for v in np.asarray(target_wh, dtype=np.float64).reshape(2))
        return self.search_area_factor * math.sqrt(w * h)

    def pixels_per_cell(self, search_side: float) -> float:
        """Image pixels per feature cell for a search region of side ``search_side``."""
        return self.stride * float(search_side) / self.patch_size

    def target_cells(self, target_wh: Any) -> np.ndarray:
        """The target's ``(w, h)`` in feature cells (independent of its image size: ~11 x 11 for a square)."""
        wh = np.asarray(target_wh, dtype=np.float64).reshape(2)
        return wh * self.patch_size / (self.search_side(wh) * self.stride)

    def cell_to_offset(self, cell_xy: Any, search_side: float) -> np.ndarray:
        """Image displacement ``(dx, dy)`` of the target when the response peaks at cell ``(x, y)``."""
        xy = np.asarray(cell_xy, dtype=np.float64).reshape(2)
        return (xy - self.centre_cell) * self.pixels_per_cell(search_side)


def odd_kernel_size(target_cells: float, max_size: int) -> int:
    """CREST's kernel side for a target ``target_cells`` wide: ``2 ceil(t / 2) + 1`` (odd, > t),
    capped at the largest odd number <= ``max_size`` (so that it fits the feature map)."""
    if not (target_cells > 0) or max_size < 1:
        raise ValueError(f"need target_cells > 0 and max_size >= 1, got {target_cells}, {max_size}")
    k = 2 * math.ceil(float(target_cells) / 2) + 1
    cap = max_size if max_size % 2 == 1 else max_size - 1
    return int(max(1, min(k, cap)))


# --------------------------------------------------------------------------- backbone


_BACKBONES: dict[tuple[str, str, tuple[str, ...], bool], VGG16Features] = {}
_BACKBONE_LOCK = threading.Lock()

#: The backbone precisions a tracker's config may ask for, and the autocast dtype of each
#: (``"fp32"``: no autocast, the default everywhere; the others are for GPUs).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def shared_backbone(
    device: torch.device | str | None = None,
    weights: str = "auto",
    layers: Sequence[str] = ("conv3_3", "conv4_3"),
    channels_last: bool = False,
) -> VGG16Features:
    """One frozen :class:`~rankatt_lib.features.vgg16.VGG16Features` per ``(weights, device, layers,
    channels_last)``.

    The runner builds a fresh tracker for every sequence; this cache keeps them from reloading
    VGG16 (about 60 MB and a second) each time. The module is frozen and stateless, so sharing it
    is safe. ``device=None`` means :func:`rankatt_lib.device`. ``channels_last`` stores the weights
    and runs the convolutions in ``torch.channels_last`` memory format (a GPU option; the
    numbers are the same up to rounding).
    """
    dev = default_device() if device is None else default_device(str(torch.device(device)))
    key = (weights, str(dev), tuple(layers), bool(channels_last))
    with _BACKBONE_LOCK:
        net = _BACKBONES.get(key)
        if net is None:
            net = VGG16Features(weights=weights, device=dev, layers=tuple(layers), channels_last=bool(channels_last))
            _BACKBONES[key] = net
    return net


def backbone_autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager[Any]:
    """The context the frozen backbone runs under at ``precision`` (:data:`PRECISIONS`).

    ``"fp32"`` is a no-op context; ``"bf16"`` / ``"fp16"`` run the convolutions under
    ``torch.autocast`` on ``device``'s type (the outputs stay float32: the backbone casts them
    back). Only the backbone runs at reduced precision; everything the tracker learns or ranks
    stays float32.

    Raises:
        ValueError: an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def crop_pyramid(
    frame: torch.Tensor,
    center: Any,
    search_side: float,
    scales: Sequence[float],
    patch_size: int,
    antialias: bool = False,
) -> torch.Tensor:
    """The search patches of every scale in one crop: ``(S, 3, P, P)`` float32, RGB 0..255.

    Patch ``k`` covers a square of side ``search_side x scales[k]`` centred on ``center``
    (``(cx, cy)``, 1-based image coordinates), resampled to ``P = patch_size``.

    ``antialias``: low-pass the image before a patch is *shrunk*
    (:func:`~rankatt_lib.features.geometry.crop_patches`: a Gaussian of ``sigma = (f - 1) / 2`` for a
    downsampling by ``f``, skipped below ``f = 1.6``). A patch that is enlarged (``f <= 1``, a target
    smaller than ~88 px) or shrunk by less than 1.6x is bit-identical with and without it.
    """
    sizes = float(search_side) * np.asarray(scales, dtype=np.float64)
    return crop_patches(frame, center, sizes, patch_size, antialias=bool(antialias))


def extract_features(backbone: VGG16Features, patches: torch.Tensor, layer: str = "conv4_3") -> torch.Tensor:
    """``backbone(patches)[layer]`` without autograd: ``(S, C, h, w)`` float32 (one forward pass)."""
    if layer not in backbone.layers:
        raise ValueError(f"the backbone returns {backbone.layers}, not {layer!r}")
    with torch.no_grad():
        return backbone(patches)[layer]


# --------------------------------------------------------------------------- maps


def gaussian_map(
    size: tuple[int, int], center_xy: torch.Tensor, sigma_yx: tuple[float, float], dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A Gaussian ``(h, w)`` (peak 1) centred on a *device tensor* ``center_xy = (x, y)`` in cells.

    Unlike :func:`rankatt_lib.features.geometry.gaussian_labels`, the centre is not read back to the host:
    the label of a tracked frame is built where its peak was found, without a synchronisation.
    """
    h, w = size
    c = center_xy.to(torch.float32)
    xs = torch.arange(w, dtype=torch.float32, device=c.device)
    ys = torch.arange(h, dtype=torch.float32, device=c.device)
    gx = torch.exp(-0.5 * ((xs - c[0]) / sigma_yx[1]) ** 2)
    gy = torch.exp(-0.5 * ((ys - c[1]) / sigma_yx[0]) ** 2)
    return (gy[:, None] * gx[None, :]).to(dtype)


def motion_prior(
    size: tuple[int, int],
    center_xy: tuple[float, float],
    sigma_yx: tuple[float, float],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """CREST's motion prior: a Gaussian ``(h, w)`` with peak 1 at the patch centre.

    The response map is multiplied by it, favouring small displacements. CREST uses
    ``sigma = 0.6 x`` the target size in cells, per axis (``motion_sigma_factor``).
    """
    c = torch.tensor(center_xy, dtype=torch.float32, device=device)
    return gaussian_map(size, c, sigma_yx)


def find_peaks(response: torch.Tensor, subpixel: bool = True) -> torch.Tensor:
    """The maximum of each (non-cyclic) response map, with parabolic sub-cell refinement.

    Args:
        response: ``(S, h, w)`` (or ``(h, w)``) real maps.
        subpixel: refine each axis with a parabola through the peak and its two neighbours
            (offset clipped to +-0.5; none at the border or where the three points are not concave).

    Returns:
        ``(S, 3)`` (or ``(3,)``): ``x, y`` (cell coordinates, 0-based, fractional) and the value at
        the integer peak. On the device; no synchronisation.
    """
    single = response.ndim == 2
    r = response[None] if single else response
    if r.ndim != 3:
        raise ValueError(f"find_peaks expects (S, h, w) or (h, w), got {tuple(response.shape)}")
    s, h, w = r.shape
    value, idx = r.reshape(s, -1).max(dim=1)
    py, px = idx // w, idx % w
    x, y = px.to(r.dtype), py.to(r.dtype)
    if subpixel:
        b = torch.arange(s, device=r.device)

        def offset(left: torch.Tensor, right: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
            den = left - 2 * value + right
            ok = (den < 0) & inside
            off = 0.5 * (left - right) / torch.where(ok, den, torch.full_like(den, -1.0))
            return torch.where(ok, off.clamp(-0.5, 0.5), torch.zeros_like(off))

        if w > 2:
            xl, xr = (px - 1).clamp(0, w - 1), (px + 1).clamp(0, w - 1)
            x = x + offset(r[b, py, xl], r[b, py, xr], (px > 0) & (px < w - 1))
        if h > 2:
            yl, yr = (py - 1).clamp(0, h - 1), (py + 1).clamp(0, h - 1)
            y = y + offset(r[b, yl, px], r[b, yr, px], (py > 0) & (py < h - 1))
    out = torch.stack([x, y, value], dim=-1)
    return out[0] if single else out


def select_scale(
    peaks: torch.Tensor,
    scales: Sequence[float] | torch.Tensor,
    penalty: float = 1.0,
    min_peak: float = 0.15,
    reference: int | None = None,
    calibration: torch.Tensor | None = None,
) -> torch.Tensor:
    """Index of the best scale (a 0-d long tensor on ``peaks``' device; no synchronisation).

    The peak of every scale other than the reference (scale 1) is multiplied by ``penalty``
    (1 = CREST: none; < 1 favours keeping the size) and the best penalised peak wins; ties go to
    the reference, then to the lowest index (CREST lists scale 1 first and takes the first
    maximum). When the reference scale's own peak is below ``min_peak`` (CREST: 0.15) the tracker
    is not confident and the reference is returned, i.e. the size is kept.

    Args:
        peaks: ``(S,)`` peak value of each scale's response.
        scales: ``S`` relative scale factors (e.g. CREST's ``[1, 0.95, 1.05]``).
        penalty: multiplier of the peaks of the scales != 1.
        min_peak: confidence gate on the reference peak.
        reference: index of the reference scale; default the scale closest to 1.
        calibration: ``(S,)`` positive divisors of the peaks before they are compared (see
            :func:`scale_calibration`); the confidence gate still reads the raw reference peak.
            ``None``: compare the raw peaks (CREST).
    """
    if peaks.ndim != 1:
        raise ValueError(f"peaks must be (S,), got {tuple(peaks.shape)}")
    sc = np.asarray(scales.detach().cpu() if isinstance(scales, torch.Tensor) else scales, dtype=np.float64)
    if sc.reshape(-1).size != peaks.numel():
        raise ValueError(f"{peaks.numel()} peaks for {sc.size} scales")
    ref = int(np.argmin(np.abs(sc.reshape(-1) - 1.0))) if reference is None else int(reference)
    if not 0 <= ref < peaks.numel():
        raise ValueError(f"reference {ref} out of range for {peaks.numel()} scales")
    if calibration is not None and calibration.shape != peaks.shape:
        raise ValueError(f"calibration {tuple(calibration.shape)} does not match the peaks {tuple(peaks.shape)}")
    return choose_scale(peaks, ref, penalty, min_peak, None if calibration is None else peaks / calibration)


def choose_scale(
    peaks: torch.Tensor,
    reference: int,
    penalty: float = 1.0,
    min_peak: float = 0.15,
    scores: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`select_scale` without its checks, for a known reference index: tensor operations
    only, so that ``torch.compile`` traces it whole (the tracker's per-frame step calls it).

    ``scores``: ``(S,)`` what the scales are compared on (calibrated peaks, a part-layout score);
    ``None``: the peaks themselves. The confidence gate always reads the raw reference peak.
    """
    weights = torch.full_like(peaks, float(penalty))
    weights[reference] = 1.0
    if scores is None:
        scored = peaks * weights
        best = torch.argmax(scored)  # the first maximum on ties ...
        keep = (peaks[reference] < min_peak) | (scored.amax() <= peaks[reference])  # ... and the reference wins ties
    else:
        scored = scores * weights
        best = torch.argmax(scored)
        keep = (peaks[reference] < min_peak) | (scored.amax() <= scored[reference])
    return torch.where(keep, torch.full_like(best, reference), best)


def scale_calibration(frame1_peaks: torch.Tensor, reference: int, max_ratio: float = 2.0) -> torch.Tensor:
    """The divisors that make the peaks of the scales comparable: the frame-1 peaks themselves.

    The tracker's model is trained on the scale-1 patch of frame 1 only, and the height of its
    response is not scale-invariant: a kernel that is smaller than the target (the part tracker's
    7 x 7 cells on a ~22-cell target) responds *more* to the same target when it looks smaller,
    i.e. on a larger crop, so that the 1.05 patch of an unchanged frame outscores the 1 patch.
    Dividing every scale's peak by the peak of the same model on the same scale of frame 1 (where
    the target's true scale is 1 by definition) removes that bias: on a repeated frame every
    calibrated peak is ``p / p = 1`` exactly and the reference wins the tie.

    Args:
        frame1_peaks: ``(S,)`` the (prior-weighted) peaks of the frame-1 scale pyramid.
        reference: index of scale 1.
        max_ratio: each divisor is kept within ``[c_ref / max_ratio, c_ref x max_ratio]``; if the
            reference peak is not positive, no calibration (ones).

    Returns:
        ``(S,)`` positive divisors on ``frame1_peaks``' device.
    """
    p = frame1_peaks.detach().to(torch.float32)
    ref = p[reference]
    ok = ref > 0
    lo, hi = ref / max_ratio, ref * max_ratio
    cal = torch.minimum(torch.maximum(p, lo), hi)
    return torch.where(ok, cal, torch.ones_like(cal))


def scale_trend_calibration(
    frame1_peaks: torch.Tensor, scales: Any, reference: int, max_ratio: float = 2.0
) -> torch.Tensor:
    """The divisors of ``scale_normalisation="trend"``: only the *trend* of the frame-1 peaks over
    the scales, not the peaks themselves.

    :func:`scale_calibration` divides by the frame-1 peaks, and so also removes the one thing that
    should stay: on frame 1 the model was just fitted to the scale-1 patch, so scale 1 peaks above
    its neighbours *because it is the right scale*. Dividing that away makes a correct scale 1
    look no better than its neighbours on later frames and the boxes shrink a few per cent. Here
    the log-peaks of frame 1 are fitted by a line in ``log s`` (least squares; with CREST's
    ``[1, 0.95, 1.05]`` it is the chord through 0.95 and 1.05) and only that line is divided
    out: the bias "a smaller-looking target responds more" is the slope, the fit's preference
    for the right scale is the curvature and is kept. Where the frame-1 reference peak is not
    above the line (no curvature), a scale's divisor is raised to its own frame-1 peak, so that on
    a repeated frame 1 the reference still wins (its calibrated score 1, every other <= 1).

    Args:
        frame1_peaks: ``(S,)`` the (prior-weighted) peaks of the frame-1 scale pyramid.
        scales: ``S`` relative scale factors.
        reference: index of scale 1.
        max_ratio: each divisor is kept within ``[c_ref / max_ratio, c_ref x max_ratio]``.

    Returns:
        ``(S,)`` positive divisors on ``frame1_peaks``' device; ones when a frame-1 peak is not
        positive (no calibration).
    """
    p = frame1_peaks.detach().to(torch.float64)
    sc = torch.as_tensor(np.asarray(scales, dtype=np.float64).reshape(-1), dtype=torch.float64, device=p.device)
    if sc.numel() != p.numel():
        raise ValueError(f"{p.numel()} peaks for {sc.numel()} scales")
    ok = bool((p > 0).all())
    if not ok or p.numel() < 2:
        return torch.ones_like(frame1_peaks, dtype=torch.float32)
    x = torch.log(sc)
    y = torch.log(p)
    xc = x - x.mean()
    slope = (xc * (y - y.mean())).sum() / xc.square().sum()
    trend = y[reference] + slope * (x - x[reference])  # log divisor; the reference's divisor is its peak
    # no scale may beat the reference on frame 1 itself: a divisor is at least the scale's own peak
    # times p_ref / p_ref (calibrated <= 1)
    log_div = torch.maximum(trend, y)
    ref = p[reference]
    cal = torch.exp(log_div).clamp(min=float(ref) / max_ratio, max=float(ref) * max_ratio)
    return cal.to(torch.float32)


def damped_size(size_wh: Any, scale: float, damping: float = 0.6) -> np.ndarray:
    """CREST's damped size update ``(1 - d) size + d (size x scale)`` (``d = 0.6``)."""
    wh = np.asarray(size_wh, dtype=np.float64)
    return (1.0 - damping) * wh + damping * wh * float(scale)


def pca_basis(features: torch.Tensor, n_components: int) -> torch.Tensor:
    """The ``n_components`` principal directions of the channels of ``features`` (CREST, frame 1).

    Args:
        features: ``(C, h, w)`` or ``(B, C, h, w)``; each spatial position is one observation.
        n_components: ``k <= C``.

    Returns:
        ``(C, k)`` orthonormal columns, by decreasing variance (eigenvectors of the channel
        covariance; the sign of each column is fixed so that its largest entry is positive).
    """
    x = features if features.ndim == 3 else features.permute(1, 0, 2, 3)
    if x.ndim != 3:
        raise ValueError(f"features must be (C, h, w) or (B, C, h, w), got {tuple(features.shape)}")
    c = x.shape[0]
    if not 1 <= n_components <= c:
        raise ValueError(f"n_components must be in 1..{c}, got {n_components}")
    m = x.reshape(c, -1).to(torch.float64)
    m = m - m.mean(dim=1, keepdim=True)
    cov = m @ m.T / max(1, m.shape[1] - 1)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    basis = vecs[:, -n_components:].flip(1)
    sign = torch.sign(basis.gather(0, basis.abs().argmax(dim=0, keepdim=True)))
    return (basis * torch.where(sign == 0, torch.ones_like(sign), sign)).to(features.dtype)


def project_channels(features: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w)`` x ``(C, k)`` -> ``(B, k, h, w)`` (CREST projects without centring)."""
    b, c, h, w = features.shape
    if basis.shape[0] != c:
        raise ValueError(f"basis {tuple(basis.shape)} does not match {c} feature channels")
    return (basis.T @ features.reshape(b, c, h * w)).reshape(b, basis.shape[1], h, w)


# --------------------------------------------------------------------------- online learning


class Profiler:
    """Optional wall-clock timing of a tracker's components, per call.

    Disabled (the default), ``section`` costs nothing and never synchronises. Enabled, each
    section is bracketed by ``torch.cuda.synchronize(device)`` on CUDA devices so that the time is
    the GPU's, not the launch's; the synchronisations slow the tracker a little.
    """

    def __init__(self, enabled: bool = False, device: torch.device | str = "cpu") -> None:
        self.enabled = bool(enabled)
        self.device = torch.device(device)
        self.times: dict[str, list[float]] = {}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Time the ``with`` block under ``name`` (when enabled)."""
        if not self.enabled:
            yield
            return
        self._sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.times.setdefault(name, []).append(time.perf_counter() - t0)

    def summary(self) -> dict[str, float]:
        """Mean seconds per call of each section."""
        return {k: float(np.mean(v)) for k, v in self.times.items() if v}

    def reset(self) -> None:
        """Forget the recorded times."""
        self.times.clear()


# --------------------------------------------------------------------------- tracker base


class DeepTrackerBase:
    """State and bookkeeping of a deep tracker: backbone, device, target centre and size, frames.

    Subclasses implement ``init`` / ``update`` with :meth:`_start` / :meth:`_frame` and report the
    box with :meth:`box`. The backbone is either given (shared between trackers, e.g. in tests and
    chapters) or :func:`shared_backbone` on ``device``.

    Args:
        device: where every tensor lives; ``None``: the given backbone's device, else
            :func:`rankatt_lib.device`.
        backbone: a :class:`~rankatt_lib.features.vgg16.VGG16Features` returning ``layer``.
        layer: the feature layer the tracker reads.
        profile: time the components (see :class:`Profiler`).
        channels_last: build the default backbone in ``torch.channels_last`` memory format (a given
            backbone is used as it is).
    """

    def __init__(
        self,
        device: torch.device | str | None = None,
        backbone: VGG16Features | None = None,
        layer: str = "conv4_3",
        profile: bool = False,
        channels_last: bool = False,
    ) -> None:
        if backbone is not None:
            if layer not in getattr(backbone, "layers", ()):
                raise ValueError(f"the backbone must return {layer!r}; it returns {getattr(backbone, 'layers', None)}")
            bdev = backbone.device
            if device is not None and torch.device(device) != bdev:
                want, have = torch.device(device), bdev
                if not (want.type == have.type == "cuda" and want.index is None):
                    raise ValueError(f"device {want} differs from the backbone's device {have}")
            self.device = bdev
            self.backbone = backbone
        else:
            self.device = default_device() if device is None else default_device(str(torch.device(device)))
            shared = ("conv3_3", "conv4_3")  # what the library's trackers read: one cached module
            self.backbone = shared_backbone(
                self.device, layers=shared if layer in shared else (layer,), channels_last=channels_last
            )
        self.layer = layer
        self.profiler = Profiler(profile, self.device)
        self.center: np.ndarray | None = None  # (cx, cy), 1-based image coordinates
        self.size = np.zeros(2)  # (w, h) of the current target
        self.image_hw = (0, 0)
        self.frame_index = 0  # 1 after init, 2 after the first update, ...

    def _start(self, image: Any, box: Any) -> torch.Tensor:
        """Validate ``image`` and ``box``, reset the state; returns the frame ``(3, H, W)`` on the device.

        Raises:
            TypeError: ``image`` is not an array/tensor.
            ValueError: a bad box (NaN, ``w`` or ``h <= 0``, entirely outside the image).
        """
        frame, self.image_hw = upload_frame(image, self.device)
        b = check_box(box, self.image_hw)
        cx, cy, w, h = box_to_center(b)
        self.center = np.array([cx, cy], dtype=np.float64)
        self.size = np.array([w, h], dtype=np.float64)
        self.frame_index = 1
        return frame

    def _frame(self, image: Any) -> torch.Tensor:
        """The next frame on the device (``frame_index`` is advanced)."""
        if self.center is None:
            raise RuntimeError("call init(image, box) before update(image)")
        frame, self.image_hw = upload_frame(image, self.device)
        self.frame_index += 1
        return frame

    def _move(self, offset_xy: Any) -> None:
        """Shift the centre by ``(dx, dy)`` pixels, keeping it inside the image."""
        assert self.center is not None
        h, w = self.image_hw
        c = self.center + np.asarray(offset_xy, dtype=np.float64).reshape(2)
        self.center = np.array([min(max(c[0], 1.0), float(w)), min(max(c[1], 1.0), float(h))])

    def _clamp_size(self, min_size: float = 4.0) -> bool:
        """Keep the size between ``min_size`` px and the image size.

        Each axis is clamped on its own, so a clamp on one axis changes the box's aspect ratio
        (a uniform scale change never does). Returns whether it did: the target's size *in cells*
        (``w, h`` x ``P / search side``, invariant under a uniform scaling) then differs from the one
        the tracker derived its label, prior and motion prior from, and the tracker must refresh
        them (``_refresh_geometry`` of the trackers).
        """
        h, w = self.image_hw
        before = self.size
        self.size = np.clip(self.size, min_size, np.array([max(w, min_size), max(h, min_size)], dtype=np.float64))
        clamped = bool(np.any(self.size != before))
        return clamped and not math.isclose(
            float(self.size[0] * before[1]), float(self.size[1] * before[0]), rel_tol=1e-12
        )

    def box(self) -> np.ndarray:
        """The current box ``x, y, w, h`` (1-based, float64)."""
        if self.center is None:
            raise RuntimeError("the tracker has not been initialised")
        return center_to_box(np.array([self.center[0], self.center[1], self.size[0], self.size[1]]))
