"""The library's deep trackers, registered by name in :mod:`rankatt_lib.registry`.

* ``"crest"``: :class:`~rankatt_lib.trackers.crest.CRESTTracker`, CREST's single-kernel base layer
  on VGG16 conv4_3 (the baseline of the ranking-attention paper).
* ``"rankatt"`` (and its ablations ``"rankatt-noranking"``, ``"rankatt-n1"``, ``"rankatt-noattention"``,
  ``"rankatt-single"``, ``"rankatt-multiply"``, ``"rankatt-untrained"``, ``"rankatt-t4"``):
  :class:`~rankatt_lib.trackers.rankatt.RankingAttentionTracker`, the paper's tracker.

:mod:`rankatt_lib.trackers.base` holds what the deep trackers share (search geometry, the scale
pyramid, peaks, the motion prior, scale selection, the update schedule and the sample buffer).
"""

from __future__ import annotations

from .base import SampleBuffer, SearchGeometry, UpdateSchedule, shared_backbone
from .crest import ConvolutionalDCF, CRESTConfig, CRESTTracker
from .rankatt import RankingAttentionConfig, RankingAttentionTracker

__all__ = [
    "CRESTConfig",
    "CRESTTracker",
    "ConvolutionalDCF",
    "RankingAttentionConfig",
    "RankingAttentionTracker",
    "SampleBuffer",
    "SearchGeometry",
    "UpdateSchedule",
    "shared_backbone",
]
