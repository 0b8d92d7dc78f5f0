"""The library's deep trackers, registered by name in :mod:`rankatt_lib.registry`.

* ``"crest"``: :class:`~rankatt_lib.trackers.crest.CRESTTracker`, CREST's single-kernel base layer
  on VGG16 conv4_3 (the baseline of the ranking-attention paper).
* ``"rankatt"`` (and its ablations ``"rankatt-noranking"``, ``"rankatt-n1"``, ``"rankatt-noattention"``,
  ``"rankatt-single"``, ``"rankatt-multiply"``, ``"rankatt-untrained"``, ``"rankatt-t4"``,
  ``"rankatt-crestscale"``):
  :class:`~rankatt_lib.trackers.rankatt.RankingAttentionTracker`, the paper's tracker.
* ``"deepdcf"``: :class:`~rankatt_lib.trackers.deepdcf.DeepDCFTracker`, a closed-form multi-channel
  linear correlation filter on VGG16 conv4_3 with CREST's search region and scale search (the
  simple baseline).

:mod:`rankatt_lib.trackers.base` holds what the deep trackers share (search geometry, the scale
pyramid, peaks, the motion prior, scale selection, the update schedule and the sample buffer).
"""

from __future__ import annotations

from rankatt_lib.trackers.base import SampleBuffer, SearchGeometry, UpdateSchedule, shared_backbone
from rankatt_lib.trackers.crest import ConvolutionalDCF, CRESTConfig, CRESTTracker
from rankatt_lib.trackers.deepdcf import DeepDCFConfig, DeepDCFTracker
from rankatt_lib.trackers.rankatt import RankingAttentionConfig, RankingAttentionTracker

__all__ = [
    "CRESTConfig",
    "CRESTTracker",
    "ConvolutionalDCF",
    "DeepDCFConfig",
    "DeepDCFTracker",
    "RankingAttentionConfig",
    "RankingAttentionTracker",
    "SampleBuffer",
    "SearchGeometry",
    "UpdateSchedule",
    "shared_backbone",
]
