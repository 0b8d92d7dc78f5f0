"""Tests of the alternative readings of the ranking and the attention (issue #20).

Switches of :class:`rankatt_lib.trackers.rankatt.RankingAttentionConfig`: ``ranking_init``
(``"copies"`` / ``"augmented"`` / ``"first_frames"``), ``augmentations``, ``cell_input``
(``"best"`` / ``"carried"``) and ``init_sigma_factor`` as the attention label's width; and the
library pieces behind them (:meth:`Ranking.append`, ``RankingUpdater.step(c_prev=, append=)``).
The tracker tests use the pretrained VGG16 on 127 px patches, one thread, a few frames.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_crest import textured_sequence
from tracker_helpers import fast

from rankatt_lib.components.attention import normalise_attention, upsample_attention
from rankatt_lib.components.convlstm import RankingUpdater, RankingUpdaterConfig
from rankatt_lib.components.ranking import Ranking
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import upload_frame
from rankatt_lib.trackers.base import shared_backbone
from rankatt_lib.trackers.rankatt import AUGMENTATIONS, RankingAttentionConfig, RankingAttentionTracker

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def backbone() -> VGG16Features:
    return shared_backbone("cpu")


def cosines(kernels: torch.Tensor) -> torch.Tensor:
    """Pairwise cosine similarities (i < j) of ``(N, C, k, k)`` kernels."""
    flat = kernels.reshape(kernels.shape[0], -1).double()
    flat = flat / flat.norm(dim=1, keepdim=True)
    c = flat @ flat.T
    i, j = torch.triu_indices(len(flat), len(flat), 1)
    return c[i, j]


def small_updater(seed: int = 0) -> RankingUpdater:
    return RankingUpdater(RankingUpdaterConfig(channels=8, prenet_hidden=4, rank=None), seed=seed)


# --------------------------------------------------------------------------- library pieces


def test_ranking_append_grows_without_replacing() -> None:
    g = torch.Generator().manual_seed(0)
    k = torch.randn(2, 4, 3, 3, generator=g)
    r = Ranking(k)
    new = torch.randn(1, 4, 3, 3, generator=g)
    r.append(new)
    assert r.n == 3 and torch.equal(r.kernels[:2], k) and torch.equal(r.kernels[2:], new)
    with pytest.raises(ValueError):
        r.append(torch.zeros(1, 4, 5, 5))


def test_updater_step_defaults_and_c_prev() -> None:
    g = torch.Generator().manual_seed(1)
    up = small_updater()
    h0 = torch.randn(1, 8, 3, 3, generator=g)
    xS = torch.rand(1, 8, 9, 9, generator=g)
    other = torch.randn(1, 8, 3, 3, generator=g)
    with torch.no_grad():
        r1 = Ranking(torch.cat([h0, other]))
        h1, info1 = up.step(r1, h0, xS)
        best = info1.rank.best.clone()
        # c_prev = the best kernel is the default, bit for bit
        r2 = Ranking(torch.cat([h0, other]))
        h2, info2 = up.step(r2, h0, xS, c_prev=best)
        assert torch.equal(h1, h2) and torch.equal(info1.c_new, info2.c_new) and torch.equal(r1.kernels, r2.kernels)
        # another cell state goes into the cell: the cell's own output for it, PreNet unchanged
        r3 = Ranking(torch.cat([h0, other]))
        c_prev = torch.randn(1, 8, 3, 3, generator=g)
        h3, info3 = up.step(r3, h0, xS, c_prev=c_prev)
        assert torch.equal(info3.x_pre, info1.x_pre)
        h_ref, c_ref = up.cell(h0, c_prev, info3.x_pre)
        assert torch.equal(h3, h_ref) and torch.equal(info3.c_new, c_ref)
        assert not torch.allclose(info3.c_new, info1.c_new)
        # append: the ranking grows, nothing is replaced
        r4 = Ranking(torch.cat([h0, other]))
        _, info4 = up.step(r4, h0, xS, append=True)
        assert r4.n == 3 and torch.equal(r4.kernels[-1:], info4.c_new)
        ranked = Ranking(torch.cat([h0, other]))
        ranked.rank(xS)
        assert torch.equal(r4.kernels[:2], ranked.kernels)


def test_config_checks_the_new_switches() -> None:
    with pytest.raises(ValueError):
        RankingAttentionConfig(ranking_init="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RankingAttentionConfig(cell_input="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RankingAttentionConfig(augmentations=("rotate",))
    with pytest.raises(ValueError):
        RankingAttentionConfig(ranking_init="augmented", n_kernels=4, augmentations=("flip", "blur"))
    cfg = RankingAttentionConfig()
    assert cfg.ranking_init == "copies" and cfg.cell_input == "best" and cfg.init_sigma_factor == 0.1
    assert cfg.augmentations == AUGMENTATIONS


# --------------------------------------------------------------------------- the tracker


def test_defaults_are_the_old_computation(backbone: VGG16Features) -> None:
    """With the defaults, frames 2-3 are Eq. 1-7 as before the switches: N copies of h0, the updater
    called without ``c_prev``/``append`` on the reference patch (recomputed here by hand)."""
    frames, gt = textured_sequence(n=3)
    tr = fast(backbone)
    tr.init(frames[0], gt[0])
    assert tr.ranking is not None and tr.ranking.n == 3
    assert all(torch.equal(k, tr.h0[0]) for k in tr.ranking.kernels)
    ranking = Ranking.from_kernel(tr.h0, 3)
    h = tr.h0
    for f in frames[1:]:
        tr.update(f)
        assert tr.last is not None and tr.last.xS is not None
        with torch.no_grad():
            h, _ = tr.updater.step(ranking, h, tr.last.xS[tr._ref : tr._ref + 1])
        assert torch.equal(tr.ranking.kernels, ranking.kernels)
        assert torch.equal(tr.h, h)


def test_augmented_init_gives_distinct_kernels(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=2)
    copies = fast(backbone)
    copies.init(frames[0], gt[0])
    assert copies.ranking is not None and float(cosines(copies.ranking.kernels).min()) > 0.999999
    tr = fast(backbone, ranking_init="augmented")
    tr.init(frames[0], gt[0])
    assert tr.ranking is not None and tr.ranking.n == 3
    assert torch.equal(tr.ranking.kernels[:1], tr.h0)  # slot 0 is h0 itself
    assert torch.equal(tr.h0, copies.h0)  # h0 does not depend on the reading
    c = cosines(tr.ranking.kernels)
    assert float(c.max()) < 0.99, c
    # every augmentation yields a kernel, fitted on its own altered patch
    extra = tr._augmented_kernels(upload_frame(frames[0], tr.device)[0], AUGMENTATIONS)
    assert extra.shape == (len(AUGMENTATIONS), *tr.h0.shape[1:]) and torch.isfinite(extra).all()
    assert float(cosines(torch.cat([tr.h0, extra])).max()) < 0.9999
    tr.update(frames[1])  # tracks with them
    assert tr.ranking.n == 3


def test_first_frames_keeps_distinct_slots(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=5)
    copies = fast(backbone)
    copies.init(frames[0], gt[0])
    copies.update(frames[1])
    assert copies.ranking is not None
    k = copies.ranking.kernels
    assert torch.equal(k[0], k[1])  # two untouched copies of h0 remain after frame 2
    tr = fast(backbone, ranking_init="first_frames")
    tr.init(frames[0], gt[0])
    assert tr.ranking is not None and tr.ranking.n == 1
    written = [tr.h0]
    for t, f in enumerate(frames[1:], start=2):
        tr.update(f)
        assert tr.ranking.n == min(t, 3)
        kernels = tr.ranking.kernels
        for i in range(kernels.shape[0]):
            for j in range(i + 1, kernels.shape[0]):
                assert not torch.equal(kernels[i], kernels[j]), (t, i, j)
        if t <= 3:
            written.append(tr.ranking.kernels[-1:].clone())
    # until N kernels exist, h0 and the kernels written on frames 2 and 3 are all kept
    after3 = torch.cat(written)
    assert after3.shape[0] == 3 and float(cosines(after3).max()) < 1.0


def test_carried_cell_state(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=4)
    best = fast(backbone)
    carried = fast(backbone, cell_input="carried")
    for tr in (best, carried):
        tr.init(frames[0], gt[0])
    assert carried.c_prev is not None and torch.equal(carried.c_prev, carried.h0)
    best.update(frames[1])
    carried.update(frames[1])
    # frame 2: the carried state is h0, which is also c(1st): the same step
    assert torch.equal(best.h, carried.h) and torch.equal(best.ranking.kernels, carried.ranking.kernels)
    assert carried.c_prev is not None and torch.equal(carried.c_prev, carried.ranking.kernels[-1:])
    for f in frames[2:]:
        kernels, h, c_prev = carried.ranking.kernels.clone(), carried.h.clone(), carried.c_prev.clone()
        carried.update(f)
        assert carried.last is not None and carried.last.xS is not None
        xs = carried.last.xS[carried._ref : carried._ref + 1]
        with torch.no_grad():
            # the cell got the carried state, not c(1st)
            h_ref, info = carried.updater.step(Ranking(kernels), h, xs, c_prev=c_prev)
            h_best, _ = carried.updater.step(Ranking(kernels.clone()), h, xs)
        assert torch.equal(carried.h, h_ref) and torch.equal(carried.c_prev, info.c_new)
        if not torch.equal(info.rank.best, c_prev):
            assert not torch.equal(h_ref, h_best)


def _coverage(tr: RankingAttentionTracker) -> float:
    assert tr.last is not None and tr.last.attention is not None
    a = normalise_attention(upsample_attention(tr.last.attention, tuple(tr.last.xL.shape[-2:])))
    return float((a > 0.5).float().mean())


def test_attention_label_width_changes_the_coverage(backbone: VGG16Features) -> None:
    frames, gt = textured_sequence(n=1, box=(40.0, 35.0, 40.0, 36.0))
    narrow = fast(backbone)
    wide = fast(backbone, init_sigma_factor=0.5)
    narrow.init(frames[0], gt[0])
    wide.init(frames[0], gt[0])
    cn, cw = _coverage(narrow), _coverage(wide)
    assert cw > 2 * cn, (cn, cw)
    # the part tracker's labels do not depend on it
    assert narrow.parts is not None and wide.parts is not None
    y = narrow.parts.labels((10.0, 10.0), (8.0, 8.0), 31)
    assert torch.equal(y, wide.parts.labels((10.0, 10.0), (8.0, 8.0), 31))


def test_screen_script_cosine_helper() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "data_scripts" / "screen_readings.py"
    spec = importlib.util.spec_from_file_location("screen_readings", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    e = torch.eye(3).reshape(3, 3, 1, 1)
    assert mod._cosine_mean(e) == pytest.approx(0.0)
    assert mod._cosine_mean(torch.ones(2, 3, 1, 1)) == pytest.approx(1.0)
    assert np.isnan(mod._cosine_mean(torch.ones(1, 3, 1, 1)))
    assert set(mod.READINGS) >= {"baseline", "augmented", "first_frames", "carried", "wide"}
    assert mod.READINGS["baseline"] == {}


# --------------------------------------------------------------------------- training sketch


def _tracker_path_losses(
    up: RankingUpdater, h0: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, n: int, init: str, cell_input: str
) -> torch.Tensor:
    """One clip through Ranking + RankingUpdater.step (the tracker's path)."""
    from rankatt_lib.components.attention import ranking_loss

    ranking = Ranking.from_kernel(h0, 1 if init == "first_frames" else n)
    h, c_prev, out = h0, h0, []
    for t in range(1, xs.shape[0]):
        grow = init == "first_frames" and ranking.n < n
        h, info = up.step(ranking, h, xs[t : t + 1], c_prev=c_prev if cell_input == "carried" else None, append=grow)
        c_prev = info.c_new
        out.append(ranking_loss(h, xs[t : t + 1], ys[t]))
    return torch.stack(out)


@pytest.mark.parametrize(
    ("n", "init", "cell_input"),
    [(1, "copies", "best"), (3, "copies", "best"), (3, "first_frames", "best"), (3, "copies", "carried")],
)
def test_unroll_ranked_is_the_trackers_ranking(n: int, init: str, cell_input: str) -> None:
    from rankatt_lib.training import unroll, unroll_ranked

    g = torch.Generator().manual_seed(3)
    up = small_updater(seed=2)
    b, t, c, hw = 2, 5, 8, 9
    h0 = torch.randn(b, c, 3, 3, generator=g) * 0.1
    xs = torch.rand(b, t, c, hw, hw, generator=g)
    ys = torch.rand(b, t, hw, hw, generator=g)
    with torch.no_grad():
        got = unroll_ranked(up, h0, xs, ys, n=n, init=init, cell_input=cell_input)
        for i in range(b):
            ref = _tracker_path_losses(up, h0[i : i + 1], xs[i], ys[i], n, init, cell_input)
            torch.testing.assert_close(got[i], ref, rtol=1e-4, atol=1e-7)
        if n == 1:
            torch.testing.assert_close(got, unroll(up, h0, xs, ys), rtol=1e-5, atol=1e-8)
    loss = unroll_ranked(up, h0, xs, ys, n=n, init=init, cell_input=cell_input).mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in up.parameters() if p.requires_grad)
