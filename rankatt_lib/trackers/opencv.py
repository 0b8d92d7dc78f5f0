"""OpenCV's correlation-filter trackers (CSRT, KCF, MOSSE) as library trackers.

:class:`OpenCVTracker` wraps ``cv2.TrackerCSRT``, ``cv2.TrackerKCF`` and
``cv2.legacy.TrackerMOSSE`` (all from ``opencv-contrib``) behind the library's tracker interface:

* ``init(image, box)`` / ``update(image) -> box``;
* images are RGB ``uint8`` ``(H, W, 3)`` (converted to OpenCV's BGR);
* boxes are ``x, y, w, h`` floats in the dataset's 1-based convention, converted to OpenCV's
  0-based integer ``Rect`` and back (``x_cv = round(x - 1)``; the returned box is ``x_cv + 1``);
* when OpenCV reports a failure (``ok == False``) or an unusable rectangle, the last good box is
  returned again instead of OpenCV's ``0, 0, 0, 0``.

The trackers are registered in :mod:`rankatt_lib.registry` as ``"csrt"``, ``"opencv-kcf"`` and
``"opencv-mosse"``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

__all__ = ["OpenCVTracker", "OPENCV_TRACKERS", "box_to_cv_rect", "cv_rect_to_box"]


def _factory(kind: str) -> Callable[..., Any] | None:
    """OpenCV's constructor for ``kind``, looked up in the main and the ``legacy`` namespaces."""
    names = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mosse": "TrackerMOSSE"}[kind]
    for ns in (cv2, getattr(cv2, "legacy", None)):
        if ns is None:
            continue
        create = getattr(ns, f"{names}_create", None)
        if create is None:
            cls = getattr(ns, names, None)
            create = getattr(cls, "create", None) if cls is not None else None
        if create is not None:
            return create
    return None


def _params_type(kind: str) -> Any:
    names = {"csrt": "TrackerCSRT_Params", "kcf": "TrackerKCF_Params"}
    name = names.get(kind)
    return getattr(cv2, name, None) if name else None


OPENCV_TRACKERS: tuple[str, ...] = ("csrt", "kcf", "mosse")
"""The OpenCV tracker kinds :class:`OpenCVTracker` accepts."""


def box_to_cv_rect(box: Any, image_shape: tuple[int, ...] | None = None) -> tuple[int, int, int, int]:
    """A 1-based ``x, y, w, h`` box -> OpenCV's 0-based integer ``(x, y, w, h)`` rect.

    With ``image_shape`` the rect is clipped to the image (keeping at least 1x1 pixel inside), as
    OpenCV's trackers reject a rectangle that leaves the image.
    """
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    x0, y0 = int(round(x - 1.0)), int(round(y - 1.0))
    x1, y1 = int(round(x - 1.0 + w)), int(round(y - 1.0 + h))  # exclusive
    if image_shape is not None:
        H, W = int(image_shape[0]), int(image_shape[1])
        x0, y0 = min(max(x0, 0), W - 1), min(max(y0, 0), H - 1)
        x1, y1 = min(max(x1, x0 + 1), W), min(max(y1, y0 + 1), H)
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def cv_rect_to_box(rect: Any) -> np.ndarray:
    """OpenCV's 0-based ``(x, y, w, h)`` rect -> a 1-based ``(4,)`` float64 box."""
    x, y, w, h = (float(v) for v in rect)
    return np.array([x + 1.0, y + 1.0, w, h], dtype=np.float64)


