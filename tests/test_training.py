"""Tests of rankatt_lib.components.init_kernel (h0 by Eq. 9), rankatt_lib.training and
rankatt_lib.training.cli (``rankatt train``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from rankatt_lib.components.attention import attention_map, ranking_loss
from rankatt_lib.components.convlstm import RankingUpdater, RankingUpdaterConfig
from rankatt_lib.components.init_kernel import correlate, correlate_transpose, init_kernel, label_sigma, target_label
from rankatt_lib.data import OTBFormatDataset
from rankatt_lib.features import VGG16Features
from rankatt_lib.training import (
    ClipConfig,
    PreparedClips,
    TrainConfig,
    cache_clip_features,
    clip_geometry,
    eq9_loss,
    evaluate,
    load_clip,
    prepare_clips,
    select_clips,
    split_by_sequence,
    train,
    unroll,
    unroll_with_step,
)

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "rankatt_lib" / "checkpoints" / "ranking_synthetic.pt"
C, K, HW = 16, 5, 13  # tiny channels, 5 x 5 kernels, 13 x 13 maps
SMALL = {"channels": C, "prenet_hidden": 4, "rank": 8}


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Small tensors: intra-op threads only add overhead on a busy shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# =========================================================================== correlation operator


def test_correlate_matches_attention_map_and_its_adjoint():
    x = torch.rand(3, C, HW, HW, generator=gen(0), dtype=torch.float64)
    h = torch.randn(3, C, K, K, generator=gen(1), dtype=torch.float64)
    torch.testing.assert_close(correlate(h, x), attention_map(h, x), rtol=0, atol=1e-10)
    # one shared kernel
    torch.testing.assert_close(correlate(h[:1], x), attention_map(h[:1], x), rtol=0, atol=1e-10)
    # <A h, r> = <h, A^T r>
    r = torch.randn(3, HW, HW, generator=gen(2), dtype=torch.float64)
    lhs = (correlate(h, x)[:, 0] * r).sum()
    rhs = (h * correlate_transpose(r, x, K)).sum()
    assert float(lhs) == pytest.approx(float(rhs), rel=1e-12)


def test_eq9_loss_matches_ranking_loss():
    x = torch.rand(2, C, HW, HW, generator=gen(3), dtype=torch.float64)
    h = torch.randn(2, C, K, K, generator=gen(4), dtype=torch.float64)
    y = torch.rand(2, HW, HW, generator=gen(5), dtype=torch.float64)
    torch.testing.assert_close(eq9_loss(h, x, y, 1e-3), ranking_loss(h, x, y, 1e-3, reduction="none"))


# =========================================================================== init_kernel


def planted(seed: int, pattern: torch.Tensor, at: tuple[int, int]) -> torch.Tensor:
    """(1, C, 31, 31) weak noise with a strong 5 x 5 pattern centred on (row, col) = ``at``."""
    x = 0.1 * torch.rand(1, pattern.shape[0], 31, 31, generator=gen(seed))
    r, c = at
    x[0, :, r - 2 : r + 3, c - 2 : c + 3] += pattern
    return x


def test_init_kernel_fits_eq9_and_peaks_on_a_planted_pattern():
    pattern = torch.rand(32, 5, 5, generator=gen(10)) + 0.5
    x = planted(11, pattern, (20, 12))
    y = target_label(31, (12, 20), (10, 10), 0.1, device="cpu")  # x = col 12, y = row 20; sigma 1
    assert float(y[20, 12]) == 1.0
    h0 = init_kernel(x, y, k=11)
    assert h0.shape == (1, 32, 11, 11) and not h0.requires_grad
    loss0 = float(ranking_loss(torch.zeros_like(h0), x, y))
    loss = float(ranking_loss(h0, x, y))
    assert loss0 == pytest.approx(float(y.square().mean()))
    assert loss < 0.05 * loss0
    m = attention_map(h0, x)[0, 0]
    assert divmod(int(m.argmax()), 31) == (20, 12)
    assert float(m.max()) == pytest.approx(1.0, abs=0.05)
    # the same pattern elsewhere, in new noise: the kernel finds it there
    x2 = planted(12, pattern, (8, 22))
    m2 = attention_map(h0, x2)[0, 0]
    assert divmod(int(m2.argmax()), 31) == (8, 22)
    assert float(m2.max()) > 0.5


def test_init_kernel_is_scale_equivariant_and_converges_with_iterations():
    pattern = torch.rand(32, 5, 5, generator=gen(13)) + 0.5
    x = planted(14, pattern, (15, 15))
    y = target_label(31, (15, 15), (11, 11), device="cpu")
    x64, y64 = x.double(), y.double()
    h = init_kernel(x64, y64, iters=20)
    assert h.dtype == torch.float64
    # CG in float64 amplifies rounding a little (the result depends on the thread count's
    # summation order): equal to 1e-6 of the kernel's largest entry
    torch.testing.assert_close(
        init_kernel(100.0 * x64, y64, iters=20), h / 100.0, rtol=0, atol=1e-6 * float(h.abs().max()) / 100.0
    )
    # float32: rounding makes CG lose some conjugacy, but both fits are within 2% of the label's energy
    zero = float(y.square().mean())
    assert float(ranking_loss(h, x64, y64)) < 0.02 * zero
    assert float(ranking_loss(init_kernel(x, y, iters=20), x, y)) < 0.02 * zero
    losses = [float(ranking_loss(init_kernel(x, y, iters=n), x, y)) for n in (1, 5, 20)]
    assert losses[0] > losses[1] > losses[2]
    # Adam also reduces Eq. 9, more slowly per step
    ha = init_kernel(x, y, method="adam", iters=50)
    assert float(ranking_loss(ha, x, y)) < 0.5 * float(y.square().mean())
    with pytest.raises(ValueError, match="yS must be"):
        init_kernel(x, y[:30], k=11)
    with pytest.raises(ValueError, match="method"):
        init_kernel(x, y, method="lbfgs")  # type: ignore[arg-type]


def test_target_label_sigma_is_a_fraction_of_the_target_in_cells():
    assert label_sigma((11.0, 5.0)) == pytest.approx((0.5, 1.1))
    assert label_sigma((1.0, 1.0), min_sigma=0.25) == (0.25, 0.25)
    y = target_label((31, 31), (15.4375, 15.4375), (11, 11), device="cpu")
    assert y.shape == (31, 31)
    assert divmod(int(y.argmax()), 31) == (15, 15)
    assert float(y.max()) < 1.0  # the centre is between cells


# =========================================================================== clips


def write_dataset(root: Path, names: dict[str, list[tuple[float, float, float, float]]]) -> Path:
    """Tiny OTB-format sequences: 64 x 48 noise frames and the given ground-truth rows."""
    rng = np.random.default_rng(0)
    for name, rows in names.items():
        img = root / name / "img"
        img.mkdir(parents=True)
        for i in range(len(rows)):
            cv2.imwrite(str(img / f"{i + 1:04d}.png"), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
        (root / name / "groundtruth_rect.txt").write_text("\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    return root


def test_select_clips_skips_invalid_ground_truth(tmp_path):
    rows = [(10.0 + i, 10.0, 16.0, 12.0) for i in range(10)]
    rows[4] = (0.0, 0.0, 0.0, 0.0)  # target out of view
    ds = OTBFormatDataset(write_dataset(tmp_path / "d", {"a": rows}))
    cfg = ClipConfig(length=3, frame_step=1, clips_per_sequence=10)
    clips = select_clips(ds, cfg)
    starts = [c.frames[0] for c in clips]
    assert starts == [0, 1, 5, 6, 7]  # no window touches frame 4
    assert all(c.frames == tuple(range(s, s + 3)) for c, s in zip(clips, starts, strict=True))
    spaced = select_clips(ds, ClipConfig(length=3, frame_step=2, clips_per_sequence=2))
    # step 2: the windows avoiding frame 4 start at 1, 3, 5; two of them, evenly spaced
    assert [c.frames for c in spaced] == [(1, 3, 5), (5, 7, 9)]
    assert spaced[1].clip_id.endswith("a/00005_T3_s2")


def test_clip_geometry_follows_the_previous_ground_truth():
    gt = np.array([[11.0, 21.0, 20.0, 20.0], [19.0, 21.0, 20.0, 20.0], [19.0, 21.0, 40.0, 40.0]])
    g = clip_geometry(gt, ClipConfig(length=3))
    # centres: frame 0's own, then the previous frame's (cx = x + (w - 1) / 2)
    np.testing.assert_allclose(g["centres"], [[20.5, 30.5], [20.5, 30.5], [28.5, 30.5]])
    np.testing.assert_allclose(g["sides"], [58.0, 58.0, 58.0])  # 2.9 x sqrt(20 x 20) of the previous box
    c0 = (127.0 - 3.5) / 8  # the patch centre in conv4_3 cells
    ppc = 8 * 58.0 / 255  # image pixels per cell
    np.testing.assert_allclose(g["target_xy"][0], [c0, c0])
    np.testing.assert_allclose(g["target_xy"][1], [c0 + 8 / ppc, c0])  # moved 8 px right
    np.testing.assert_allclose(g["target_wh"][0], [20 / ppc, 20 / ppc])
    assert g["target_wh"][0][0] == pytest.approx(255 / 2.9 / 8)  # ~11 cells
    np.testing.assert_allclose(g["target_wh"][2], [40 / ppc, 40 / ppc])


def test_cache_clip_features_writes_once_and_resumes(tmp_path):
    rows = [(20.0 + i, 14.0, 16.0, 12.0) for i in range(5)]
    ds = OTBFormatDataset(write_dataset(tmp_path / "d", {"a": rows, "b": rows}))
    cfg = ClipConfig(length=3, frame_step=1, clips_per_sequence=1, patch_size=64)
    clips = select_clips(ds, cfg)
    net = VGG16Features(weights="random", layers=("conv4_3",), device="cpu")
    paths = cache_clip_features(net, clips, cfg, tmp_path / "cache", progress=False)
    assert len(paths) == 2 and all(p.is_file() for p in paths)
    clip = load_clip(paths[0])
    assert clip.xS.shape == (3, 512, 8, 8) and clip.xS.dtype == torch.float16
    assert clip.sequence.endswith("/a") and clip.target_xy.shape == (3, 2)
    # the features are the backbone's on the crop around the previous box
    mtimes = [p.stat().st_mtime_ns for p in paths]
    paths[1].unlink()
    calls: list[tuple[int, int]] = []
    again = cache_clip_features(
        net, clips, cfg, tmp_path / "cache", progress=False, on_clip=lambda d, t: calls.append((d, t))
    )
    assert again == paths and paths[1].is_file()
    assert paths[0].stat().st_mtime_ns == mtimes[0]  # not recomputed
    assert calls == [(2, 2)]  # only the missing clip


def test_split_by_sequence_never_shares_a_sequence():
    from rankatt_lib.training import ClipFeatures

    clips = [
        ClipFeatures(f"d/s{i}/{j}", f"d/s{i}", torch.zeros(2, 1, 1, 1), torch.zeros(2, 2), torch.ones(2, 2))
        for i in range(10)
        for j in range(3)
    ]
    tr, va = split_by_sequence(clips, 0.2, seed=0)
    assert len(va) == 6 and len(tr) == 24
    assert not ({c.sequence for c in tr} & {c.sequence for c in va})
    assert split_by_sequence(clips, 0.2, seed=0)[1] == va  # deterministic


# =========================================================================== the unrolled model and training


def random_clips(m: int, t: int, seed: int) -> PreparedClips:
    """Clips of random features whose labels peak where a planted pattern is (so there is something to learn)."""
    g = gen(seed)
    pattern = torch.rand(C, 3, 3, generator=g) + 0.5
    xs = 0.2 * torch.rand(m, t, C, HW, HW, generator=g)
    ys = torch.zeros(m, t, HW, HW)
    h0 = []
    for i in range(m):
        for j in range(t):
            r, c = (int(v) for v in torch.randint(3, HW - 3, (2,), generator=g))
            xs[i, j, :, r - 1 : r + 2, c - 1 : c + 2] += pattern * (1 + 0.3 * j)
            ys[i, j] = target_label(HW, (c, r), (10, 10), device="cpu")
        h0.append(init_kernel(xs[i, :1], ys[i, 0], K, iters=10))
    return PreparedClips(ids=[f"c{i}" for i in range(m)], xS=xs.half(), yS=ys, h0=torch.cat(h0))


def test_unroll_equals_the_tracker_step_with_n_1():
    clips = random_clips(2, 4, seed=20)
    model = RankingUpdater(RankingUpdaterConfig(**SMALL), seed=3, device="cpu").double()
    h0, xs, ys = clips.batch([0, 1], "cpu")
    h0, xs, ys = h0.double(), xs.double(), ys.double()
    batched = unroll(model, h0, xs, ys)
    assert batched.shape == (2, 3)
    for b in range(2):
        torch.testing.assert_close(batched[b], unroll_with_step(model, h0[b : b + 1], xs[b], ys[b]))
    fixed = unroll(None, h0, xs, ys)  # h_t = h0
    torch.testing.assert_close(fixed[0, 1], ranking_loss(h0[:1], xs[0, 2:3], ys[0, 2]))


def test_training_decreases_the_loss_and_resumes_exactly(tmp_path):
    tr, va = random_clips(2, 3, seed=30), random_clips(1, 3, seed=31)
    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=1, seed=0, updater=SMALL)
    state = tmp_path / "state.pt"
    lines: list[str] = []
    res = train(tr, va, cfg, state_path=state, progress=False, log=lines.append)
    assert [e["epoch"] for e in res.history] == [1, 2]
    base = res.baselines["train"]
    assert res.history[-1]["train_loss"] < base["untrained"]["loss"]
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"] < base["untrained"]["loss"]
    assert base["zero"]["rel"] == 1.0 and base["fixed"]["rel"] < 1.0
    assert res.loss_scale == pytest.approx(1.0 / float(tr.yS[:, 1:].double().square().mean()))
    assert any(s.startswith("baselines train") for s in lines)
    # the best model is the one whose validation loss is lowest
    best = min(res.history, key=lambda e: e["val_loss"])
    assert res.best_epoch == best["epoch"]
    assert evaluate(res.model, va)["loss"] == pytest.approx(best["val_loss"], rel=1e-5)

    st = torch.load(state, map_location="cpu", weights_only=False)
    assert st["epoch"] == 2 and len(st["history"]) == 2
    assert all(int(s["step"]) == 4 for s in st["optimizer"]["state"].values())  # 2 epochs x 2 batches

    # resume to 3 epochs == an uninterrupted 3-epoch run (same optimizer state, same batch order)
    cfg3 = TrainConfig(**{**cfg.__dict__, "epochs": 3})
    resumed = train(tr, va, cfg3, state_path=state, resume=True, progress=False, log=lines.append)
    assert any(s.startswith("resumed") and s.endswith("at epoch 2") for s in lines)
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3]
    assert resumed.history[:2] == res.history
    fresh = train(tr, va, cfg3, state_path=tmp_path / "fresh.pt", progress=False)
    s_res = torch.load(state, weights_only=False)["model"]
    s_new = torch.load(tmp_path / "fresh.pt", weights_only=False)["model"]
    for k in s_new:
        torch.testing.assert_close(s_res[k], s_new[k], rtol=0, atol=0)
    assert resumed.history[2]["train_loss"] == fresh.history[2]["train_loss"]

    # a changed config cannot resume that state
    with pytest.raises(ValueError, match="config differs"):
        train(tr, va, TrainConfig(**{**cfg3.__dict__, "lr": 1e-2}), state_path=state, resume=True, progress=False)


def test_reversed_clips_play_backwards_from_the_last_frame_kernel():
    clips = random_clips(2, 3, seed=60)
    clips.h0_reversed = -clips.h0  # a marker
    h0, xs, ys = clips.batch([3, 0], "cpu")  # clip 1 backwards, clip 0 forwards
    torch.testing.assert_close(h0[0], -clips.h0[1])
    torch.testing.assert_close(xs[0], clips.xS[1].float().flip(0))
    torch.testing.assert_close(ys[0], clips.yS[1].flip(0))
    torch.testing.assert_close(xs[1], clips.xS[0].float())
    with pytest.raises(ValueError, match="h0_reversed"):
        random_clips(1, 2, seed=61).batch([1], "cpu")
    cfg = TrainConfig(epochs=1, lr=3e-3, batch_size=2, reverse_augment=True, lr_schedule="cosine", updater=SMALL)
    res = train(clips, None, cfg, progress=False)
    assert res.history[0]["lr"] == pytest.approx(3e-3)  # the one step of a 1-step cosine schedule starts at lr
    assert math.isfinite(res.history[0]["train_loss"])


def test_prepare_clips_builds_labels_and_h0():
    from rankatt_lib.training import ClipFeatures

    g = gen(40)
    feats = [
        ClipFeatures(
            f"c{i}",
            "d/s",
            (torch.rand(3, C, HW, HW, generator=g)).half(),
            torch.tensor([[6.0, 6.0], [7.0, 6.0], [8.0, 5.0]]),
            torch.full((3, 2), 5.0),
        )
        for i in range(2)
    ]
    prep = prepare_clips(feats, kernel_size=K, init_iters=10)
    assert prep.xS.shape == (2, 3, C, HW, HW) and prep.yS.shape == (2, 3, HW, HW) and prep.h0.shape == (2, C, K, K)
    assert divmod(int(prep.yS[0, 2].argmax()), HW) == (5, 8)
    assert float(prep.yS[0, 1].max()) == 1.0
    x0 = prep.xS[0, :1].float()
    assert float(ranking_loss(prep.h0[:1], x0, prep.yS[0, 0])) < 0.05 * float(prep.yS[0, 0].square().mean())


# =========================================================================== shipped checkpoint and CLI


def test_shipped_checkpoint_loads_and_is_small():
    if not CHECKPOINT.is_file():
        pytest.skip("the shipped checkpoint has not been trained yet")
    assert CHECKPOINT.stat().st_size < 5e6
    model = RankingUpdater.load(CHECKPOINT, device="cpu")
    assert model.parameter_counts()["total"] > 1_000_000
    record = json.loads(CHECKPOINT.with_suffix(".json").read_text())
    import hashlib

    assert record["checkpoint_sha256"] == hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest()
    assert record["split"]["test_split_used"] is False
    val = record["results"]["val"]
    assert val["trained"]["loss"] < val["untrained"]["loss"]
    assert val["trained"]["loss"] < val["fixed"]["loss"]  # the shipped run beats keeping h0 fixed
    # one update step on random features gives a finite kernel of the right shape
    from rankatt_lib.components.ranking import Ranking

    h0 = 1e-3 * torch.randn(1, 512, 11, 11, generator=gen(50))
    x = torch.rand(1, 512, 31, 31, generator=gen(51))
    with torch.no_grad():
        h1, _ = model.step(Ranking.from_kernel(h0, n=3), h0, x)
    assert h1.shape == (1, 512, 11, 11) and bool(torch.isfinite(h1).all())


def _cli():
    from rankatt_lib.training import cli

    return cli


def test_cli_rejects_a_missing_data_dir(tmp_path, capsys):
    cli = _cli()
    with pytest.raises(SystemExit) as exc:
        cli.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.pt"), "--epochs", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "nowhere: no such folder" in err and "OTB-format" in err


def test_cli_refuses_to_overwrite_a_run_without_resume(tmp_path, capsys):
    cli = _cli()
    data = write_dataset(tmp_path / "d", {"a": [(20.0, 14.0, 16.0, 12.0)] * 3})
    state = tmp_path / "run" / "state.pt"
    state.parent.mkdir()
    state.write_bytes(b"x")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--data", str(data), "--out", str(tmp_path / "m.pt"), "--state", str(state)])
    assert exc.value.code == 2
    assert "--resume" in capsys.readouterr().err
