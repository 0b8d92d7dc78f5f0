"""Tests of the ranking-attention tracker (rankatt_lib.trackers.rankatt).

All use the pretrained VGG16 (shared, one per module) on the CPU with one thread. The tracking
run (8 frames of 255 px patches) is shared by several tests; the ablation tests use 127 px
patches (conv4_3 15 x 15) and a few frames, since they check internals, not accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_crest import textured_sequence
from tracker_helpers import fast

from rankatt_lib.components.attention import attention_map
from rankatt_lib.components.convlstm import RankingUpdater
from rankatt_lib.configs import make_config
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center
from rankatt_lib.registry import make_tracker
from rankatt_lib.trackers.base import shared_backbone
from rankatt_lib.trackers.rankatt import (
    DEFAULT_CHECKPOINT,
    VARIANTS,
    RankingAttentionConfig,
    RankingAttentionTracker,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def backbone() -> VGG16Features:
    return shared_backbone("cpu")


@pytest.fixture(scope="module")
def tracked(backbone: VGG16Features) -> dict[str, object]:
    """8 frames of a textured target translating by (3, 2) px a frame; the tracker's internals per frame."""
    frames, gt = textured_sequence(n=8)
    tr = RankingAttentionTracker(backbone=backbone, part_init_max_steps=30, updater="untrained")
    tr.init(frames[0], gt[0])
    boxes, lasts = [gt[0]], [tr.last]
    for f in frames[1:]:
        boxes.append(tr.update(f))
        lasts.append(tr.last)
    return {"tracker": tr, "boxes": np.asarray(boxes), "gt": gt, "lasts": lasts}


# --------------------------------------------------------------------------- config


def test_config_defaults_are_the_papers_numbers() -> None:
    cfg = RankingAttentionConfig()
    assert cfg.n_kernels == 3 and cfg.parts.T == 12 and cfg.search.patch_size == 255 and cfg.kernel_size == 11
    assert cfg.lambda1 == 1e-10 and cfg.parts.lambda2 == 1e-7
    assert cfg.parts.grid == 3 and cfg.parts.kernel == 7
    assert cfg.search.search_area_factor == 2.9 and cfg.search.scales == (1.0, 0.95, 1.05)
    assert cfg.attention_variant == "residual" and cfg.use_ranking and cfg.use_attention
    assert not cfg.parts.single_channel and cfg.updater == "auto" and cfg.checkpoint_path == DEFAULT_CHECKPOINT
    parts = cfg.part_config()
    assert parts.T == 12 and parts.lambda2 == 1e-7 and parts.out_channels == 9 and parts.kernel == 7


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        RankingAttentionConfig(n_kernels=0)
    with pytest.raises(ValueError):
        RankingAttentionConfig(kernel_size=10)
    with pytest.raises(ValueError):
        RankingAttentionConfig(attention_variant="add")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RankingAttentionConfig(updater="trained")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RankingAttentionTracker(backbone=shared_backbone("cpu"), not_an_option=1)


# --------------------------------------------------------------------------- tracking


def test_follows_a_translating_target(tracked: dict[str, object]) -> None:
    boxes, gt = tracked["boxes"], tracked["gt"]
    assert isinstance(boxes, np.ndarray) and isinstance(gt, np.ndarray)
    err = np.hypot(*(box_to_center(boxes)[:, :2] - box_to_center(gt)[:, :2]).T)
    assert err[1:].mean() < 3.0, err
    assert err.max() < 6.0, err
    assert np.all(np.isfinite(boxes))


def test_last_ranking_is_consistent(tracked: dict[str, object]) -> None:
    lasts = tracked["lasts"]
    assert isinstance(lasts, list)
    for info in lasts[1:]:
        assert info.scores is not None and info.order is not None
        assert info.scores.shape == (3,) and info.order.shape == (3,)
        s = info.scores
        assert torch.all(s[:-1] >= s[1:]), s  # sorted, best first
        assert sorted(info.order.tolist()) == [0, 1, 2]
        assert info.attention.shape == (3, 1, 31, 31)
        assert info.parts.shape == (3, 9, 63, 63) and info.response.shape == (3, 63, 63)
        assert info.scale in (1.0, 0.95, 1.05) and np.isfinite(info.peak_value)
        assert info.scores.device.type == "cpu"  # device tensors (here, the CPU)
        # the frame's conv4_3 features are kept, and Eq. 8 is h_t correlated with them
        assert info.xS is not None and info.xS.shape == (3, 512, 31, 31)
        torch.testing.assert_close(attention_map(info.kernel, info.xS), info.attention)
    # the ConvLSTM changes the attention kernel from frame to frame
    assert not torch.equal(lasts[1].kernel, lasts[2].kernel)
    tr = tracked["tracker"]
    assert isinstance(tr, RankingAttentionTracker)
    assert tr.updater_source == "untrained" and tr.init_info is not None
    assert tr.update_frames and all(f >= 3 and (f - 1) % 2 == 0 for f in tr.update_frames)


# --------------------------------------------------------------------------- ablations


