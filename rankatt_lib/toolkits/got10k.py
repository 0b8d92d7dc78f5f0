"""Run any registered tracker inside another toolkit's experiment code.

got10k (``pip install got10k``): :func:`got10k_tracker` gives a ``got10k.trackers.Tracker``, so
got10k's experiment classes run ours::

    from got10k.experiments import ExperimentOTB
    from rankatt_lib.toolkits.got10k import got10k_tracker

    ExperimentOTB("data/OTB", version=2015).run(got10k_tracker("kcf"))

got10k is imported only when an adapter is built, so the library works without it.

What the adapter does the same way as this project's runner (:mod:`rankatt_lib.evaluation.run`), so that its
boxes equal ``rankatt run``'s on the same sequence:

* a **fresh tracker** (``make_tracker(name, **options)``) for every ``init``, i.e. every sequence;
* frames read in ``track()`` with the project's reader (:func:`rankatt_lib.data.otb.read_image`:
  OpenCV's decoder, damaged files refused with the file's name). got10k's own ``Tracker.track``
  decodes with PIL, whose JPEG decoder can differ from OpenCV's by a grey level on some pixels;
  ``init``/``update`` called directly still accept PIL images (converted to RGB ``uint8`` arrays);
* boxes are passed through unchanged: got10k's OTB boxes are the ground-truth file's 1-based
  ``x, y, w, h``, the convention the trackers here use;
* the seconds of each ``init``/``update`` call (not the image loading) are returned as
  got10k's ``times``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rankatt_lib.registry import get_factory, make_tracker

__all__ = ["got10k_tracker", "as_rgb_array"]


def as_rgb_array(image: Any) -> np.ndarray:
    """A PIL image or an array as an RGB ``uint8`` array ``(H, W, 3)``; a clear error otherwise."""
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image
        image = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got an array of shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


_CLASS: type | None = None


def _got10k_class() -> type:
    """The adapter class, built on first use (got10k imported here, not at module import)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    try:
        from got10k.trackers import Tracker as Got10kTracker
    except ImportError as exc:
        raise ImportError(
            "the got10k adapter needs the got10k toolkit: pip install got10k (tested with 0.1.3)"
        ) from exc

    from rankatt_lib.data.otb import read_image

    class RankattGot10kTracker(Got10kTracker):
        """A registered tracker as a ``got10k.trackers.Tracker`` (see :mod:`rankatt_lib.toolkits.got10k`)."""

        def __init__(
            self, tracker: str, name: str | None = None, is_deterministic: bool = False, **options: Any
        ) -> None:
            get_factory(tracker)  # an unknown name fails here, with the registered names
            super().__init__(name=name or tracker, is_deterministic=is_deterministic)
            self.tracker_name = tracker
            self.options = dict(options)
            self._tracker: Any = None

        def init(self, image: Any, box: Any) -> None:
            box = np.asarray(box, dtype=np.float64).reshape(-1)
            if box.shape != (4,):
                raise ValueError(f"init box must be x, y, w, h; got {box.shape[0]} values")
            self._tracker = make_tracker(self.tracker_name, **self.options)
            self._tracker.init(as_rgb_array(image), box.copy())

        def update(self, image: Any) -> np.ndarray:
            if self._tracker is None:
                raise RuntimeError(f"{self.name}: update() before init()")
            box = np.asarray(self._tracker.update(as_rgb_array(image)), dtype=np.float64).reshape(-1)
            if box.shape != (4,):
                raise ValueError(f"tracker {self.tracker_name} returned {box.shape[0]} values, expected 4")
            return box

        def track(self, img_files: Any, box: Any, visualize: bool = False) -> tuple[np.ndarray, np.ndarray]:
            """got10k's tracking loop, frames read by the project's reader (OpenCV decoder)."""
            n = len(img_files)
            boxes = np.zeros((n, 4))
            boxes[0] = np.asarray(box, dtype=np.float64).reshape(4)
            times = np.zeros(n)
            for f, img_file in enumerate(img_files):
                image = read_image(img_file)
                t0 = time.perf_counter()
                if f == 0:
                    self.init(image, boxes[0])
                else:
                    boxes[f] = self.update(image)
                times[f] = time.perf_counter() - t0
                if visualize:
                    from got10k.utils.viz import show_frame
                    from PIL import Image

                    show_frame(Image.fromarray(image), boxes[f])
            return boxes, times

    _CLASS = RankattGot10kTracker
    return _CLASS


def got10k_tracker(tracker: str, name: str | None = None, is_deterministic: bool = False, **options: Any) -> Any:
    """A ``got10k.trackers.Tracker`` running the registered tracker ``tracker``.

    Args:
        tracker: a registered name (``rankatt trackers`` lists them), e.g. ``"kcf"``.
        name: the name got10k files the results under (default: ``tracker``).
        is_deterministic: got10k's flag (its VOT experiment repeats non-deterministic trackers).
        options: keyword arguments for the tracker's factory (e.g. ``device="cuda"``).

    Raises:
        ImportError: got10k is not installed (the message says how to install it).
        KeyError: ``tracker`` is not registered.
    """
    return _got10k_class()(tracker, name=name, is_deterministic=is_deterministic, **options)
