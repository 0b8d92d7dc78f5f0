"""The synthetic OTB-format benchmark: deterministic, disjoint, tagged, textured, boxes on target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from rankatt_lib.data.synthetic import (
    ATTRIBUTES,
    GENERATOR_VERSION,
    SequenceSpec,
    make_synthetic_benchmark,
    plan_benchmark,
    render_sequence,
)

REPO = Path(__file__).resolve().parents[1]
W, H = 320, 240
SMALL = {"n_test": 3, "n_train": 2, "length_range": (12, 16), "progress": False}


def _read_gt(seq: Path) -> np.ndarray:
    return np.loadtxt(seq / "groundtruth_rect.txt", delimiter=",", ndmin=2)


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("syn") / "a"
    make_synthetic_benchmark(root, seed=0, **SMALL)
    return root


# --- plan: counts, lengths, names, coverage (cheap, nothing rendered) ----------------------------


def test_default_plan_counts_and_lengths():
    specs = plan_benchmark(0)
    test = [s for s in specs if s.split == "test"]
    train = [s for s in specs if s.split == "train"]
    assert len(test) >= 20 and len(train) >= 40
    assert all(60 <= s.n_frames <= 150 for s in specs)
    names = [s.name for s in specs]
    assert len(set(names)) == len(names)
    assert not {s.name for s in test} & {s.name for s in train}
    assert all("otb" not in s.name.lower() for s in specs)
    assert all(2 <= len(s.attributes) <= 4 for s in specs)
    assert all(set(s.attributes) <= set(ATTRIBUTES) for s in specs)


@pytest.mark.parametrize("split", ["test", "train"])
def test_every_attribute_is_designed_into_the_split(split):
    specs = plan_benchmark(0, split)
    for a in ATTRIBUTES:
        assert sum(a in s.attributes for s in specs) >= (3 if split == "test" else 4), a


def test_plan_depends_on_the_seed_only():
    assert plan_benchmark(3) == plan_benchmark(3)
    assert [s.n_frames for s in plan_benchmark(3)] != [s.n_frames for s in plan_benchmark(4)]
    with pytest.raises(ValueError, match="split"):
        plan_benchmark(0, "validation")


# --- files on disk ----------------------------------------------------------------------------------


def test_layout_and_metadata(small):
    meta = json.loads((small / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["generator_version"] == GENERATOR_VERSION
    assert "0,0,0,0" in (small / "README.txt").read_text()
    for split, count in (("test", 3), ("train", 2)):
        seqs = sorted(p for p in (small / split).iterdir())
        assert [p.name for p in seqs] == [f"syn_{split}_{i:03d}" for i in range(count)]
        assert [m["name"] for m in meta["splits"][split]] == [p.name for p in seqs]
        for seq, m in zip(seqs, meta["splits"][split], strict=True):
            frames = sorted((seq / "img").glob("*.jpg"))
            gt = _read_gt(seq)
            assert gt.shape == (len(frames), 4) and 12 <= len(frames) <= 16
            assert [f.name for f in frames] == [f"{i:04d}.jpg" for i in range(1, len(frames) + 1)]
            attrs = (seq / "attributes.txt").read_text().strip().split(",")
            assert attrs == m["attributes"] and set(attrs) <= set(ATTRIBUTES)
            assert _read_rgb(frames[0]).shape == (H, W, 3)
            # integer 1-based boxes inside the image; frame 1 always valid
            assert np.all(gt == np.round(gt))
            assert np.all(gt[0, 2:] > 0)
            valid = np.all(gt > 0, axis=1)
            assert np.all(gt[~valid] == 0)
            g = gt[valid]
            assert np.all(g[:, :2] >= 1) and np.all(g[:, 0] + g[:, 2] - 1 <= W)
            assert np.all(g[:, 1] + g[:, 3] - 1 <= H)
            assert np.all(g[:, 2:] >= 3)
    assert not list(small.rglob(".*.tmp"))  # no leftovers of the atomic write


def test_same_seed_same_benchmark_other_seed_differs(small, tmp_path):
    again = tmp_path / "b"
    make_synthetic_benchmark(again, seed=0, **SMALL)
    other = tmp_path / "c"
    make_synthetic_benchmark(other, seed=1, **SMALL)
    for seq in sorted((small / "test").iterdir()) + sorted((small / "train").iterdir()):
        rel = seq.relative_to(small)
        assert (seq / "groundtruth_rect.txt").read_bytes() == (again / rel / "groundtruth_rect.txt").read_bytes()
        assert (seq / "attributes.txt").read_bytes() == (again / rel / "attributes.txt").read_bytes()
        np.testing.assert_array_equal(_read_rgb(seq / "img" / "0001.jpg"), _read_rgb(again / rel / "img" / "0001.jpg"))
        assert (seq / "img" / "0005.jpg").read_bytes() == (again / rel / "img" / "0005.jpg").read_bytes()
        assert (seq / "groundtruth_rect.txt").read_bytes() != (other / rel / "groundtruth_rect.txt").read_bytes()
        assert not np.array_equal(_read_rgb(seq / "img" / "0001.jpg"), _read_rgb(other / rel / "img" / "0001.jpg"))


def test_splits_are_disjoint(small):
    firsts = {p.parent.parent.name: _read_rgb(p).astype(float) for p in small.glob("*/*/img/0001.jpg")}
    test = [k for k in firsts if k.startswith("syn_test")]
    train = [k for k in firsts if k.startswith("syn_train")]
    for a in test:
        for b in train:
            assert np.abs(firsts[a] - firsts[b]).mean() > 10, (a, b)


def test_frames_are_natural_textures(small):
    for path in sorted(small.glob("*/*/img/*.jpg"))[::5]:
        img = _read_rgb(path).astype(np.float32)
        gray = img.mean(axis=2)
        assert 20 < gray.mean() < 235, path  # neither black nor blown out
        assert gray.std() > 8, path  # not flat
        gx, gy = np.diff(gray, axis=1), np.diff(gray, axis=0)
        assert np.mean(np.abs(gx)) + np.mean(np.abs(gy)) > 3, path  # local texture everywhere
        blocks = gray[: 240 // 40 * 40, :].reshape(6, 40, 8, 40).std(axis=(1, 3))
        assert np.mean(blocks > 2) > 0.9, path  # texture in (almost) every 40x40 block
        assert np.abs(img[..., 0] - img[..., 2]).mean() > 2, path  # colour, not gray


def test_progress_and_split_selection(tmp_path):
    meta = make_synthetic_benchmark(tmp_path, seed=5, split="test", n_test=1, length_range=(5, 5), progress=False)
    assert list(meta["splits"]) == ["test"] and not (tmp_path / "train").exists()
    meta = make_synthetic_benchmark(tmp_path, seed=5, split="train", n_train=1, length_range=(5, 5), progress=False)
    assert sorted(meta["splits"]) == ["test", "train"]  # the earlier split's metadata is kept
    (tmp_path / "test" / "syn_test_007" / "img").mkdir(parents=True)  # left by a larger generation
    (tmp_path / "test" / "mine").mkdir()  # not ours: left alone
    make_synthetic_benchmark(tmp_path, seed=5, split="test", n_test=1, length_range=(5, 5), progress=False)
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == ["mine", "syn_test_000"]


# --- rendered in memory: the box really holds the target ------------------------------------------


@pytest.mark.parametrize("attrs", [("SV", "IPR"), ("DEF", "OPR"), ("BC", "LR"), ("OCC", "IV")])
def test_box_is_the_tight_box_of_the_target(attrs):
    spec = SequenceSpec("t", "test", 900 + len(attrs[0]), 0, attrs, 40)
    seq = render_sequence(spec, with_masks=True)
    bare = render_sequence(spec, draw_target=False)
    np.testing.assert_array_equal(seq.gt, bare.gt)
    for t, (img, img0, box, mask) in enumerate(zip(seq.frames, bare.frames, seq.gt, seq.masks, strict=True)):
        x, y, w, h = box.astype(int)
        ys, xs = np.nonzero(mask)
        # the mask's bounding box is the ground truth (1-based)
        assert (xs.min() + 1, ys.min() + 1, xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (
            x,
            y,
            w,
            h,
        ), t
        # drawing the target changes pixels only inside the box (+2 px of anti-aliased edge)...
        diff = np.abs(img.astype(int) - img0.astype(int)).sum(axis=2)
        outside = np.ones_like(diff, bool)
        outside[max(y - 3, 0) : y + h + 1, max(x - 3, 0) : x + w + 1] = False
        assert diff[outside].max() <= 8, t  # (a faint < 3% alpha halo of the resampled edge)
        # ...and visibly so wherever the target is not hidden
        if seq.stats["max_occlusion"] < 0.3:
            assert diff[mask].mean() > 10, t


def test_out_of_view_rows_and_measured_attributes():
    spec = next(s for s in plan_benchmark(0, "test") if "OV" in s.attributes and "LR" not in s.attributes)
    seq = render_sequence(spec)
    assert "OV" in seq.attributes and seq.stats["designed_not_measured"] == []
    valid = np.all(seq.gt > 0, axis=1)
    assert valid[0]
    # partly out: clipped to the image; fully out: the 0,0,0,0 row
    g = seq.gt[valid]
    assert np.all(g[:, 0] >= 1) and np.all(g[:, 0] + g[:, 2] - 1 <= W)
    assert np.any((g[:, 0] == 1) | (g[:, 1] == 1) | (g[:, 0] + g[:, 2] - 1 == W) | (g[:, 1] + g[:, 3] - 1 == H))
    assert np.all(seq.gt[~valid] == 0)


@pytest.mark.slow
def test_designed_attributes_happen_in_the_test_split():
    """Render the whole default test split (in memory, about 5 s): FM, SV, OV, OCC, LR, MB designed
    into a sequence are also measured from its ground truth, with OTB's thresholds."""
    specs = plan_benchmark(0, "test")
    tags: set[str] = set()
    for spec in specs:
        seq = render_sequence(spec)
        assert seq.stats["designed_not_measured"] == [], (spec.name, seq.stats)
        assert set(spec.attributes) <= set(seq.attributes)
        if "FM" in seq.attributes:
            assert seq.stats["max_centre_jump"] > 20
        if "LR" in seq.attributes:
            assert seq.gt[0, 2] * seq.gt[0, 3] < 400
        if "OCC" in spec.attributes:
            assert seq.stats["max_occlusion"] >= 0.3
            # occlusions are temporary: the target is mostly visible
            assert seq.stats["frames_occluded_over_half"] < 0.35 * len(seq)
        if "OV" in spec.attributes:
            assert seq.stats["frames_out_of_view"] < 0.2 * len(seq)
        tags.update(seq.attributes)
    assert tags == set(ATTRIBUTES)


