"""Sequences cut from real photographs: sources and licences, photo-disjoint splits, determinism,
resuming after a kill, boxes on the pasted object, attribute rules, the loader and the command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from rankatt_lib import data
from rankatt_lib.data import photoseq
from rankatt_lib.data.photoseq import (
    ATTRIBUTE_RULES,
    ATTRIBUTES,
    GENERATOR_VERSION,
    PhotoSourceError,
    gather_photos,
    make_photo_benchmark,
    plan_photo_benchmark,
)

W, H = 320, 240
SMALL = {"n_test": 2, "n_val": 1, "n_train": 2, "length_range": (8, 12), "progress": False}


def _tree_hash(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def photos():
    return gather_photos()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photo") / "a"
    make_photo_benchmark(root, seed=0, **SMALL)
    return root


# --- photographs ---------------------------------------------------------------------------------


def test_photos_are_bundled_with_licences_and_split_disjointly(photos):
    assert len(photos) >= 10
    by_split = photoseq.photos_by_split(photos)
    assert all(by_split[sp] for sp in ("test", "val", "train"))
    for p in photos:
        assert p.licence and p.source and p.file and len(p.sha256) == 64
        assert p.path.is_file() and p.load().ndim == 3 and p.load().shape[2] == 3
        assert "pooch" not in str(p.path) and ".cache" not in str(p.path)  # bundled, never downloaded
    keys = {sp: {p.key for p in ps} for sp, ps in by_split.items()}
    hashes = {sp: {p.sha256 for p in ps} for sp, ps in by_split.items()}
    for a, b in (("test", "train"), ("test", "val"), ("val", "train")):
        assert not keys[a] & keys[b] and not hashes[a] & hashes[b]


def test_missing_photo_source_names_package_and_install(monkeypatch, tmp_path):
    gone = photoseq._Builtin("nothing", "no_such_package_xyz", "no-such-dist", "data/x.png", "CC0", "-", "test")
    monkeypatch.setattr(photoseq, "BUILTIN_PHOTOS", (*photoseq.BUILTIN_PHOTOS, gone))
    with pytest.raises(PhotoSourceError, match=r"no-such-dist \(not installed\): nothing.*pip install"):
        gather_photos()
    lost = photoseq._Builtin("lost", "skimage", "scikit-image", "data/no_such.png", "CC0", "-", "test")
    monkeypatch.setattr(photoseq, "BUILTIN_PHOTOS", (lost,))
    with pytest.raises(PhotoSourceError, match=r"no skimage/data/no_such.png"):
        gather_photos()
    with pytest.raises(PhotoSourceError, match="does not exist"):
        gather_photos([tmp_path / "nope"], builtin=False)


def test_extra_photo_folder_is_split_by_content(photos, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    for p in photos[:6]:
        (folder / f"{p.key}.png").write_bytes(p.path.read_bytes())
    extra = gather_photos([folder], builtin=False)
    assert len(extra) == 6 and all(p.key.startswith("dir:") for p in extra)
    assert [p.split for p in extra] == [photoseq._split_of_hash(p.sha256) for p in extra]
    assert gather_photos([folder], builtin=False) == extra
    assert {p.licence for p in extra} == {"not stated"}
    # licences: Debian's machine-readable copyright file (last matching stanza wins), or a sidecar
    (folder / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 2020, Someone\nLicense: GPL-2+\n\n"
        "Files: pics/astro*.png\nCopyright: 2019, Other\n           2021, Third\nLicense: CC0-1.0\n"
    )
    (folder / "coffee.png.licence").write_text("public domain\nby the barista\n")
    lic = {p.key: (p.licence, p.credit) for p in gather_photos([folder], builtin=False)}
    assert lic["dir:astronaut.png"] == ("CC0-1.0", "2019, Other 2021, Third")
    assert lic["dir:coffee.png"] == ("public domain", "by the barista")
    assert lic["dir:coins.png"] == ("GPL-2+", "2020, Someone")


# --- plan ------------------------------------------------------------------------------------------


def test_default_plan(photos):
    specs = plan_photo_benchmark(0, photos=photos)
    counts = {sp: sum(s.split == sp for s in specs) for sp in ("test", "val", "train")}
    assert counts == {"test": 20, "val": 10, "train": 40}
    assert all(s.n_frames == 100 and s.image_size == (W, H) for s in specs)
    assert len({s.name for s in specs}) == len(specs)
    for sp in ("test", "train"):
        designed = {a for s in specs if s.split == sp for a in s.attributes}
        assert designed == set(ATTRIBUTES)
    assert all(not {"DEF", "OPR"} & set(s.attributes) for s in specs if s.mode == "camera")
    assert {s.mode for s in specs} == {"object", "camera"}
    assert set(ATTRIBUTE_RULES) == set(ATTRIBUTES)
    assert [s.fingerprint() for s in specs] == [s.fingerprint() for s in plan_photo_benchmark(0, photos=photos)]
    assert specs[0].fingerprint() != plan_photo_benchmark(1, photos=photos)[0].fingerprint()


# --- written benchmark -------------------------------------------------------------------------------


def test_layout_meta_and_loader(small, photos):
    meta = json.loads((small / "meta.json").read_text())
    assert meta["generator"] == "rankatt_lib.data.photoseq" and meta["generator_version"] == GENERATOR_VERSION
    assert meta["seed"] == 0 and meta["attribute_rules"] == ATTRIBUTE_RULES
    assert list(meta["splits"]) == ["test", "val", "train"]
    rec = {p["key"]: p for p in meta["photos"]}
    assert set(rec) == {p.key for p in photos}
    assert all({"source", "file", "sha256", "licence", "credit", "split"} <= set(r) for r in rec.values())
    used: dict[str, set[str]] = {}
    for sp, seqs in meta["splits"].items():
        ds = data.OTBFormatDataset(small / sp)
        assert ds.names == [s["name"] for s in seqs]
        for s in seqs:
            seq = ds[s["name"]]
            assert len(seq) == s["n_frames"] and seq.attributes == tuple(s["attributes"])
            assert seq.image(0).shape == (H, W, 3) and seq.image(-1).shape == (H, W, 3)
            assert np.all(seq.gt[0, 2:] > 0)  # frame 1 visible
            for k in s["scene"]["photos_used"]:
                assert rec[k]["split"] == sp
                used.setdefault(sp, set()).add(k)
    assert not used["test"] & (used["train"] | used["val"]) and not used["val"] & used["train"]
    assert "0,0,0,0" in (small / "README.txt").read_text()


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path):
    again = tmp_path / "b"
    make_photo_benchmark(again, seed=0, **SMALL)
    assert _tree_hash(again) == _tree_hash(small)
    other = tmp_path / "c"
    make_photo_benchmark(other, seed=1, split="test", n_test=1, n_val=0, n_train=0, length_range=(8, 8), progress=False)
    a = (small / "test" / "photo_test_000" / "img" / "0001.jpg").read_bytes()
    assert (other / "test" / "photo_test_000" / "img" / "0001.jpg").read_bytes() != a


def test_resume_after_a_kill(small, tmp_path, monkeypatch):
    root = tmp_path / "r"
    first = plan_photo_benchmark(0, n_test=2, n_val=1, n_train=2, length_range=(8, 12))[0]
    calls = {"n": 0}
    real = photoseq._encode_jpeg

    def dying(image):
        calls["n"] += 1
        if calls["n"] > first.n_frames + 3:  # killed in the middle of the second sequence
            raise KeyboardInterrupt
        return real(image)

    monkeypatch.setattr(photoseq, "_encode_jpeg", dying)
    with pytest.raises(KeyboardInterrupt):
        make_photo_benchmark(root, seed=0, **SMALL)
    assert (root / "test" / "photo_test_000" / "sequence.json").is_file()
    assert (root / "test" / ".photo_test_001.tmp").is_dir() and not (root / "test" / "photo_test_001").exists()
    assert not (root / "meta.json").exists()
    done = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (root / "test" / "photo_test_000").rglob("*")}

    monkeypatch.setattr(photoseq, "_encode_jpeg", real)
    meta = make_photo_benchmark(root, seed=0, **SMALL)
    assert meta["written"] == 4  # all but the finished one
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in done} == done  # not rewritten
    assert not list(root.rglob(".*.tmp"))
    assert _tree_hash(root) == _tree_hash(small)

    # a damaged finished sequence (a frame lost, a frame truncated) is found and redone
    (root / "val" / "photo_val_000" / "img" / "0003.jpg").unlink()
    jpg = root / "train" / "photo_train_001" / "img" / "0002.jpg"
    jpg.write_bytes(jpg.read_bytes()[:100])
    assert make_photo_benchmark(root, seed=0, **SMALL)["written"] == 2
    assert _tree_hash(root) == _tree_hash(small)
    assert make_photo_benchmark(root, seed=0, **SMALL)["written"] == 0

    # fewer sequences: the ones no longer planned go
    make_photo_benchmark(
        root, seed=0, split="train", n_test=2, n_val=1, n_train=1, length_range=(8, 12), progress=False
    )
    assert sorted(p.name for p in (root / "train").iterdir()) == ["photo_train_000"]
    assert list(json.loads((root / "meta.json").read_text())["splits"]) == ["test", "val", "train"]


def test_a_second_generation_into_the_same_folder_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    root = tmp_path / "busy"
    root.mkdir()
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(photoseq.GenerationBusyError, match="another process"):
            make_photo_benchmark(root, seed=0, **SMALL)
    assert not (root / "test").exists()


# --- ground truth and attributes (in memory) --------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(photos):
    """Test-split sequences of 70 frames designed with OV, LR, IPR or BC (both modes)."""
    specs = plan_photo_benchmark(0, "test", n_test=20, n_val=0, n_train=0, length_range=(70, 70), photos=photos)
    pick = [s for s in specs if {"OV", "LR", "IPR"} & set(s.attributes)][:7]
    return [photoseq.render_sequence(s, with_masks=True) for s in pick]


def test_box_is_the_tight_box_of_the_pasted_mask(rendered):
    zero = partial = 0
    for seq in rendered:
        for box, mask in zip(seq.gt, seq.masks, strict=True):
            if not mask.any():
                assert np.all(box == 0)  # entirely out of view: 0,0,0,0
                zero += 1
                continue
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            want = [cols[0] + 1, rows[0] + 1, cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1]
            assert box.tolist() == want
            assert box[0] >= 1 and box[1] >= 1 and box[0] + box[2] - 1 <= W and box[1] + box[3] - 1 <= H
            partial += bool(box[0] == 1 or box[1] == 1 or box[0] + box[2] - 1 == W or box[1] + box[3] - 1 == H)
        assert np.all(seq.gt[0, 2:] > 0)
    assert zero > 0 and partial > 0


def test_box_holds_the_drawn_object(photos):
    """Object mode: the pixels the target changes lie in its box (up to the soft edge and blur)."""
    specs = plan_photo_benchmark(0, "val", n_test=0, n_val=6, n_train=0, length_range=(30, 30), photos=photos)
    ious = []
    for spec in [s for s in specs if s.mode == "object"][:3]:
        with_t = photoseq.iter_frames(spec)
        without = photoseq.iter_frames(spec, draw_target=False)
        for a, b in zip(with_t, without, strict=True):
            assert np.array_equal(a.box, b.box)
            if a.blur >= 1.5 or a.occlusion > 0 or a.box[2] == 0:
                continue
            diff = np.abs(a.image.astype(int) - b.image.astype(int)).max(axis=2) > 12
            if not diff.any():
                continue
            rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
            x, y, w, h = a.box
            assert cols[0] + 1 >= x - 4 and rows[0] + 1 >= y - 4
            assert cols[-1] + 1 <= x + w - 1 + 4 and rows[-1] + 1 <= y + h - 1 + 4
            inter = (min(cols[-1] + 1, x + w - 1) - max(cols[0] + 1, x) + 1) * (
                min(rows[-1] + 1, y + h - 1) - max(rows[0] + 1, y) + 1
            )
            union = w * h + (cols[-1] - cols[0] + 1) * (rows[-1] - rows[0] + 1) - inter
            ious.append(inter / union)
    assert len(ious) > 20 and np.median(ious) > 0.8


def test_attribute_tags_follow_the_rules(rendered):
    for seq in rendered:
        st, tags = seq.stats, set(seq.attributes)
        gt = seq.gt
        valid = np.all(gt[:, 2:] > 0, axis=1)
        centres = gt[:, :2] + (gt[:, 2:] - 1) / 2
        jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1)[valid[1:] & valid[:-1]]
        assert ("FM" in tags) == bool(jumps.size and jumps.max() > 20)
        assert ("LR" in tags) == bool(gt[0, 2] * gt[0, 3] < 400)
        assert ("OV" in tags) == (st["min_visible_fraction"] < 0.8)
        assert ("OCC" in tags) == (st["max_occlusion"] >= 0.3)
        assert ("IV" in tags) == (st["illumination_ratio"] >= 1.5)
        assert ("IPR" in tags) == (st["max_rotation_deg"] >= 30)
        if seq.spec.mode == "camera":
            assert not {"DEF", "OPR"} & tags
        assert tags <= set(ATTRIBUTES)
        if "OV" in seq.spec.attributes:
            assert "OV" in tags
        if "LR" in seq.spec.attributes:
            assert "LR" in tags


# --- command line -------------------------------------------------------------------------------------


def test_command_line(tmp_path, capsys):
    from rankatt_lib.__main__ import main

    assert main(["photo", "--list-photos"]) == 0
    out = capsys.readouterr().out
    assert "astronaut" in out and "CC0" in out and "public domain" in out
    argv = [
        "photo",
        "--out",
        str(tmp_path / "p"),
        "--split",
        "val",
        "--n-val",
        "1",
        "--frames",
        "5",
        "5",
        "--size",
        "96",
        "72",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "val: 1 sequences, 5 frames" in capsys.readouterr().out
    ds = data.OTBFormatDataset(tmp_path / "p" / "val")
    assert len(ds) == 1 and ds[0].image(0).shape == (72, 96, 3)
    assert main(argv) == 0
    assert "0 sequences rendered" in capsys.readouterr().out
