"""The library's deep trackers, registered by name in :mod:`rankatt_lib.registry`.

* ``"crest"``: :class:`~rankatt_lib.trackers.crest.CRESTTracker`, CREST's single-kernel base layer
  on VGG16 conv4_3 (the baseline of the ranking-attention paper).

:mod:`rankatt_lib.trackers.base` holds what the deep trackers share (search geometry, the scale
pyramid, peaks, the motion prior, scale selection, the update schedule and the sample buffer).
"""

from __future__ import annotations

from .base import SampleBuffer, SearchGeometry, UpdateSchedule, shared_backbone
from .crest import ConvolutionalDCF, CRESTConfig, CRESTTracker

__all__ = [
    "CRESTConfig",
    "CRESTTracker",
    "ConvolutionalDCF",
    "SampleBuffer",
    "SearchGeometry",
    "UpdateSchedule",
    "shared_backbone",
]