class OpenCVTracker:
    """One of OpenCV's trackers behind ``init(image, box)`` / ``update(image) -> box``.

    Args:
        kind: ``"csrt"``, ``"kcf"`` or ``"mosse"`` (case-insensitive).
        **params: fields of OpenCV's parameter object (``cv2.TrackerCSRT_Params`` /
            ``cv2.TrackerKCF_Params``), e.g. ``use_hog=False``; MOSSE takes none.

    Attributes:
        name: the tracker's name (``"CSRT"``, ``"KCF"``, ``"MOSSE"``).
        failures: number of frames where OpenCV reported a failure (last box kept).

    Raises:
        ValueError: an unknown kind or parameter.
        RuntimeError: the installed OpenCV lacks this tracker (install ``opencv-contrib-python``).
    """

    def __init__(self, kind: str, **params: Any) -> None:
        kind = kind.lower()
        if kind not in OPENCV_TRACKERS:
            raise ValueError(f"unknown OpenCV tracker {kind!r}; expected one of {OPENCV_TRACKERS}")
        self.kind = kind
        self.name = kind.upper()
        self.params = dict(params)
        self._create = _factory(kind)
        if self._create is None:
            raise RuntimeError(
                f"this OpenCV build ({cv2.__version__}) has no {kind.upper()} tracker; it lives in the "
                "contrib modules: install 'opencv-contrib-python' or 'opencv-contrib-python-headless' "
                "(and uninstall plain 'opencv-python', which shadows it)"
            )
        if params:
            ptype = _params_type(kind)
            if ptype is None:
                raise ValueError(f"the OpenCV {kind.upper()} tracker takes no parameters, got {sorted(params)}")
            probe = ptype()
            unknown = [k for k in params if not hasattr(probe, k)]
            if unknown:
                raise ValueError(f"unknown {kind.upper()} parameter(s) {unknown}")
        self._tracker: Any = None
        self._box: np.ndarray | None = None
        self.failures = 0

    def _new(self) -> Any:
        if not self.params:
            return self._create()
        p = _params_type(self.kind)()
        for k, v in self.params.items():
            setattr(p, k, v)
        return self._create(p)

    @staticmethod
    def _bgr(image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
        return np.ascontiguousarray(image[..., ::-1])

    def init(self, image: np.ndarray, box: Any) -> None:
        """Start tracking the target at ``box`` (1-based ``x, y, w, h``) in ``image`` (RGB uint8)."""
        box = np.asarray(box, dtype=np.float64).reshape(4)
        if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"invalid initial box {box.tolist()}")
        bgr = self._bgr(image)
        self._tracker = self._new()
        ok = self._tracker.init(bgr, box_to_cv_rect(box, bgr.shape))
        if ok is False:  # legacy trackers return a flag; the others return None
            raise RuntimeError(f"OpenCV {self.name} refused to initialise on box {box.tolist()}")
        self._box = box.copy()
        self.failures = 0

    def update(self, image: np.ndarray) -> np.ndarray:
        """Track into ``image``; returns the ``(4,)`` float64 box (1-based), the last one on failure."""
        if self._tracker is None or self._box is None:
            raise RuntimeError("call init() before update()")
        ok, rect = self._tracker.update(self._bgr(image))
        if ok:
            new = cv_rect_to_box(rect)
            if np.all(np.isfinite(new)) and new[2] > 0 and new[3] > 0:
                self._box = new
            else:
                ok = False
        if not ok:
            self.failures += 1
        return self._box.copy()

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"OpenCVTracker({self.kind!r}{extra})"


def _register() -> None:
    """Register the three trackers if :mod:`rankatt_lib.registry` exists."""
    if importlib.util.find_spec("rankatt_lib.registry") is None:
        return
    from rankatt_lib.registry import register

    @register("csrt")
    def _make_csrt(device: Any = None, **kwargs: Any) -> OpenCVTracker:
        """OpenCV's CSRT (discriminative correlation filter with channel and spatial reliability)."""
        return OpenCVTracker("csrt", **kwargs)

    @register("opencv-kcf")
    def _make_kcf(device: Any = None, **kwargs: Any) -> OpenCVTracker:
        """OpenCV's KCF (kernelised correlation filter, gray + colour-names features)."""
        return OpenCVTracker("kcf", **kwargs)

    @register("opencv-mosse")
    def _make_mosse(device: Any = None, **kwargs: Any) -> OpenCVTracker:
        """OpenCV's MOSSE (minimum output sum of squared error filter, grayscale)."""
        return OpenCVTracker("mosse", **kwargs)

    # ``device`` is accepted and ignored (OpenCV's trackers run on the CPU), so that a runner can
    # pass ``device=...`` to every registered tracker alike (``python -m rankatt_lib.evaluation.run --device``).


_register()
