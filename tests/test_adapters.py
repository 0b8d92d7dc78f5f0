"""The got10k adapter (rankatt_lib.toolkits.got10k): got10k 0.1.3's own experiment loop runs a registered
tracker and gets the same boxes as this project's runner on the same sequences."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest

from rankatt_lib import data
from rankatt_lib.data.synthetic import plan_benchmark, write_sequence
from rankatt_lib.evaluation import results
from rankatt_lib.evaluation.run import run_tracker
from rankatt_lib.toolkits import got10k as adapters

TRACKER = "kcf"


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """Two short synthetic sequences (a moving target, JPEG frames) in the OTB layout."""
    root = tmp_path_factory.mktemp("adapt") / "syn"
    for spec in plan_benchmark(0)[:2]:
        write_sequence(dataclasses.replace(spec, n_frames=14, image_size=(160, 120)), root)
    return data.OTBFormatDataset(root)


@pytest.fixture(scope="module")
def ours(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("ours")
    report = run_tracker(TRACKER, synth, out, benchmark="syn", progress=False)
    assert report.done == list(synth.names)
    return results.load_results(out, "syn", TRACKER)


def test_got10k_experiment_run_gives_the_project_runners_boxes(synth, ours, tmp_path):
    pytest.importorskip("got10k")
    from got10k.experiments.otb import ExperimentOTB

    tracker = adapters.got10k_tracker(TRACKER, name="ours-kcf")
    assert tracker.name == "ours-kcf"
    from got10k.trackers import Tracker

    assert isinstance(tracker, Tracker)

    class _Dataset(list):  # what ExperimentOTB iterates: (img_files, anno) per sequence
        pass

    dataset = _Dataset([([str(f) for f in s.frames], s.gt) for s in synth])
    dataset.seq_names = list(synth.names)
    exp = ExperimentOTB.__new__(ExperimentOTB)  # its __init__ would download OTB
    exp.dataset = dataset
    exp.result_dir = str(tmp_path / "results")
    exp.report_dir = str(tmp_path / "reports")
    exp.nbins_iou, exp.nbins_ce = 21, 51
    exp.run(tracker)

    for s in synth:
        mine = ours[s.name]
        assert not np.allclose(mine[-1], mine[0])  # the target moved: a real tracking check
        theirs = np.loadtxt(tmp_path / "results" / "ours-kcf" / f"{s.name}.txt", delimiter=",")
        # got10k writes '%.3f': equal to our boxes rounded to 3 decimals
        np.testing.assert_allclose(theirs, mine, atol=5e-4 + 1e-9, rtol=0)
        times = np.loadtxt(tmp_path / "results" / "ours-kcf" / "times" / f"{s.name}_time.txt")
        assert times.shape == (len(s),) and np.all(times > 0)
        # and unrounded, straight from the loop got10k calls
        boxes, secs = tracker.track([str(f) for f in s.frames], s.gt[0])
        np.testing.assert_array_equal(boxes, mine)
    perf = exp.report(["ours-kcf"])["ours-kcf"]
    assert set(perf["seq_wise"]) == set(synth.names)


def test_got10k_base_loop_with_pil_images_runs(synth, ours):
    """got10k's own Tracker.track (PIL decoding) drives init/update: same boxes up to the decoder."""
    pytest.importorskip("got10k")
    from got10k.trackers import Tracker

    tracker = adapters.got10k_tracker(TRACKER)
    s = next(iter(synth))
    boxes, times = Tracker.track(tracker, [str(f) for f in s.frames], s.gt[0])
    assert boxes.shape == (len(s), 4) and times.shape == (len(s),)
    # PIL's and OpenCV's JPEG decoders may differ by a grey level: close, not necessarily equal
    np.testing.assert_allclose(boxes, ours[s.name], atol=2.0)


def test_a_fresh_tracker_per_sequence(synth, ours):
    """Tracking sequence B after A gives B's boxes as if B came first (no state carried over)."""
    pytest.importorskip("got10k")
    tracker = adapters.got10k_tracker(TRACKER)
    a, b = list(synth)
    tracker.track([str(f) for f in a.frames], a.gt[0])
    boxes, _ = tracker.track([str(f) for f in b.frames], b.gt[0])
    np.testing.assert_array_equal(boxes, ours[b.name])


def test_errors():
    pytest.importorskip("got10k")
    with pytest.raises(KeyError, match="no-such-tracker"):
        adapters.got10k_tracker("no-such-tracker")
    trk = adapters.got10k_tracker(TRACKER)
    with pytest.raises(RuntimeError, match="update\\(\\) before init\\(\\)"):
        trk.update(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        adapters.as_rgb_array(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        adapters.as_rgb_array(np.zeros((8, 8, 4), np.uint8))


def test_without_got10k_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "got10k", None)
    monkeypatch.setitem(sys.modules, "got10k.trackers", None)
    monkeypatch.setattr(adapters, "_CLASS", None)
    with pytest.raises(ImportError, match="pip install got10k"):
        adapters.got10k_tracker(TRACKER)
