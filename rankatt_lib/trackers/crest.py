"""A CREST-style single-kernel tracker: the baseline the ranking-attention paper improves on.

CREST (Song et al., "CREST: Convolutional Residual Learning for Visual Tracking", ICCV 2017)
reformulates a discriminative correlation filter as **one convolutional layer** on deep
features, trained by gradient descent instead of solved in the Fourier domain:

    r = w * x + b,        x = PCA_64(hann . conv4_3(patch)),        w in R^{64 x k_h x k_w}

and fitted to a Gaussian label ``y`` centred on the target. This module implements CREST's *base
layer* only; its two residual branches (a spatial 1x1-conv branch on the current frame and a
temporal branch on frame 1) are **not** included: the paper under reproduction starts from a
single convolution kernel, and the baseline it is compared with is exactly that kernel.

What follows CREST's released code (``ybsong00/CREST-Release``, ``CREST_tracking.m``, ``initNet.m``,
``L2normLoss.m``, ``scale_estimation.m``) and book appendix, reading-evaluation:

* features: VGG16 conv4_3 after ReLU, multiplied by a cosine (Hann) window, reduced from 512 to
  64 channels by a PCA fitted on frame 1 and projected without centring;
* kernel: ``2 ceil(t / 2) + 1`` cells per axis for a target ``t`` cells wide (odd, covers the
  target), plus a bias; 'same' padding, so the response is the size of the feature map;
* label: a Gaussian with ``sigma = 0.1 x`` the target size in cells, per axis;
* loss (``loss="crest"``, ``L2normLoss.m``): ``sum_(h,w) (exp(y) (r - y))^2`` where
  ``|r - y| >= 0.1`` (a dead zone: errors below 0.1 cost nothing), averaged over the batch, with
  L2 weight decay added to the gradient; Adam;
* first frame: Adam steps until the loss is below 0.02 (CREST: up to 4000 epochs; capped here,
  :attr:`CRESTConfig.init_max_steps`);
* tracking: response x motion prior (a Gaussian with ``sigma = 0.6 x`` the target in cells),
  the peak moves the target;
* online update: every 2 frames, 2 Adam steps (a fresh optimiser each time) on the samples of
  the last 2 frames, each labelled by a Gaussian centred where the target was found;
* scale: scales ``[1, 0.95, 1.05]``, the best peak wins, the size moves 60 % of the way
  (``0.4 size + 0.6 size x s``), and the size is kept when the peak at scale 1 is below 0.15.

What is ours (each a documented field of :class:`CRESTConfig`):

* the search region is ``2.9 x sqrt(w h)`` resampled to 255 px (book appendix, reading-method; CREST uses
  5x the target and cell size 4 on resampled conv4_3 features), so conv4_3 is a 31 x 31 map with
  the target ~11 cells wide;
* all scales are cropped around the previous centre and go through VGG16 in **one** batch; the
  target position is read from the winning scale's response (CREST runs a second pass per scale
  at the new position and takes the position from scale 1);
* the 0.15 confidence gate also gates the online update (a frame whose peak is below it neither
  stores a sample nor trains; CREST's code gates only the scale);
* features are divided by their frame-1 RMS, so that learning rates do not depend on the
  backbone's feature scale (CREST's 5e-8 / 2e-9 learning rates are tied to raw Caffe features);
* parabolic sub-cell refinement of the peak (CREST takes the integer argmax).

Per frame the tracker makes one backbone pass (batch of 3 patches) and reads one small tensor
back from the device (peak position, value, scale index); everything else stays on the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rankatt_lib.configs import check_groups, make_config
from rankatt_lib.features.geometry import cosine_window
from rankatt_lib.features.vgg16 import VGG16Features
from rankatt_lib.registry import register
from rankatt_lib.trackers.base import (
    PART_TRACKER_SCALE_NORMALISATIONS,
    DeepTrackerBase,
    SampleBuffer,
    SearchConfig,
    SearchGeometry,
    UpdateSchedule,
    crop_pyramid,
    damped_size,
    extract_features,
    find_peaks,
    gaussian_map,
    motion_prior,
    odd_kernel_size,
    pca_basis,
    project_channels,
    scale_calibration,
    scale_trend_calibration,
    select_scale,
)

__all__ = [
    "CRESTConfig",
    "CRESTFrameInfo",
    "CRESTInitInfo",
    "CRESTTracker",
    "ConvolutionalDCF",
    "crest_loss",
    "dcf_loss",
    "mse_loss",
]


# --------------------------------------------------------------------------- configuration


@dataclass
class CRESTConfig:
    """Every number of the CREST-style tracker. CREST's released values unless marked *ours*.

    Features:
        layer: backbone layer (CREST: conv4_3).
        pca_channels: channels kept by the frame-1 PCA (CREST: 64); ``None`` keeps all 512.
        feature_window: multiply the features by a Hann window (CREST: yes).
        normalize_features: divide features by their frame-1 RMS (*ours*; makes the learning
            rates independent of the feature scale).

    Model and loss:
        output_sigma_factor: label sigma = factor x target size in cells, per axis (CREST: 0.1).
        loss: ``"crest"`` (exp-weighted squared error with a dead zone, summed over the map; CREST's
            ``L2normLoss``) or ``"mse"`` (the mean squared error of the paper's Eq. 10).
        dead_zone: errors below it are ignored by the ``"crest"`` loss (CREST: 0.1).
        weight_decay: L2 penalty added to the gradient of the kernel (*ours*: CREST's 1e3 is tied
            to raw-feature scales; this is the paper's lambda2 role).
        bias: learn a bias (CREST: yes).

    First frame:
        init_lr: Adam learning rate (*ours*: 1e-4 on normalised features; reaches the 0.02
            threshold in 30-120 steps on our sequences; CREST: 5e-8 on raw features).
        init_loss_threshold: stop once the loss is below it (CREST: 0.02).
        init_max_steps: cap on the Adam steps (*ours*: 300 for the CPU; CREST: 4000 epochs).
        init_check_every: read the loss back every this many steps (*ours*; each read is a
            device synchronisation).

    Online update:
        update_interval: train every this many frames (CREST: 2).
        update_steps: Adam steps per update (CREST: 2 epochs of one batch).
        update_lr: Adam learning rate of the updates (*ours*: ``init_lr / 25``, CREST's ratio
            2e-9 / 5e-8; 2e-5 was worse on the synthetic training split).
        buffer_size: training pairs kept, the latest frames (CREST: 2).
        fresh_update_optimizer: a new Adam state for every update (CREST: yes).
        keep_first_sample: always add frame 1's pair to the update batch (*ours*; CREST: no;
            no better on the synthetic training split).
        update_min_peak: frames whose peak is below it are not learned from (*ours*: our reading's
            0.15 gate applied to learning too; CREST's code gates only the scale).

    Groups:
        search: the search region and the scale search (:class:`~.base.SearchConfig`: CREST's
            scales 1, 0.95, 1.05 with its damping, gate and motion prior, compared by CREST's rule,
            ``scale_normalisation="none"``; ``"frame1"`` and ``"trend"`` are the calibrated
            alternatives; a scale penalty of 0.98 was no better on the synthetic training split).

    Initial values:
        seed: seed of the kernel's initialisation (the kernel starts at 0 when ``init_std`` is 0).
        init_std: std of the kernel's random initial values (CREST: ~1e-8 relative, i.e. ~0).
    """

    layer: str = "conv4_3"
    pca_channels: int | None = 64
    feature_window: bool = True
    normalize_features: bool = True

    output_sigma_factor: float = 0.1
    loss: Literal["crest", "mse"] = "crest"
    dead_zone: float = 0.1
    weight_decay: float = 1e-4
    bias: bool = True

    init_lr: float = 1e-4
    init_loss_threshold: float = 0.02
    init_max_steps: int = 300
    init_check_every: int = 10

    update_interval: int = 2
    update_steps: int = 2
    update_lr: float = 4e-6
    buffer_size: int = 2
    fresh_update_optimizer: bool = True
    keep_first_sample: bool = False
    update_min_peak: float = 0.15

    seed: int = 0
    init_std: float = 0.0

    search: SearchConfig = field(default_factory=SearchConfig)

    def __post_init__(self) -> None:
        check_groups(self, search=SearchConfig)
        if self.search.motion_sigma_factor is None:
            raise ValueError("the CREST-style tracker needs a motion prior: search.motion_sigma_factor > 0")
        if self.loss not in ("crest", "mse"):
            raise ValueError(f"loss must be 'crest' or 'mse', got {self.loss!r}")
        if self.pca_channels is not None and self.pca_channels < 1:
            raise ValueError(f"pca_channels must be >= 1 or None, got {self.pca_channels}")
        for name in ("update_interval", "buffer_size", "init_check_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("update_steps", "init_max_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("output_sigma_factor", "init_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.search.scale_normalisation in PART_TRACKER_SCALE_NORMALISATIONS:
            raise ValueError(
                f"scale_normalisation must be 'none', 'frame1' or 'trend', got {self.search.scale_normalisation!r}"
            )


# --------------------------------------------------------------------------- model and losses


class ConvolutionalDCF(nn.Module):
    """A correlation filter as one convolution: ``r = w * x + b`` ('same' padding).

    Args:
        channels: ``C``, feature channels.
        kernel_size: ``(k_h, k_w)``, both odd.
        bias: learn a scalar bias.
        init_std: std of the random initial kernel (0: zeros).
        generator: random source of the initial kernel.

    ``forward(x)``: ``(B, C, h, w)`` -> ``(B, h, w)``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: tuple[int, int],
        bias: bool = True,
        init_std: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        kh, kw = (int(k) for k in kernel_size)
        if kh % 2 == 0 or kw % 2 == 0 or kh < 1 or kw < 1:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        w = torch.randn(1, channels, kh, kw, generator=generator) * init_std if init_std > 0 else None
        self.weight = nn.Parameter(w if w is not None else torch.zeros(1, channels, kh, kw))
        self.bias = nn.Parameter(torch.zeros(1)) if bias else None
        self.kernel_size = (kh, kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` -> response ``(B, h, w)``."""
        if x.ndim != 4 or x.shape[1] != self.weight.shape[1]:
            raise ValueError(f"expected (B, {self.weight.shape[1]}, h, w) features, got {tuple(x.shape)}")
        kh, kw = self.kernel_size
        return F.conv2d(x, self.weight, self.bias, padding=(kh // 2, kw // 2))[:, 0]


def crest_loss(response: torch.Tensor, label: torch.Tensor, dead_zone: float = 0.1) -> torch.Tensor:
    """CREST's regression loss (``L2normLoss.m``): ``mean_b sum_(h,w) (exp(y) d)^2``.

    ``d = r - y`` where ``|r - y| >= dead_zone`` and 0 elsewhere; the exponential weight makes
    errors near the peak (y -> 1) cost up to e^2 = 7.4 times more than in the background.

    Args:
        response: ``(B, h, w)``.
        label: ``(B, h, w)`` (or ``(h, w)``, broadcast).

    Returns:
        A scalar tensor.
    """
    d = response - label
    if dead_zone > 0:
        d = torch.where(d.abs() >= dead_zone, d, torch.zeros_like(d))
    return (torch.exp(label) * d).square().sum(dim=(-2, -1)).mean()


def mse_loss(response: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """The data term of the paper's Eq. 10: ``(1 / hw) sum_(h,w) (r - y)^2``, averaged over the batch."""
    return (response - label).square().mean()


def dcf_loss(response: torch.Tensor, label: torch.Tensor, config: CRESTConfig) -> torch.Tensor:
    """The loss named by ``config.loss`` (without the weight decay, which the optimiser adds)."""
    if config.loss == "crest":
        return crest_loss(response, label, config.dead_zone)
    return mse_loss(response, label)


# --------------------------------------------------------------------------- internals exposed


@dataclass
class CRESTInitInfo:
    """What the first-frame training did.

    Attributes:
        steps: Adam steps taken.
        loss: the loss after the last step.
        converged: whether the loss reached ``init_loss_threshold`` (else the cap stopped it).
        history: ``(step, loss)`` before training (step 0) and after every ``init_check_every`` steps.
        kernel_size: ``(k_h, k_w)`` in cells.
        target_cells: the target's ``(w, h)`` in cells.
        label: the frame-1 label ``(h, w)`` on the device.
        response: the trained model's response on frame 1 ``(h, w)``.
    """

    steps: int
    loss: float
    converged: bool
    history: list[tuple[int, float]]
    kernel_size: tuple[int, int]
    target_cells: tuple[float, float]
    label: torch.Tensor
    response: torch.Tensor


@dataclass
class CRESTFrameInfo:
    """Internals of one tracked frame (for plots and tests); tensors stay on the device.

    Attributes:
        frame: the frame number (1-based; frame 1 is the initialisation).
        response: raw responses ``(S, h, w)``, one per scale (in ``config.search.scales`` order).
        weighted: ``response x motion prior`` ``(S, h, w)``.
        scale_index: the selected scale's index.
        scale: the selected scale factor.
        peak_value: peak of the selected weighted response.
        peak_cell: ``(x, y)`` of that peak in cells (sub-cell).
        peaks: ``(S,)`` numpy array, peak of every scale.
        stored: whether the frame's pair went into the buffer.
        updated: whether the model was trained on this frame.
    """

    frame: int
    response: torch.Tensor
    weighted: torch.Tensor
    scale_index: int
    scale: float
    peak_value: float
    peak_cell: tuple[float, float]
    peaks: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stored: bool = False
    updated: bool = False


# --------------------------------------------------------------------------- tracker


class CRESTTracker(DeepTrackerBase):
    """CREST's base layer as a tracker: ``init(image, box)`` then ``update(image) -> box``.

    Images are RGB ``uint8`` ``(H, W, 3)``; boxes ``x, y, w, h`` (OTB, 1-based). Options: a
    :class:`CRESTConfig` and/or its fields as keywords (``CRESTTracker(init_max_steps=100)``).

    Args:
        config: the settings (default :class:`CRESTConfig`).
        device: where everything runs (default: the backbone's device, else
            :func:`rankatt_lib.device`).
        backbone: a :class:`~rankatt_lib.features.vgg16.VGG16Features` to share (default: one cached
            per device, :func:`~rankatt_lib.trackers.base.shared_backbone`).
        profile: time the components; ``profiler.summary()`` gives seconds per call of ``"crop"``,
            ``"features"``, ``"response"`` and ``"update"``.

    Attributes:
        init_info: :class:`CRESTInitInfo` after ``init``.
        last: :class:`CRESTFrameInfo` of the latest frame.
        update_frames: the frames on which the model was trained.
        model: the :class:`ConvolutionalDCF`.
    """

    def __init__(
        self,
        config: CRESTConfig | None = None,
        device: torch.device | str | None = None,
        backbone: VGG16Features | None = None,
        *,
        profile: bool = False,
        **overrides: Any,
    ) -> None:
        self.config: CRESTConfig = make_config(CRESTConfig, config, overrides)
        super().__init__(device, backbone, self.config.layer, profile)
        cfg = self.config
        self.geometry = SearchGeometry.for_layer(
            cfg.layer, cfg.search.search_area_factor, cfg.search.patch_size, self.backbone
        )
        self.schedule = UpdateSchedule(cfg.update_interval, cfg.update_min_peak)
        self.model: ConvolutionalDCF | None = None
        self.init_info: CRESTInitInfo | None = None
        self.last: CRESTFrameInfo | None = None
        self.update_frames: list[int] = []
        self.buffer: SampleBuffer | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._window: torch.Tensor | None = None  # (n, n) Hann window on the features
        self._basis: torch.Tensor | None = None  # (512, pca_channels)
        self._feat_scale = torch.ones(())  # 1 / frame-1 RMS of the prepared features
        self._scale_calib: torch.Tensor | None = None  # (S,) divisors of the peaks ("frame1")
        self._ref = int(np.argmin(np.abs(np.asarray(self.config.search.scales) - 1.0)))

    # -- features --
    def _prepare(self, feats: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(S, 512, h, w)`` -> the filter's input ``(S, C', h, w)``."""
        x = feats * self._window if self._window is not None else feats
        if self._basis is not None:
            x = project_channels(x, self._basis)
        return x * self._feat_scale

    def _features(self, frame: torch.Tensor, scales: tuple[float, ...]) -> torch.Tensor:
        assert self.center is not None
        side = self.geometry.search_side(self.size)
        with self.profiler.section("crop"):
            patches = crop_pyramid(
                frame, self.center, side, scales, self.geometry.patch_size, self.config.search.antialias
            )
        with self.profiler.section("features"):
            return extract_features(self.backbone, patches, self.config.layer)

    # -- training --
    def _new_optimizer(self, lr: float) -> torch.optim.Optimizer:
        assert self.model is not None
        return torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=self.config.weight_decay)

    def _fit(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer, steps: int) -> torch.Tensor:
        """``steps`` Adam steps on the batch ``(x, y)``; returns the last loss (on the device, no sync)."""
        assert self.model is not None
        loss = torch.zeros((), device=self.device)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = dcf_loss(self.model(x), y, self.config)
            loss.backward()
            optimizer.step()
        return loss.detach()

    # -- tracker interface --
    def init(self, image: np.ndarray, box: Any) -> None:
        """Fit the kernel to frame 1: Adam until the loss is below the threshold or the step cap.

        Raises:
            ValueError: a bad box (NaN, non-positive size, outside the image).
        """
        cfg = self.config
        frame = self._start(image, box)
        geo = self.geometry
        dev = self.device
        n = geo.map_size
        self._window = cosine_window(n, n, device=dev) if cfg.feature_window else None
        self._basis = None
        self._feat_scale = torch.ones((), device=dev)
        feats = self._features(frame, (1.0,))  # (1, 512, n, n)
        if feats.shape[-2:] != (n, n):
            raise RuntimeError(f"feature map {tuple(feats.shape[-2:])} != the geometry's {n} x {n}")
        if cfg.pca_channels is not None and cfg.pca_channels < feats.shape[1]:
            windowed = feats * self._window if self._window is not None else feats
            self._basis = pca_basis(windowed[0], cfg.pca_channels)
        x0 = self._prepare(feats)
        if cfg.normalize_features:
            self._feat_scale = x0.square().mean().sqrt().clamp_min(1e-12).reciprocal()
            x0 = x0 * self._feat_scale

        wc, hc = geo.target_cells(self.size)
        kh, kw = odd_kernel_size(hc, n), odd_kernel_size(wc, n)
        c0 = geo.centre_cell
        self._label_sigma = (cfg.output_sigma_factor * hc, cfg.output_sigma_factor * wc)
        self._centre = torch.tensor([c0, c0], dtype=torch.float32, device=dev)
        label = gaussian_map((n, n), self._centre, self._label_sigma)
        self._prior = motion_prior(
            (n, n), (c0, c0), (cfg.search.motion_sigma_factor * hc, cfg.search.motion_sigma_factor * wc), device=dev
        )
        self._target_cells = (float(wc), float(hc))
        gen = torch.Generator().manual_seed(cfg.seed)
        self.model = ConvolutionalDCF(x0.shape[1], (kh, kw), cfg.bias, cfg.init_std, gen).to(dev)

        optimizer = self._new_optimizer(cfg.init_lr)
        y0 = label[None]
        with torch.no_grad():
            history = [(0, float(dcf_loss(self.model(x0), y0, cfg)))]
        steps = 0
        while history[-1][1] >= cfg.init_loss_threshold and steps < cfg.init_max_steps:
            chunk = min(cfg.init_check_every, cfg.init_max_steps - steps)
            self._fit(x0, y0, optimizer, chunk)
            steps += chunk
            with torch.no_grad():  # the loss of the current kernel: one read per chunk
                history.append((steps, float(dcf_loss(self.model(x0), y0, cfg))))
        final = history[-1][1]
        converged = final < cfg.init_loss_threshold
        with torch.no_grad():
            response = self.model(x0)[0]
        self._scale_calib = None
        if cfg.search.scale_normalisation in ("frame1", "trend"):
            # the trained model on frame 1's own scale pyramid: the same patches, batch and
            # operations as the first update on an unchanged frame (whose peaks it then divides to 1)
            with torch.no_grad():
                xs = self._prepare(self._features(frame, cfg.search.scales))
                peaks1 = find_peaks(self.model(xs) * self._prior, cfg.search.subpixel)[:, 2]
            if cfg.search.scale_normalisation == "trend":
                self._scale_calib = scale_trend_calibration(peaks1, cfg.search.scales, self._ref)
            else:
                self._scale_calib = scale_calibration(peaks1, self._ref)

        self._first = (x0[0].detach(), label)
        self.buffer = SampleBuffer(cfg.buffer_size, tuple(x0.shape[1:]), (n, n), device=dev)
        self._optimizer = None if cfg.fresh_update_optimizer else self._new_optimizer(cfg.update_lr)
        self.update_frames = []
        self.init_info = CRESTInitInfo(
            steps, final, converged, history, (kh, kw), (float(wc), float(hc)), label, response.detach()
        )
        self.last = CRESTFrameInfo(
            1,
            response.detach()[None],
            (response * self._prior).detach()[None],
            0,
            1.0,
            float(response.max()),
            (c0, c0),
            np.array([float(response.max())]),
        )

    def update(self, image: np.ndarray) -> np.ndarray:
        """Locate the target in ``image`` (3 scales, one backbone pass), learn, return ``x, y, w, h``."""
        cfg = self.config
        frame = self._frame(image)
        assert self.model is not None and self.buffer is not None
        side = self.geometry.search_side(self.size)
        feats = self._features(frame, cfg.search.scales)
        with self.profiler.section("response"):
            with torch.no_grad():
                x = self._prepare(feats)  # (S, C', n, n)
                response = self.model(x)  # (S, n, n)
                weighted = response * self._prior
                peaks = find_peaks(weighted, cfg.search.subpixel)  # (S, 3)
                best = select_scale(
                    peaks[:, 2],
                    cfg.search.scales,
                    cfg.search.scale_penalty,
                    cfg.search.scale_min_peak,
                    self._ref,
                    self._scale_calib,
                )  # ("parts" is rejected by the config: CREST has one kernel, no parts)
                pick = peaks[best]  # (3,)
                # the one synchronisation per frame: peak x, y, value, scale index and all peaks
                read = torch.cat([pick, best.to(pick.dtype)[None], peaks[:, 2]]).tolist()
        px, py, value, idx = read[0], read[1], read[2], int(read[3])
        s = cfg.search.scales[idx]
        self._move(self.geometry.cell_to_offset((px, py), side * s))
        if s != 1.0:
            self.size = damped_size(self.size, s, cfg.search.scale_damping)
            if self._clamp_size(cfg.search.min_size) and cfg.search.refresh_geometry:
                self._refresh_geometry()

        store, train = self.schedule.decide(self.frame_index, value)
        if store or train:
            with self.profiler.section("update"):
                if store:
                    label = gaussian_map(tuple(x.shape[-2:]), pick[:2], self._label_sigma)
                    self.buffer.push(x[idx], label)
                if train:
                    self._train_online()
                    self.update_frames.append(self.frame_index)
        self.last = CRESTFrameInfo(
            self.frame_index, response, weighted, idx, s, value, (px, py), np.asarray(read[4:]), store, train
        )
        return self.box()

    def _refresh_geometry(self) -> None:
        """After a clamp changed the aspect ratio: the label sigma and the motion prior from the
        current size in cells (frame 1's otherwise). The kernel keeps its frame-1 size."""
        cfg = self.config
        n = self.geometry.map_size
        wc, hc = self.geometry.target_cells(self.size)
        c0 = self.geometry.centre_cell
        self._label_sigma = (cfg.output_sigma_factor * hc, cfg.output_sigma_factor * wc)
        self._prior = motion_prior(
            (n, n),
            (c0, c0),
            (cfg.search.motion_sigma_factor * hc, cfg.search.motion_sigma_factor * wc),
            device=self.device,
        )
        self._target_cells = (float(wc), float(hc))

    def _train_online(self) -> None:
        """``update_steps`` Adam steps on the buffer (and frame 1's pair if ``keep_first_sample``)."""
        cfg = self.config
        assert self.buffer is not None
        if len(self.buffer) == 0 or cfg.update_steps == 0:
            return
        xs, ys = self.buffer.features(), self.buffer.labels()
        if cfg.keep_first_sample:
            xs = torch.cat([xs, self._first[0][None]])
            ys = torch.cat([ys, self._first[1][None]])
        optimizer = self._new_optimizer(cfg.update_lr) if self._optimizer is None else self._optimizer
        self._fit(xs, ys, optimizer, cfg.update_steps)

    def __repr__(self) -> str:
        return f"CRESTTracker(device={self.device}, pca_channels={self.config.pca_channels})"


# --------------------------------------------------------------------------- registry


@register("crest")
def _make_crest(**kwargs: Any) -> CRESTTracker:
    """CREST's base layer (Song et al. 2017) on VGG16 conv4_3; options: CRESTConfig fields, device,
    backbone (default: one VGG16 cached per device)."""
    return CRESTTracker(**kwargs)
