"""Tests of how the tracker executes: backbone precision and memory format, host reads per frame,
the runner's config options, the benchmark over several sequences, and the CPU / GPU parity tools.

The CPU tests run everywhere. The CUDA tests (skipped without a GPU) check what only a GPU can
show: that ``update()`` synchronises with the device once per frame, and that a CUDA run follows
the CPU run.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from data_script_loader import REPO, load_data_script
from test_bench import tiny_sequence
from test_crest import textured_sequence

import rankatt_lib
from rankatt_lib import evaluation
from rankatt_lib.configs import make_config
from rankatt_lib.evaluation import results, run
from rankatt_lib.experiments import bench
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center
from rankatt_lib.trackers.base import PRECISIONS, backbone_autocast, shared_backbone
from rankatt_lib.trackers.rankatt import RankingAttentionConfig, RankingAttentionTracker

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sequence() -> tuple[list[np.ndarray], np.ndarray]:
    return textured_sequence(n=7)


def track(tracker: RankingAttentionTracker, frames: list[np.ndarray], gt: np.ndarray) -> np.ndarray:
    tracker.init(frames[0], gt[0])
    return np.asarray([gt[0], *(tracker.update(f) for f in frames[1:])])


def small(device: str = "cpu", backbone: VGG16Features | None = None, **overrides: object) -> RankingAttentionTracker:
    """127 px patches, few first-frame steps, the untrained updater: internals, not accuracy."""
    opts: dict[str, object] = {"patch_size": 127, "part_init_max_steps": 10, "updater": "untrained"}
    opts.update(overrides)
    return RankingAttentionTracker(device=device, backbone=backbone, **opts)


def centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(*(box_to_center(a)[:, :2] - box_to_center(b)[:, :2]).T)


# --------------------------------------------------------------------------- precision, memory format


def test_precision_is_a_validated_config_field() -> None:
    assert RankingAttentionConfig().execution.precision == "fp32"
    assert not RankingAttentionConfig().execution.channels_last
    assert set(PRECISIONS) == {"fp32", "bf16", "fp16"}
    with pytest.raises(ValueError, match="precision must be one of"):
        make_config(RankingAttentionConfig, None, {"precision": "fp8"})
    with pytest.raises(ValueError, match="precision must be one of"):
        backbone_autocast("half", "cpu")


def test_backbone_autocast_contexts() -> None:
    with backbone_autocast("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    with backbone_autocast("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


def test_bf16_backbone_changes_the_features_not_the_track(sequence: tuple[list[np.ndarray], np.ndarray]) -> None:
    frames, gt = sequence
    net = shared_backbone("cpu")
    fp32, bf16 = small(backbone=net), small(backbone=net, precision="bf16")
    b32, b16 = track(fp32, frames, gt), track(bf16, frames, gt)
    x32, x16 = fp32.last.xS, bf16.last.xS
    assert x32 is not None and x16 is not None
    assert x16.dtype == torch.float32  # the backbone's output is cast back
    # the features really were computed in bfloat16 (not equal), yet close (relative error ~1 %)
    assert not torch.equal(x32, x16)
    rel = (x32 - x16).norm() / x32.norm()
    assert 1e-4 < float(rel) < 0.05, float(rel)
    # and the track is the same to a fraction of a pixel ... a few pixels at most
    d = centre_distance(b32, b16)
    assert d.max() < 2.0, d
    assert centre_distance(b16, gt)[1:].mean() < 3.0


def test_channels_last_backbone_gives_the_same_track(sequence: tuple[list[np.ndarray], np.ndarray]) -> None:
    frames, gt = sequence
    plain = small(backbone=shared_backbone("cpu"))
    cl = small(channels_last=True)  # builds (and caches) a channels_last backbone
    assert cl.backbone.channels_last and cl.backbone is shared_backbone("cpu", channels_last=True)
    assert cl.backbone is not plain.backbone
    assert cl.backbone.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    d = centre_distance(track(plain, frames, gt), track(cl, frames, gt))
    assert d.max() < 0.05, d
    with pytest.raises(ValueError, match="channels_last=True needs a backbone built with"):
        small(backbone=shared_backbone("cpu"), channels_last=True)


# --------------------------------------------------------------------------- host reads per frame


_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__array__")


@contextlib.contextmanager
def count_host_reads(package: str = "rankatt_lib") -> Iterator[collections.Counter[tuple[str, str, int]]]:
    """Count calls, made from ``package``'s code, of the tensor methods that read a value back to
    the host (each one a synchronisation when the tensor lives on a GPU)."""
    calls: collections.Counter[tuple[str, str, int]] = collections.Counter()
    originals = {name: getattr(torch.Tensor, name) for name in _READS}

    def wrap(name: str) -> object:
        fn = originals[name]

        def counted(self: torch.Tensor, *args: object, **kwargs: object) -> object:
            caller = sys._getframe(1)
            module = caller.f_globals.get("__name__", "")
            if module == package or module.startswith(package + "."):
                calls[(name, module, caller.f_lineno)] += 1
            return fn(self, *args, **kwargs)

        return counted

    for name in _READS:
        setattr(torch.Tensor, name, wrap(name))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


@pytest.mark.parametrize("overrides", [{}, {"precision": "bf16"}, {"use_ranking": False}, {"single_channel": True}])
def test_update_reads_one_tensor_back_per_frame(
    sequence: tuple[list[np.ndarray], np.ndarray], overrides: dict[str, object]
) -> None:
    """The only host read of ``update()`` is the one small tensor with the peak, the scale and the
    peaks (from which the box is computed on the host), also on frames with an online update."""
    frames, gt = sequence
    tr = small(backbone=shared_backbone("cpu"), **overrides)
    tr.init(frames[0], gt[0])
    with count_host_reads() as calls:
        for f in frames[1:]:
            tr.update(f)
    assert tr.update_frames, "the schedule should have trained at least once"
    assert sum(calls.values()) == len(frames) - 1, dict(calls)
    assert {(name, module) for name, module, _ in calls} == {("tolist", "rankatt_lib.trackers.rankatt")}


def test_the_counter_sees_a_read() -> None:
    x = torch.ones(3)
    with count_host_reads(__name__) as calls:
        float(x.sum())
        x.tolist()
    assert sorted(name for name, _, _ in calls) == ["__float__", "tolist"]


# --------------------------------------------------------------------------- runner options


def test_parse_option() -> None:
    assert run.parse_option("precision=bf16") == ("precision", "bf16")
    assert run.parse_option("T=4") == ("T", 4)
    assert run.parse_option("channels_last=true") == ("channels_last", True)
    assert run.parse_option("scales=[1, 0.9]") == ("scales", [1, 0.9])
    for bad in ("precision", "=bf16"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            run.parse_option(bad)


def test_run_cli_passes_options_and_names_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = tiny_sequence(tmp_path / "data", n=4)
    argv = ["--tracker", "rankatt", "--dataset", str(seq.parent), "--results", str(tmp_path / "res")]
    argv += ["--benchmark", "tiny", "--no-progress", "--name", "rankatt-bf16"]
    opts = ["patch_size=127", "part_init_max_steps=5", "updater=untrained", "precision=bf16"]
    for o in opts:
        argv += ["--option", o]
    conv = torch.backends.cudnn.conv
    saved = conv.fp32_precision
    try:
        assert run.main([*argv, "--exact-fp32"]) == 0
        assert conv.fp32_precision == "ieee"  # --exact-fp32: no TF32 convolutions on a GPU
    finally:
        conv.fp32_precision = saved
        torch.backends.cuda.matmul.fp32_precision = "none"
    boxes = results.load_results(tmp_path / "res", "tiny", "rankatt-bf16")
    assert list(boxes) == ["tiny"] and boxes["tiny"].shape == (4, 4)
    assert not (tmp_path / "res" / "tiny" / "rankatt").exists()
    capsys.readouterr()
    # a misspelt option fails once, before any sequence is tracked
    assert run.main([*argv[:-2], "--option", "precison=bf16"]) == 2
    assert "does not accept" in capsys.readouterr().err


# --------------------------------------------------------------------------- benchmark


def test_bench_pools_sequences_and_records_the_setting(tmp_path: Path) -> None:
    a = tiny_sequence(tmp_path / "a", n=4)
    b = tiny_sequence(tmp_path / "b", n=5)
    net = VGG16Features(weights="random", device="cpu")
    res = bench.run_bench(
        [a, b],
        "cpu",
        backbone=net,
        rankatt_overrides={"patch_size": 127, "part_init_max_steps": 5, "updater": "untrained"},
        include=("rankatt", "backbone"),
        precision="bf16",
        separate_profile=True,
    )
    meta = res["meta"]
    assert meta["frames"] == 9 and meta["measured_frames"] == 2 + 3 and meta["sequence_frames"] == [4, 5]
    assert meta["precision"] == "bf16" and meta["overrides"]["rankatt"]["precision"] == "bf16"
    assert meta["separate_profile"] and not meta["profiled"]
    pf = res["per_frame_ms"]
    assert len(pf["rankatt"]) == 3 + 4  # frames 2..N of each sequence
    # each sequence's frame 2 is its warm-up: the mean is over frames 3..N of both
    kept = pf["rankatt"][1:3] + pf["rankatt"][4:]
    assert res["mean_ms"]["rankatt"] == pytest.approx(float(np.mean(kept)))
    # the components are those of the profiled run and add up to its total
    prof = res["mean_ms"]["rankatt-profiled"]
    assert sum(res["components_ms"].values()) == pytest.approx(prof, rel=1e-6)
    assert meta["sequences"] == ["tiny", "tiny"] and meta["sequence"] == "2 sequences"
    with pytest.raises(ValueError, match="precision must be one of"):
        bench.run_bench(a, backbone=net, include=("csrt",), precision="int8")
    with pytest.raises(ValueError, match="channels_last=True needs"):
        bench.run_bench(a, backbone=net, include=("csrt",), channels_last=True)


# --------------------------------------------------------------------------- parity tools


def test_trajectory_agreement() -> None:
    gt = np.array([[10, 10, 20, 20]] * 4, dtype=float)
    moved = gt.copy()
    moved[2:, 0] += 10  # frames 3 and 4 shifted by half the width: IoU 1/3
    agree = evaluation.trajectory_agreement({"s": gt, "t": gt}, {"s": moved, "t": gt, "u": gt})
    assert agree.frames == 6  # frame 1 is left out; "u" is not in both
    assert agree.per_sequence["s"] == pytest.approx((1 + 2 / 3) / 3)
    assert agree.per_sequence["t"] == 1.0 and agree.identical_sequences == ("t",)
    assert agree.mean_iou == pytest.approx((1 + 2 / 3 + 3) / 6)
    assert agree.share_above_half == pytest.approx(4 / 6) and agree.max_centre_distance == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no sequence in common"):
        evaluation.trajectory_agreement({"s": gt}, {"t": gt})
    with pytest.raises(ValueError, match="3 boxes in one run and 4"):
        evaluation.trajectory_agreement({"s": gt[:3]}, {"s": gt})


def test_compare_runs_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare_runs = load_data_script("compare_runs")
    seq = tiny_sequence(tmp_path / "data", n=4)
    gt = np.loadtxt(seq / "groundtruth_rect.txt", delimiter=",")
    off = gt.copy()
    off[1:, 0] += 6  # a quarter of the 24 px box
    results.write_boxes(results.result_path(tmp_path / "cpu", "tiny", "rankatt", "tiny"), gt)
    results.write_boxes(results.result_path(tmp_path / "gpu", "tiny", "rankatt-bf16", "tiny"), off)
    out = tmp_path / "parity.json"
    argv = ["--dataset", str(seq.parent), "--benchmark", "tiny", "--run", f"cpu={tmp_path / 'cpu'}:rankatt"]
    argv += ["--run", f"bf16={tmp_path / 'gpu'}:rankatt-bf16", "--json", str(out)]
    assert compare_runs.main(argv) == 0
    report = json.loads(out.read_text())
    e = report["runs"]["bf16"]
    assert e["mean_iou_vs_reference"] == pytest.approx(18 / 30) and e["max_centre_distance_px"] == pytest.approx(6.0)
    assert report["runs"]["cpu"]["auc"] > e["auc"] and e["auc_change"] < 0
    assert "bf16" in capsys.readouterr().out
    assert compare_runs.main([*argv, "--max-auc-drop", "0.01"]) == 1
    assert compare_runs.main([*argv[:4], "--run", "x=nowhere:rankatt"]) == 2
    with pytest.raises(ValueError, match="LABEL=ROOT:TRACKER"):
        compare_runs.parse_run("cpu:rankatt")


def test_nbval_failures_are_sorted_by_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("nbval_failures")

    def report(*cases: str) -> str:
        path = tmp_path / f"r{len(cases)}.xml"
        path.write_text(f"<testsuites><testsuite>{''.join(cases)}</testsuite></testsuites>")
        return str(path)

    ok = '<testcase classname="book.01.ipynb" name="Cell 1"/>'
    contrib = (
        '<testcase classname="book.01.ipynb" name="Cell 10"><failure message="Notebook cell execution failed">'
        "RuntimeError: ... install 'opencv-contrib-python' ...</failure></testcase>"
    )
    other = (
        '<testcase classname="book.10.ipynb" name="Cell 3"><failure message="Cell outputs differ">'
        "- switch 12</failure></testcase>"
    )
    assert tool.main([report(ok, contrib)]) == 0  # only the machine's missing OpenCV contrib
    assert "1 cells passed or skipped, 1 failed: 1 for the missing OpenCV contrib, 0 other" in capsys.readouterr().out
    assert tool.main([report(ok, contrib, other)]) == 1
    out = capsys.readouterr().out
    assert "2 failed: 1 for the missing OpenCV contrib, 1 other" in out and "book.10.ipynb::Cell 3" in out
    assert tool.main([str(tmp_path / "missing.xml")]) == 2


def load_tool(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / "gpu" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- CUDA


@cuda
@pytest.mark.parametrize("compile_mode", ["off", "reduce-overhead"])
def test_update_synchronises_once_per_frame_on_cuda(
    sequence: tuple[list[np.ndarray], np.ndarray], compile_mode: str
) -> None:
    frames, gt = sequence
    tr = small("cuda", precision="bf16", channels_last=True, compile=compile_mode)
    tr.init(frames[0], gt[0])
    warm = 1 if compile_mode == "off" else 2  # first-call allocations (+ compilation, CUDA-graph recording)
    for f in frames[1 : 1 + warm]:
        tr.update(f)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for f in frames[1 + warm :]:
                tr.update(f)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert tr.update_frames
    assert len(syncs) <= len(frames) - 1 - warm, [str(w.message) for w in syncs[:5]]


@cuda
@pytest.mark.parametrize(("precision", "tolerance_px"), [("fp32", 0.5), ("bf16", 2.0)])
def test_cuda_follows_the_cpu(
    sequence: tuple[list[np.ndarray], np.ndarray], precision: str, tolerance_px: float
) -> None:
    frames, gt = sequence
    cpu = track(small("cpu", backbone=shared_backbone("cpu")), frames, gt)
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = (conv.fp32_precision, matmul.fp32_precision)
    rankatt_lib.exact_float32()  # float32 as the CPU computes it (not TF32)
    try:
        gpu_tracker = small("cuda", precision=precision)
        gpu = track(gpu_tracker, frames, gt)
    finally:
        conv.fp32_precision, matmul.fp32_precision = saved
    assert gpu_tracker.device.type == "cuda" and gpu_tracker.last.xS.is_cuda
    d = centre_distance(cpu, gpu)
    assert d.max() < tolerance_px, d