def test_command_line(tmp_path):
    out = tmp_path / "cli"
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "data_scripts" / "make_synthetic_otb.py"),
            "--out",
            str(out),
            "--seed",
            "2",
            "--split",
            "test",
            "--n-test",
            "2",
            "--frames",
            "6",
            "8",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "test: 2 sequences" in res.stdout
    assert sorted(p.name for p in (out / "test").iterdir()) == ["syn_test_000", "syn_test_001"]
    assert json.loads((out / "meta.json").read_text())["seed"] == 2


def test_ensure_benchmark_generates_only_when_missing_or_stale(tmp_path, monkeypatch):
    from rankatt_lib.data.synthetic import benchmark as synthetic  # where ensure_benchmark looks it up

    calls = []

    def fake_make(root, seed=0, split="test", progress=True, **kw):
        calls.append((seed, split))
        splits = ["test", "train"] if split == "both" else [split]
        for s in splits:
            (Path(root) / s).mkdir(parents=True, exist_ok=True)
        meta = {"seed": seed, "generator_version": synthetic.GENERATOR_VERSION, "splits": {s: [] for s in splits}}
        (Path(root) / "meta.json").write_text(json.dumps(meta))

    monkeypatch.setattr(synthetic, "make_synthetic_benchmark", fake_make)
    root = tmp_path / "syn"
    assert synthetic.ensure_benchmark(root) == root / "test"
    assert calls == [(0, "test")]
    synthetic.ensure_benchmark(root)  # fresh: nothing generated
    assert calls == [(0, "test")]
    synthetic.ensure_benchmark(root, seed=3)  # another seed: regenerated
    assert calls[-1] == (3, "test")
    synthetic.ensure_benchmark(root, split="train", seed=3)  # a missing split of a current benchmark
    assert calls[-1] == (3, "both")
