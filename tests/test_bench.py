"""Tests of the speed benchmark (rankatt_lib.experiments.bench): aggregation on fake timings, and a tiny end-to-end run.

The end-to-end run uses ``--random-weights --tiny`` (a random VGG16, 127 px patches, few frame-1
steps): it checks the plumbing and the JSON, not the speed of the real tracker.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from rankatt_lib.experiments import bench

# --------------------------------------------------------------------------- aggregation


def test_median_ms_drops_warmup_and_converts() -> None:
    assert bench.median_ms([10.0, 0.001, 0.003, 0.002]) == pytest.approx(2.0)
    assert bench.median_ms([0.004, 0.002], warmup=0) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        bench.median_ms([0.1], warmup=1)


def test_mean_ms_drops_warmup_and_converts() -> None:
    assert bench.mean_ms([10.0, 0.001, 0.002, 0.006]) == pytest.approx(3.0)
    assert bench.mean_ms([0.004, 0.002], warmup=0) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        bench.mean_ms([0.1], warmup=1)


def test_ratio_and_fps() -> None:
    assert bench.ratio(3.0, 2.0) == 1.5
    assert math.isnan(bench.ratio(1.0, 0.0)) and math.isnan(bench.ratio(1.0, float("nan")))
    assert bench.fps(50.0) == 20.0 and math.isnan(bench.fps(0.0))


def fake_timings() -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    per_frame = {
        "rankatt": [9.0, 0.100, 0.100, 0.130],  # after warm-up: mean 110 ms, median 100 ms
        "backbone": [5.0, 0.080, 0.100, 0.090],  # 90 ms
        "crest": [7.0, 0.200, 0.220, 0.210],  # 210 ms
        "csrt": [0.5, 0.010, 0.012, 0.011],  # 11 ms
    }
    sections = {
        "crop": [1.0, 0.002, 0.002, 0.002],
        "features": [1.0, 0.085, 0.080, 0.081],  # mean 82 ms
        "ranking": [1.0, 0.010, 0.008, 0.009],
        "parts": [1.0, 0.005, 0.005, 0.005],
        "update": [1.0, 0.0, 0.0, 0.030],  # every third frame: median 0, mean 10 ms
    }
    return per_frame, sections


def test_aggregate_means_ratios_and_components() -> None:
    per_frame, sections = fake_timings()
    out = bench.aggregate(per_frame, sections)
    assert out["mean_ms"] == pytest.approx({"rankatt": 110.0, "backbone": 90.0, "crest": 210.0, "csrt": 11.0})
    assert out["median_ms"]["rankatt"] == pytest.approx(100.0)
    assert out["fps"]["rankatt"] == pytest.approx(1000 / 110)
    assert out["ratios"]["rankatt/backbone"] == pytest.approx(110 / 90)
    assert out["ratios"]["rankatt/csrt"] == pytest.approx(10.0)
    assert out["ratios"]["rankatt/crest"] == pytest.approx(110 / 210)
    assert out["ratios"]["crest/backbone"] == pytest.approx(210 / 90)
    comp = out["components_ms"]
    assert list(comp) == ["crop", "features", "ranking", "parts", "update", "other"]
    # the online update counts with its amortised cost, not with the median (0) of a bimodal series
    assert comp["features"] == pytest.approx(82.0) and comp["update"] == pytest.approx(10.0)
    assert comp["other"] == pytest.approx(110.0 - (2 + 82 + 9 + 5 + 10))
    assert sum(comp.values()) == pytest.approx(110.0)
    assert out["components_share"]["features"] == pytest.approx(82 / 110)


def test_other_is_never_negative() -> None:
    out = bench.aggregate({"rankatt": [1.0, 0.01, 0.01]}, {"features": [1.0, 0.02, 0.02]})
    assert out["components_ms"]["other"] == 0.0


def test_format_table_lists_trackers_ratios_and_components() -> None:
    per_frame, sections = fake_timings()
    res = bench.aggregate(per_frame, sections)
    res["meta"] = {"device": "cpu", "device_name": "Fake CPU", "torch_version": "9.9", "threads": 2}
    res["init_ms"] = {"rankatt": 1234.0}
    res["target_ratio_cpu"] = bench.TARGET_RATIO_CPU
    text = bench.format_table(res)
    for s in ("rankatt (update)", "VGG16 forward only", "CREST", "OpenCV CSRT", "Fake CPU", "torch 9.9"):
        assert s in text
    assert "110.0" in text and "100.0" in text and "1.22" in text and "1234.0" in text  # mean, median, ratio, init
    assert "rankatt / backbone = 1.222 (meets the CPU target <= 1.3)" in text
    assert "ranking + ConvLSTM" in text and "online update" in text and "other" in text
    res["ratios"]["rankatt/backbone"] = 1.45
    assert "rankatt / backbone = 1.450 (misses the CPU target <= 1.3)" in bench.format_table(res)


def test_json_safe_replaces_nan() -> None:
    assert bench._json_safe({"a": float("nan"), "b": [np.float64(2.0), (1, float("inf"))]}) == {
        "a": None,
        "b": [2.0, [1, None]],
    }


# --------------------------------------------------------------------------- end to end


def tiny_sequence(root: Path, n: int = 4) -> Path:
    """A 4-frame OTB-format sequence: a bright square moving right on a textured background."""
    seq = root / "tiny"
    (seq / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    bg = (rng.random((96, 128, 3)) * 120).astype(np.uint8)
    rows = []
    for t in range(n):
        img = bg.copy()
        x, y = 40 + 2 * t, 30
        img[y : y + 24, x : x + 24] = (230, 60, 60)
        cv2.imwrite(str(seq / "img" / f"{t + 1:04d}.png"), img[:, :, ::-1])
        rows.append(f"{x + 1},{y + 1},24,24")
    (seq / "groundtruth_rect.txt").write_text("\n".join(rows) + "\n")
    return seq


def test_end_to_end_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = tiny_sequence(tmp_path)
    out = tmp_path / "out" / "bench.json"
    argv = ["--device", "cpu", "--frames", "3", "--sequence", str(seq), "--threads", "1", "--json", str(out)]
    assert bench.main([*argv, "--random-weights", "--tiny", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "rankatt / backbone" in printed and "VGG16 forward only" in printed
    res = json.loads(out.read_text())
    keys = ("meta", "mean_ms", "median_ms", "fps", "ratios", "init_ms", "components_ms", "components_share")
    for key in (*keys, "per_frame_ms"):
        assert key in res
    for key in ("device", "device_name", "torch_version", "date", "threads", "cpu_name"):
        assert key in res["meta"]
    assert res["meta"]["frames"] == 3 and res["meta"]["measured_frames"] == 1 and res["meta"]["threads"] == 1
    assert res["meta"]["weights"] == "random"
    assert res["meta"]["sequence"] == "tiny"  # not overwritten by the name of a tracker
    assert res["meta"]["statistic"] == "mean"
    med = res["mean_ms"]
    assert set(med) == {"rankatt", "backbone", "crest", "deepdcf", "csrt", "opencv-kcf", "opencv-mosse"}
    assert res["ratios"]["deepdcf/backbone"] == pytest.approx(med["deepdcf"] / med["backbone"])
    assert "deep DCF" in printed
    assert res["ratios"]["rankatt/opencv-kcf"] == pytest.approx(med["rankatt"] / med["opencv-kcf"])
    assert all(v > 0 for v in med.values()) and all(v > 0 for v in res["init_ms"].values())
    assert all(len(v) == 2 for v in res["per_frame_ms"].values())  # frames 2 and 3
    assert med["rankatt"] == pytest.approx(res["per_frame_ms"]["rankatt"][1])  # the warm-up is dropped
    assert res["ratios"]["rankatt/backbone"] == pytest.approx(med["rankatt"] / med["backbone"])
    assert res["ratios"]["rankatt/csrt"] == pytest.approx(med["rankatt"] / med["csrt"])
    assert res["components_ms"]["features"] > 0
    assert res["components_ms"]["features"] <= med["rankatt"]


def test_frames_zero_means_the_whole_sequence(tmp_path: Path) -> None:
    seq = tiny_sequence(tmp_path, n=5)
    name, images, box0 = bench._load_frames(seq, 0)
    assert name == "tiny" and len(images) == 5 and list(box0) == [41, 31, 24, 24]  # as written in the file (1-based)
    assert len(bench._load_frames(seq, 3)[1]) == 3 and len(bench._load_frames(seq, 99)[1]) == 5
    with pytest.raises(ValueError, match=">= 3 frames"):
        bench._load_frames(seq, 2)


def test_variant_is_applied_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = tiny_sequence(tmp_path)
    out = tmp_path / "t4.json"
    argv = ["--frames", "3", "--sequence", str(seq), "--threads", "1", "--json", str(out), "--variant", "rankatt-t4"]
    assert bench.main([*argv, "--random-weights", "--tiny", "--quiet"]) == 0
    assert "variant: rankatt-t4" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["meta"]["variant"] == "rankatt-t4" and res["meta"]["overrides"]["rankatt"]["T"] == 4


def test_unknown_variant_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown variant 'rankatt-t5'.*rankatt-t4"):
        bench.run_bench(tiny_sequence(tmp_path), variant="rankatt-t5", include=("csrt",))


def test_only_restricts_the_trackers(tmp_path: Path) -> None:
    seq = tiny_sequence(tmp_path)
    out = tmp_path / "only.json"
    argv = ["--frames", "3", "--sequence", str(seq), "--threads", "1", "--json", str(out), "--only", "csrt,opencv-kcf"]
    assert bench.main([*argv, "--quiet"]) == 0
    assert set(json.loads(out.read_text())["mean_ms"]) == {"csrt", "opencv-kcf"}
    with pytest.raises(SystemExit):
        bench.main([*argv[:-1], "csrt,sift"])