def test_without_ranking_the_kernel_is_h0(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=3)
    tr = fast(backbone, use_ranking=False)
    tr.init(frames[0], gt[0])
    assert tr.ranking is not None and tr.ranking.n == 1
    for f in frames[1:]:
        tr.update(f)
        assert tr.last is not None and tr.last.kernel is tr.h0
        assert tr.last.scores is not None and tr.last.scores.shape == (1,)


def test_without_attention_xL_is_unchanged(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=2)
    tr = fast(backbone, use_attention=False)
    tr.init(frames[0], gt[0])
    tr.update(frames[1])
    last = tr.last
    assert last is not None and last.attention is None and last.scores is None
    assert last.attended is last.xL
    # with attention (the residual variant) x~L >= xL, strictly somewhere
    on = fast(backbone)
    on.init(frames[0], gt[0])
    on.update(frames[1])
    assert on.last is not None
    assert torch.all(on.last.attended >= on.last.xL) and not torch.equal(on.last.attended, on.last.xL)


def test_single_channel_and_n1(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=2)
    tr = fast(backbone, single_channel=True, n_kernels=1)
    tr.init(frames[0], gt[0])
    tr.update(frames[1])
    assert tr.last is not None and tr.last.parts.shape[1] == 1
    assert tr.last.scores is not None and tr.last.scores.shape == (1,)


def test_bad_box_raises(backbone: VGG16Features) -> None:
    frames, _ = textured_sequence(n=1)
    tr = fast(backbone)
    for box in [(10, 10, 0, 20), (10, 10, 20, float("nan")), (500, 500, 10, 10)]:
        with pytest.raises(ValueError):
            tr.init(frames[0], box)
    with pytest.raises(RuntimeError):
        fast(backbone).update(frames[0])


# --------------------------------------------------------------------------- registry, checkpoint


def test_registered_names(backbone: VGG16Features) -> None:
    tr = make_tracker("rankatt", backbone=backbone)
    assert isinstance(tr, RankingAttentionTracker) and tr.config == RankingAttentionConfig()
    for name, preset in VARIANTS.items():
        t = make_tracker(name, backbone=backbone)
        assert isinstance(t, RankingAttentionTracker)
        assert t.config == make_config(RankingAttentionConfig, None, preset)


def test_updater_source(backbone: VGG16Features, tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "updater.pt"
    RankingUpdater(seed=3).save(path)
    assert RankingAttentionTracker(backbone=backbone, checkpoint=str(path)).updater_source == "checkpoint"
    missing = str(Path(str(tmp_path)) / "missing.pt")
    assert RankingAttentionTracker(backbone=backbone, checkpoint=missing).updater_source == "untrained"
    with pytest.raises(FileNotFoundError):
        RankingAttentionTracker(backbone=backbone, checkpoint=missing, updater="checkpoint")
    default = RankingAttentionTracker(backbone=backbone).updater_source
    assert default == ("checkpoint" if DEFAULT_CHECKPOINT.is_file() else "untrained")


def test_untrained_updater_starts_from_the_checkpoints_config(backbone: VGG16Features, tmp_path: object) -> None:
    """The untrained ablation is the trained updater's starting point: the checkpoint's config
    (e.g. gate biases), fresh weights; without a checkpoint, the default config."""
    from pathlib import Path

    from rankatt_lib.components.convlstm import RankingUpdaterConfig

    path = Path(str(tmp_path)) / "updater.pt"
    trained = RankingUpdater(RankingUpdaterConfig(forget_bias=6.0, output_bias=6.0), seed=3)
    trained.save(path)
    tr = RankingAttentionTracker(backbone=backbone, checkpoint=str(path), updater="untrained")
    assert tr.updater_source == "untrained"
    assert tr.updater.config == trained.config and tr.updater.config.forget_bias == 6.0
    fresh = RankingUpdater(trained.config, seed=tr.config.updater_seed)
    for (name, a), (_, b) in zip(tr.updater.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a.cpu(), b), name
    missing = str(Path(str(tmp_path)) / "missing.pt")
    tr = RankingAttentionTracker(backbone=backbone, checkpoint=missing, updater="untrained")
    assert tr.updater.config == RankingUpdaterConfig()


def test_shipped_updater_keeps_every_kernel_at_h0s_norm(backbone: VGG16Features) -> None:
    """The defect ``cell_norm`` fixes: the newest kernel's norm grew every frame (x388 in 28 frames)."""
    frames, gt = textured_sequence(n=7)
    tr = RankingAttentionTracker(backbone=backbone, part_init_max_steps=10, updater="checkpoint")
    assert tr.updater.config.cell_norm == "input"
    tr.init(frames[0], gt[0])
    assert tr.h0 is not None and tr.ranking is not None
    n0 = float(tr.h0.norm())
    for f in frames[1:]:
        tr.update(f)
        norms = tr.ranking.kernels.flatten(1).norm(dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, n0), rtol=1e-4, atol=0)
        assert float(tr.h.abs().max()) <= n0
