"""Cheap trackers shared by the tests of the ranking-attention tracker."""

from __future__ import annotations

from rankatt_lib.features import VGG16Features
from rankatt_lib.trackers.rankatt import RankingAttentionTracker


def fast(backbone: VGG16Features, **overrides: object) -> RankingAttentionTracker:
    """A cheap tracker for internals: 127 px patches, few first-frame steps, the untrained updater."""
    opts: dict[str, object] = {"patch_size": 127, "part_init_max_steps": 10, "updater": "untrained"}
    opts.update(overrides)
    return RankingAttentionTracker(backbone=backbone, **opts)
