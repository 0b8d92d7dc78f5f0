"""Tests of the compiled per-frame step (``RankingAttentionConfig.compile``).

On the CPU: the step traces without stray graph breaks (exactly two graphs around the one
deliberate break, :func:`rankatt_lib.trackers.rankatt._combine_parts`), a new sequence whose prior
kernel has another side reuses the compiled code, the traced step tracks exactly like the eager one
for every ablation switch, and Inductor's CPU code follows the eager track. On CUDA (skipped here):
``"reduce-overhead"`` (Inductor + CUDA graphs) follows the eager CUDA track (that it still
synchronises once per frame is tested beside the eager tracker's count, in ``test_execution.py``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from data_script_loader import REPO
from test_bench import tiny_sequence
from test_crest import textured_sequence
from torch._dynamo.backends.registry import register_backend
from torch._dynamo.testing import CompileCounterWithBackend

from rankatt_lib.configs import make_config
from rankatt_lib.experiments import bench
from rankatt_lib.features import VGG16Features
from rankatt_lib.features.geometry import box_to_center
from rankatt_lib.trackers.base import shared_backbone
from rankatt_lib.trackers.rankatt import COMPILE_MODES, RankingAttentionConfig, RankingAttentionTracker

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

#: a torch.compile backend that only traces (like "eager") and counts the graphs it is given
COUNTER = CompileCounterWithBackend("eager")
COUNTER_NAME = "rankatt_test_counter"
register_backend(COUNTER, name=COUNTER_NAME)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> Iterator[None]:
    """Every test starts from empty compile caches and a zeroed counter."""
    torch._dynamo.reset()
    COUNTER.clear()
    yield
    torch._dynamo.reset()


@pytest.fixture(scope="module")
def backbone() -> VGG16Features:
    return shared_backbone("cpu")


#: two targets of different shapes: their part trackers' prior kernels differ in side
SQUAT = textured_sequence(n=6, box=(40.0, 35.0, 32.0, 28.0))
TALL = textured_sequence(n=6, box=(60.0, 30.0, 18.0, 44.0), step=(-2.0, 3.0), seed=1)


def small(backbone: VGG16Features | None, device: str = "cpu", **overrides: object) -> RankingAttentionTracker:
    """127 px patches, few first-frame steps, the untrained updater: internals, not accuracy."""
    opts: dict[str, object] = {"patch_size": 127, "part_init_max_steps": 10, "updater": "untrained"}
    opts.update(overrides)
    return RankingAttentionTracker(device=device, backbone=backbone, **opts)


def track(tracker: RankingAttentionTracker, sequence: tuple[list[np.ndarray], np.ndarray]) -> np.ndarray:
    frames, gt = sequence
    tracker.init(frames[0], gt[0])
    return np.asarray([gt[0], *(tracker.update(f) for f in frames[1:])])


def centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(*(box_to_center(a)[:, :2] - box_to_center(b)[:, :2]).T)


# --------------------------------------------------------------------------- config


def test_compile_is_a_validated_config_field(backbone: VGG16Features) -> None:
    assert RankingAttentionConfig().execution.compile == "off"
    assert "reduce-overhead" in COMPILE_MODES
    with pytest.raises(ValueError, match="compile must be one of"):
        make_config(RankingAttentionConfig, None, {"compile": "fast"})
    with pytest.raises(ValueError, match="compile_backend"):
        make_config(RankingAttentionConfig, None, {"compile": "default", "compile_backend": ""})
    with pytest.raises(Exception, match="no_such_backend"):
        small(backbone, compile="default", compile_backend="no_such_backend")


# --------------------------------------------------------------------------- tracing


def test_the_step_traces_in_two_graphs_and_a_new_sequence_reuses_them(backbone: VGG16Features) -> None:
    eager = [track(small(backbone), s) for s in (SQUAT, TALL)]
    trackers = [small(backbone, compile="default", compile_backend=COUNTER_NAME) for _ in range(2)]
    traced = track(trackers[0], SQUAT)
    assert COUNTER.frame_count == 2  # one deliberate graph break: the prior-kernel combination
    assert trackers[0].update_frames  # the eager Eq. 10 updates ran between the compiled steps
    traced_tall = track(trackers[1], TALL)
    sides = [t.parts.prior.shape[-1] for t in trackers]
    assert sides[0] != sides[1], sides  # ... so the second sequence would recompile if it were traced
    assert COUNTER.frame_count == 2, "a new tracker (new modules, another prior kernel) recompiled the step"
    np.testing.assert_allclose(traced, eager[0], atol=1e-9)
    np.testing.assert_allclose(traced_tall, eager[1], atol=1e-9)


@pytest.mark.parametrize(
    "overrides",
    [
        {"use_ranking": False},
        {"use_attention": False},
        {"single_channel": True},
        {"n_kernels": 1, "precision": "bf16", "channels_last": True},
        {"ranking_init": "augmented", "cell_input": "carried"},
    ],
    ids=["noranking", "noattention", "single", "n1-bf16-channels-last", "augmented-carried"],
)
def test_every_switch_traces_without_graph_breaks(overrides: dict[str, object]) -> None:
    net = shared_backbone("cpu", channels_last=bool(overrides.get("channels_last", False)))
    eager_tr = small(net, **overrides)
    eager = track(eager_tr, SQUAT)
    traced_tr = small(net, compile="default", compile_backend=COUNTER_NAME, **overrides)
    traced = track(traced_tr, SQUAT)
    assert COUNTER.frame_count == 2
    np.testing.assert_allclose(traced, eager, atol=1e-9)
    # the frame's internals come back like the eager ones (None where a switch skips a step)
    for name in ("scores", "order", "kernel", "attention"):
        assert (getattr(traced_tr.last, name) is None) == (getattr(eager_tr.last, name) is None), name
    torch.testing.assert_close(traced_tr.last.weighted, eager_tr.last.weighted)


def test_profiling_a_compiled_tracker_times_the_step_as_one_section(backbone: VGG16Features) -> None:
    tr = small(backbone, compile="default", compile_backend=COUNTER_NAME, profile=True)
    frames, gt = SQUAT
    tr.init(frames[0], gt[0])  # frame 1 is eager (and profiled by component)
    tr.profiler.reset()
    for f in frames[1:]:
        tr.update(f)
    got = set(tr.profiler.summary())
    assert {"crop", "detect", "update"} <= got
    assert not got & {"features", "ranking", "attention", "parts"}  # inside the compiled step


def test_inductor_on_the_cpu_follows_the_eager_track(backbone: VGG16Features) -> None:
    eager = track(small(backbone), SQUAT)
    tr = small(backbone, compile="default")  # Inductor, C++ code on the CPU
    compiled = track(tr, SQUAT)
    d = centre_distance(eager, compiled)
    assert d.max() < 0.05, d
    np.testing.assert_allclose(compiled[:, 2:], eager[:, 2:], rtol=1e-4)


# --------------------------------------------------------------------------- benchmark


@pytest.mark.parametrize("separate_profile", [False, True], ids=["inline", "separate"])
def test_bench_times_a_compiled_tracker(tmp_path: Path, separate_profile: bool) -> None:
    seq = tiny_sequence(tmp_path, n=5)
    net = VGG16Features(weights="random", device="cpu")
    tiny = {"patch_size": 127, "part_init_max_steps": 5, "updater": "untrained", "compile_backend": COUNTER_NAME}
    res = bench.run_bench(
        seq,
        "cpu",
        backbone=net,
        rankatt_overrides=tiny,
        include=("rankatt", "backbone"),
        compile="default",
        separate_profile=separate_profile,
    )
    meta = res["meta"]
    assert meta["compile"] == "default" and meta["overrides"]["rankatt"]["compile"] == "default"
    assert COUNTER.frame_count == 2  # the timed tracker really ran the compiled step
    assert res["compile_ms"] is not None and res["compile_ms"] >= 0.0
    comp = res["components_ms"]
    if separate_profile:  # components from an eager, profiled run
        assert "features" in comp and "detect" not in comp
        assert "rankatt-profiled" in res["mean_ms"]
    else:  # the compiled step is one component
        assert "detect" in comp and "features" not in comp
    table = bench.format_table(res)
    assert "compile: default" in table and "compilation" in table
    with pytest.raises(ValueError, match="compile must be one of"):
        bench.run_bench(seq, backbone=net, include=("rankatt",), compile="fast")


def test_speed_table_puts_settings_side_by_side() -> None:
    cpu = json.loads((REPO / "results" / "bench" / "cpu.json").read_text())
    gpu = copy.deepcopy(cpu)  # a stand-in with a GPU setting's fields (the table only reads them)
    gpu["meta"].update(device="cuda:0", precision="bf16", channels_last=True, compile="reduce-overhead")
    gpu["mean_ms"]["rankatt"], gpu["components_ms"] = 2.5, {"crop": 0.1, "detect": 1.5, "update": 0.9}
    table = bench.speed_table({"CPU": cpu, "GPU": gpu})
    assert list(table.columns) == ["CPU", "GPU"]
    assert table.loc["setting", "CPU"] == "cpu fp32"
    assert table.loc["setting", "GPU"] == "cuda bf16 channels_last compile reduce-overhead"
    assert table.loc["rankatt ms/frame", "CPU"] == pytest.approx(cpu["mean_ms"]["rankatt"])
    assert table.loc["rankatt / VGG16", "CPU"] == pytest.approx(cpu["ratios"]["rankatt/backbone"])
    assert table.loc["detect (compiled step) ms", "GPU"] == 1.5
    assert np.isnan(table.loc["detect (compiled step) ms", "CPU"])
    assert table.loc["features (VGG16) ms", "CPU"] == pytest.approx(cpu["components_ms"]["features"])
    only_cpu = bench.speed_table({"CPU": cpu})
    assert "detect (compiled step) ms" not in only_cpu.index  # no result has it
    with pytest.raises(ValueError, match="no benchmark results"):
        bench.speed_table({})


# --------------------------------------------------------------------------- CUDA


@cuda
def test_cuda_graphs_follow_the_eager_cuda_track() -> None:
    eager_tr = small(None, "cuda")
    eager = track(eager_tr, SQUAT)
    tr = small(None, "cuda", compile="reduce-overhead")
    assert tr._cuda_graphs
    graphed = track(tr, SQUAT)
    assert centre_distance(eager, graphed).max() < 0.05
    # read before the next replay, which rewrites the CUDA graph's output buffers
    torch.testing.assert_close(tr.last.weighted, eager_tr.last.weighted, atol=1e-3, rtol=1e-3)
    # a second sequence (another prior kernel) on the same compiled step
    eager_tall = track(small(None, "cuda"), TALL)
    graphed_tall = track(small(None, "cuda", compile="reduce-overhead"), TALL)
    assert centre_distance(eager_tall, graphed_tall).max() < 0.05
