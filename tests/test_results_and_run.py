"""Tests of rankatt_lib.evaluation.results, rankatt_lib.registry and rankatt_lib.evaluation.run
(on a tiny on-the-fly dataset)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from rankatt_lib import registry
from rankatt_lib.evaluation import results, run

# --------------------------------------------------------------------------- a tiny dataset


def _gt(n: int, x0: float) -> np.ndarray:
    """A 6x6 box moving one pixel right per frame."""
    return np.array([[x0 + i, 5.0, 6.0, 6.0] for i in range(n)])


def _make_otb_folder(root: Path, specs: dict[str, tuple[int, tuple[str, ...], float]]) -> Path:
    """OTB-format sequences: SEQ/img/0001.png..., SEQ/groundtruth_rect.txt, SEQ/attributes.txt."""
    for name, (n, attrs, x0) in specs.items():
        img = root / name / "img"
        img.mkdir(parents=True)
        gt = _gt(n, x0)
        for i in range(n):
            frame = np.zeros((32, 32, 3), np.uint8)
            x, y = int(gt[i, 0]) - 1, int(gt[i, 1]) - 1
            frame[y : y + 6, x : x + 6] = (0, 128, 255)
            assert cv2.imwrite(str(img / f"{i + 1:04d}.png"), frame)
        np.savetxt(root / name / "groundtruth_rect.txt", gt, fmt="%d", delimiter=",")
        (root / name / "attributes.txt").write_text(",".join(attrs))
    return root


@dataclass
class FakeSequence:
    """Just the interface the runner may use (name, gt, len, image, attributes)."""

    name: str
    folder: Path
    gt: np.ndarray
    attributes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.gt)

    def image(self, i: int) -> np.ndarray:
        bgr = cv2.imread(str(self.folder / "img" / f"{i + 1:04d}.png"), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class FakeDataset:
    def __init__(self, root: Path) -> None:
        self.name = "tiny"
        self._seqs = []
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            gt = np.loadtxt(d / "groundtruth_rect.txt", delimiter=",", ndmin=2)
            attrs = tuple(a for a in (d / "attributes.txt").read_text().strip().split(",") if a)
            self._seqs.append(FakeSequence(d.name, d, gt, attrs))

    def __iter__(self):
        return iter(self._seqs)

    def __len__(self) -> int:
        return len(self._seqs)


SPECS = {"alpha": (4, ("IV",), 3.0), "beta": (3, ("OCC", "IV"), 5.0), "gamma": (5, (), 7.0)}


@pytest.fixture
def dataset(tmp_path: Path) -> FakeDataset:
    return FakeDataset(_make_otb_folder(tmp_path / "data", SPECS))


class Follower:
    """Moves its box one pixel right per frame: exactly the ground truth of the tiny dataset."""

    calls: list[tuple[str, int]] = []

    def __init__(self, speed: float = 1.0) -> None:
        self.box = None
        self.speed = speed

    def init(self, image: np.ndarray, box: np.ndarray) -> None:
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        self.box = np.asarray(box, float).copy()
        Follower.calls.append(("init", int(image.shape[0])))

    def update(self, image: np.ndarray) -> np.ndarray:
        Follower.calls.append(("update", int(image.shape[0])))
        self.box = self.box + [self.speed, 0.0, 0.0, 0.0]
        return self.box


@pytest.fixture
def no_tracker_modules(monkeypatch):
    """Isolate the registry from the project's tracker modules."""
    monkeypatch.setattr(registry, "TRACKER_MODULES", ())
    monkeypatch.setattr(registry, "_modules_loaded", False)
    Follower.calls = []
    yield
    for name in ("test-follower", "test-exploder", "from-good-module"):
        registry.unregister(name)


# --------------------------------------------------------------------------- results files


def test_boxes_round_trip_exactly(tmp_path):
    boxes = np.array([[1.0, 2.5, 10.0, 20.0], [1 / 3, np.nan, 1e-9, 123456.789]])
    path = results.write_boxes(tmp_path / "new" / "deeper" / "seq.txt", boxes)
    assert path.read_text().splitlines()[0] == "1.0,2.5,10.0,20.0"
    back = results.read_boxes(path)
    np.testing.assert_array_equal(back, boxes)  # exact, NaN included


def test_read_boxes_accepts_all_separators(tmp_path):
    f = tmp_path / "gt.txt"
    f.write_text("1,2,3,4\n5\t6\t7\t8\n9 10  11 12\n\n13, 14,15 ,16,\n")
    np.testing.assert_array_equal(results.read_boxes(f), np.arange(1, 17, dtype=float).reshape(4, 4))


def test_read_boxes_errors_name_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("1,2,3,4\n1,2,3,4\n1,2,x,4\n")
    with pytest.raises(ValueError, match=r"bad\.txt:3: not a number"):
        results.read_boxes(f)
    f.write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(ValueError, match=r"bad\.txt:2: expected 4 values"):
        results.read_boxes(f)
    assert results.read_boxes(_write(tmp_path / "empty.txt", "")).shape == (0, 4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        results.write_boxes(tmp_path / "x.txt", np.ones((3, 5)))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_times_round_trip(tmp_path):
    t = np.array([0.5, 0.001, 2.0])
    results.write_times(tmp_path / "s_time.txt", t)
    np.testing.assert_array_equal(results.read_times(tmp_path / "s_time.txt"), t)
    with pytest.raises(ValueError, match="1-D"):
        results.write_times(tmp_path / "s_time.txt", np.ones((2, 2)))


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "r" / "seq.txt"
    results.write_boxes(target, np.ones((2, 4)))

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        results.write_boxes(target, np.zeros((5, 4)))
    with pytest.raises(OSError, match="disk full"):
        results.write_boxes(tmp_path / "r" / "other.txt", np.zeros((5, 4)))
    # the old file is intact, the new one was never created, no temp file is left behind
    np.testing.assert_array_equal(results.read_boxes(target), np.ones((2, 4)))
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["seq.txt"]


def test_layout_and_load_results(tmp_path):
    p = results.result_path(tmp_path, "OTB2015", "CSRT", "Basketball")
    assert p == tmp_path / "OTB2015" / "CSRT" / "Basketball.txt"
    assert results.times_path(tmp_path, "OTB2015", "CSRT", "Basketball").name == "Basketball_time.txt"
    with pytest.raises(ValueError, match="separator"):
        results.result_path(tmp_path, "OTB2015", "CSRT", "a/b")
    results.write_boxes(p, np.ones((3, 4)))
    results.write_boxes(results.result_path(tmp_path, "OTB2015", "CSRT", "Jogging.1"), np.zeros((2, 4)))
    results.write_times(results.times_path(tmp_path, "OTB2015", "CSRT", "Basketball"), np.ones(3))
    (p.parent / "failures.log").write_text("whatever")
    (p.parent / ".Basketball.txt.abc.tmp").write_text("partial")
    loaded = results.load_results(tmp_path, "OTB2015", "CSRT")
    assert list(loaded) == ["Basketball", "Jogging.1"]
    assert loaded["Basketball"].shape == (3, 4) and loaded["Jogging.1"].shape == (2, 4)
    with pytest.raises(FileNotFoundError, match="KCF"):
        results.load_results(tmp_path, "OTB2015", "KCF")


# --------------------------------------------------------------------------- registry


def test_register_and_make(no_tracker_modules):
    @registry.register("test-follower")
    def make_follower(**kwargs):
        return Follower(**kwargs)

    assert "test-follower" in registry.available_trackers()
    t = registry.make_tracker("test-follower", speed=3.0)
    assert isinstance(t, Follower) and t.speed == 3.0
    assert isinstance(t, registry.Tracker)
    with pytest.raises(KeyError, match="unknown tracker 'nope'; available: .*test-follower"):
        registry.make_tracker("nope")

    with pytest.raises(ValueError, match="already registered"):

        @registry.register("test-follower")
        def another(**kwargs):
            return Follower()

    registry.register("test-follower")(make_follower)  # the same function again (a reload) is fine


def test_lazy_import_skips_missing_modules_but_not_broken_ones(tmp_path, monkeypatch, no_tracker_modules):
    (tmp_path / "rankatt_test_good_trackers.py").write_text(
        "from rankatt_lib.registry import register\n"
        "@register('from-good-module')\n"
        "def make():\n"
        "    return object()\n"
    )
    (tmp_path / "rankatt_test_broken_trackers.py").write_text("import rankatt_surely_absent_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in ("rankatt_test_good_trackers", "rankatt_test_broken_trackers"):
        monkeypatch.delitem(sys.modules, mod, raising=False)

    monkeypatch.setattr(registry, "TRACKER_MODULES", ("rankatt_test_not_there", "rankatt_test_good_trackers"))
    assert "from-good-module" in registry.available_trackers()

    monkeypatch.setattr(registry, "TRACKER_MODULES", ("rankatt_test_broken_trackers",))
    monkeypatch.setattr(registry, "_modules_loaded", False)
    with pytest.raises(ModuleNotFoundError, match="rankatt_surely_absent_dependency"):
        registry.available_trackers()


# --------------------------------------------------------------------------- runner


def test_run_writes_results_and_resumes(tmp_path, dataset, no_tracker_modules):
    made = []

    def factory():
        made.append(1)
        return Follower()

    out = tmp_path / "results"
    rep = run.run_tracker(factory, dataset, out, progress=False, tracker_name="Follower")
    assert rep.done == ["alpha", "beta", "gamma"] and rep.skipped == [] and rep.failed == {}
    assert len(made) == 3  # a fresh tracker per sequence
    folder = out / "tiny" / "Follower"
    assert rep.results_dir == folder
    beta = results.read_boxes(folder / "beta.txt")
    np.testing.assert_array_equal(beta, _gt(3, 5.0))  # frame 1 = the GT box, then the tracker's
    times = results.read_times(folder / "beta_time.txt")
    assert times.shape == (3,) and np.all(times >= 0)
    assert rep.frames == {"alpha": 4, "beta": 3, "gamma": 5}
    assert Follower.calls.count(("init", 32)) == 3 and Follower.calls.count(("update", 32)) == 3 + 2 + 4

    # everything done: nothing is tracked again
    Follower.calls = []
    rep2 = run.run_tracker(factory, dataset, out, progress=False, tracker_name="Follower")
    assert rep2.skipped == ["alpha", "beta", "gamma"] and rep2.done == []
    assert len(made) == 3 and Follower.calls == []

    # a removed result is redone, alone
    (folder / "beta.txt").unlink()
    rep3 = run.run_tracker(factory, dataset, out, progress=False, tracker_name="Follower")
    assert rep3.done == ["beta"] and rep3.skipped == ["alpha", "gamma"] and len(made) == 4

    rep4 = run.run_tracker(
        factory, dataset, out, progress=False, tracker_name="Follower", sequences=["gamma"], overwrite=True
    )
    assert rep4.done == ["gamma"] and len(made) == 5


def test_a_raising_tracker_fails_one_sequence_only(tmp_path, dataset, no_tracker_modules):
    class Exploder(Follower):
        """Raises on the third frame of the sequence starting at x = 5 (beta)."""

        def update(self, image):
            if self.box[0] == 6.0:
                raise RuntimeError("lost the target")
            return super().update(image)

    @registry.register("test-exploder")
    def make(**kwargs):
        return Exploder(**kwargs)

    out = tmp_path / "results"
    rep = run.run_tracker("test-exploder", dataset, out, progress=False)
    assert rep.tracker == "test-exploder"
    assert rep.done == ["alpha", "gamma"]
    assert rep.failed == {"beta": "RuntimeError: lost the target"}
    folder = out / "tiny" / "test-exploder"
    assert not (folder / "beta.txt").exists() and not (folder / "beta_time.txt").exists()  # no partial result
    log = (folder / "failures.log").read_text()
    assert "beta: RuntimeError: lost the target" in log and "Traceback" in log
    assert "FAILED beta: RuntimeError: lost the target" in rep.summary()
    assert results.load_results(out, "tiny", "test-exploder").keys() == {"alpha", "gamma"}


def test_run_rejects_bad_arguments(tmp_path, dataset, no_tracker_modules):
    with pytest.raises(KeyError, match="unknown tracker"):
        run.run_tracker("no-such-tracker", dataset, tmp_path, progress=False)
    with pytest.raises(KeyError, match="delta"):
        run.run_tracker(Follower, dataset, tmp_path, sequences=["alpha", "delta"], progress=False)
    with pytest.raises(ValueError, match="tracker_name"):
        run.run_tracker(lambda: Follower(), dataset, tmp_path, progress=False)


def test_a_tracker_returning_garbage_is_a_failure(tmp_path, dataset, no_tracker_modules):
    class Garbage(Follower):
        def update(self, image):
            return [1.0, 2.0]

    rep = run.run_tracker(Garbage, dataset, tmp_path, sequences=["beta"], progress=False)
    assert "expected x, y, w, h" in rep.failed["beta"]


def test_cli_runs_and_scores(tmp_path, dataset, monkeypatch, capsys, no_tracker_modules):
    seen_kwargs = []

    @registry.register("test-follower")
    def make(**kwargs):
        seen_kwargs.append(kwargs)
        return Follower()

    monkeypatch.setattr(run, "_load_dataset", lambda path, benchmark, names: (dataset, benchmark, names))
    out = tmp_path / "res"
    code = run.main(
        [
            "--tracker",
            "test-follower",
            "--dataset",
            "ignored",
            "--results",
            str(out),
            "--sequences",
            "alpha,gamma",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "2 done, 0 skipped (already done), 0 failed" in text
    assert "otb protocol, 2 sequence(s): precision@20 1.000  AUC 0.952" in text
    assert seen_kwargs == [{"device": "cpu"}, {"device": "cpu"}]
    assert sorted(os.listdir(out / "tiny" / "test-follower")) == [
        "alpha.txt",
        "alpha_time.txt",
        "gamma.txt",
        "gamma_time.txt",
    ]
    code = run.main(["--tracker", "nope", "--dataset", "ignored", "--results", str(out)])
    assert code == 2 and "unknown tracker 'nope'" in capsys.readouterr().err


def test_cli_with_the_real_otb_folder_loader(tmp_path, capsys, no_tracker_modules):
    data = pytest.importorskip("rankatt_lib.data")
    root = _make_otb_folder(tmp_path / "data", SPECS)
    registry.register("test-follower")(lambda **kw: Follower())
    ds = data.OTBFormatDataset(root)
    assert sorted(ds.names) == ["alpha", "beta", "gamma"]
    code = run.main(
        [
            "--tracker",
            "test-follower",
            "--dataset",
            str(root),
            "--results",
            str(tmp_path / "res"),
            "--benchmark",
            "tiny",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "precision@20 1.000  AUC 0.952" in capsys.readouterr().out


# --------------------------------------------------------------------------- issue 18: the runner on real folders


class Const:
    """Keeps its first box (works on any frame size); counts its inits."""

    inits = 0

    def init(self, image, box):
        Const.inits += 1
        self.box = np.asarray(box, float)

    def update(self, image):
        return self.box


def test_cli_on_a_real_otb_folder(tmp_path, capsys, no_tracker_modules):
    """The OTB loader is used (David 300-770, BlurCar1 247-988, Jogging.1/.2), sequences are picked
    by name before loading, and a broken sequence fails alone, with its reason."""
    from fixtures_otb import make_otb_tree

    root = make_otb_tree(tmp_path / "OTB", ["Jogging.1", "Jogging.2", "David", "BlurCar1"])
    registry.register("test-follower")(lambda **kw: Const())
    res = tmp_path / "res"
    base = ["--tracker", "test-follower", "--dataset", str(root), "--results", str(res), "--no-progress"]
    assert run.main([*base, "--sequences", "Jogging-1"]) == 0  # another toolkit's spelling
    out = capsys.readouterr().out
    assert "1 done, 0 skipped (already done), 0 failed" in out
    assert results.read_boxes(res / "OTB2015" / "test-follower" / "Jogging.1.txt").shape == (307, 4)

    (root / "David" / "img" / "0400.jpg").unlink()  # David is now broken
    code = run.main(base)
    captured = capsys.readouterr()
    assert code == 1
    assert "2 done, 1 skipped (already done), 1 failed" in captured.out
    assert "FAILED David: MissingDataError: sequence David: 1 of 471 frames are missing" in captured.out
    assert "0400.jpg" in captured.out and "failures.log" in captured.err
    assert "note: 4 of the 100 OTB2015 sequences" in captured.err
    assert results.read_boxes(res / "OTB2015" / "test-follower" / "BlurCar1.txt").shape == (742, 4)
    assert "David: MissingDataError" in (res / "OTB2015" / "test-follower" / run.FAILURES_LOG).read_text()

    # --benchmark otb2013 reads the folder as OTB2013 (BlurCar1 is not in it) into OTB2013/, where
    # the finished OTB2015 result of the same frames is copied, not tracked again
    assert run.main([*base, "--benchmark", "otb2013", "--sequences", "BlurCar1"]) == 2
    assert "OTB2013 does not contain BlurCar1" in capsys.readouterr().err
    Const.inits = 0
    assert run.main([*base, "--benchmark", "otb2013", "--sequences", "Jogging.1"]) == 0
    assert "0 done, 0 skipped (already done), 1 copied from another folder" in capsys.readouterr().out
    copy = res / "OTB2013" / "test-follower" / "Jogging.1.txt"
    assert copy.read_bytes() == (res / "OTB2015" / "test-follower" / "Jogging.1.txt").read_bytes()
    assert Const.inits == 0


def test_cli_usage_errors_are_error_lines(tmp_path, capsys, no_tracker_modules):
    root = _make_otb_folder(tmp_path / "data", SPECS)
    registry.register("test-follower")(lambda **kw: Follower())
    base = ["--tracker", "test-follower", "--results", str(tmp_path / "res"), "--no-progress"]
    assert run.main([*base, "--dataset", str(root), "--sequences", "alpha,delta"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "delta" in err and "Traceback" not in err
    assert run.main([*base, "--dataset", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "error: --dataset" in err and "nowhere: no such folder" in err
    with pytest.raises(SystemExit) as exc:
        run.main(base)  # no --dataset at all
    assert exc.value.code == 2 and "--dataset" in capsys.readouterr().err


def test_an_unwritable_results_folder_is_found_before_tracking(tmp_path, dataset, capsys, no_tracker_modules):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the results folder should go")
    with pytest.raises(OSError, match=r"cannot write results to .*not_a_folder/tiny/Follower .*nothing was tracked"):
        run.run_tracker(Follower, dataset, blocker, progress=False)
    assert Follower.calls == []  # nothing tracked, not a full sequence then a traceback
    registry.register("test-follower")(lambda **kw: Follower())
    root = tmp_path / "data"  # the fixture's folder
    code = run.main(["--tracker", "test-follower", "--dataset", str(root), "--results", str(blocker), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot write results to") and "Traceback" not in err
    assert Follower.calls == []


def test_a_result_file_with_the_wrong_row_count_is_tracked_again(tmp_path, dataset, no_tracker_modules):
    out = tmp_path / "results"
    rep = run.run_tracker(Follower, dataset, out, progress=False)
    folder = out / "tiny" / "Follower"
    gamma_before = (folder / "gamma.txt").read_bytes()
    (folder / "alpha.txt").write_text("4.0,5.0,6.0,6.0\n5.0,5.0,6.0,6.0\n")  # truncated: 2 of 4 rows
    (folder / "beta.txt").write_text("")  # empty
    Follower.calls = []
    rep = run.run_tracker(Follower, dataset, out, progress=False)
    assert rep.done == ["alpha", "beta"] and rep.skipped == ["gamma"] and rep.failed == {}
    assert "has 2 rows, the sequence has 4 frames" in rep.redone["alpha"] and "alpha.txt.bad" in rep.redone["alpha"]
    assert "re-tracked beta:" in rep.summary()
    np.testing.assert_array_equal(results.read_boxes(folder / "alpha.txt"), _gt(4, 3.0))
    assert (folder / "alpha.txt.bad").read_text() == "4.0,5.0,6.0,6.0\n5.0,5.0,6.0,6.0\n"  # kept
    assert (folder / "beta.txt.bad").read_text() == ""
    assert (folder / "gamma.txt").read_bytes() == gamma_before  # the finished one untouched
    assert set(results.load_results(out, "tiny", "Follower")) == {"alpha", "beta", "gamma"}
    (folder / "alpha.txt").write_text("1,2,x,4\n")  # unreadable: a second .bad beside the first
    rep = run.run_tracker(Follower, dataset, out, progress=False)
    assert rep.done == ["alpha"] and "alpha.txt:1: not a number" in rep.redone["alpha"]
    assert (folder / "alpha.txt.bad.1").read_text() == "1,2,x,4\n"


def test_result_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        p = results.write_boxes(tmp_path / "a.txt", np.ones((2, 4)))
        assert p.stat().st_mode & 0o777 == 0o644
        os.umask(0o027)
        q = results.write_times(tmp_path / "b_time.txt", np.ones(2))
        assert q.stat().st_mode & 0o777 == 0o640
        p.chmod(0o664)  # rewriting a file keeps its mode
        results.write_boxes(p, np.zeros((2, 4)))
        assert p.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_a_second_run_skips_the_sequence_another_run_holds(tmp_path, dataset, capsys, monkeypatch, no_tracker_modules):
    out = tmp_path / "results"
    folder = out / "tiny" / "Follower"
    held = results.SequenceLock(folder, "beta")
    assert held.acquire()
    assert not results.SequenceLock(folder, "beta").acquire()  # one holder at a time
    rep = run.run_tracker(Follower, dataset, out, progress=False)
    assert rep.done == ["alpha", "gamma"] and list(rep.busy) == ["beta"]
    assert f"pid {os.getpid()}" in rep.busy["beta"]
    assert "1 busy (another run is tracking them)" in rep.summary() and "BUSY beta" in rep.summary()
    assert not (folder / "beta.txt").exists()
    held.release()
    assert not held.path.exists()
    rep = run.run_tracker(Follower, dataset, out, progress=False)
    assert rep.done == ["beta"] and rep.skipped == ["alpha", "gamma"] and rep.busy == {}
    assert not any(p.name.endswith(".lock") for p in folder.iterdir())  # locks are removed

    # the command line says so and does not claim a complete run
    registry.register("test-follower")(lambda **kw: Follower())
    monkeypatch.setattr(run, "_load_dataset", lambda path, benchmark, names: (dataset, benchmark, names))
    tf = out / "tiny" / "test-follower"
    with results.SequenceLock(tf, "alpha"):
        code = run.main(["--tracker", "test-follower", "--dataset", "x", "--results", str(out), "--no-progress"])
    assert code == 1 and "BUSY alpha" in capsys.readouterr().out


def test_stale_temp_files_of_a_killed_run_are_removed(tmp_path, dataset, no_tracker_modules):
    out = tmp_path / "results"
    folder = out / "tiny" / "Follower"
    folder.mkdir(parents=True)
    (folder / ".alpha.txt.k3j4.tmp").write_text("1,2")
    (folder / ".alpha_time.txt.x.tmp").write_text("0.1")
    (folder / ".alphabet.txt.y.tmp").write_text("another sequence's")
    run.run_tracker(Follower, dataset, out, progress=False)
    hidden = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert hidden == [".alphabet.txt.y.tmp"]


def test_a_result_cut_inside_its_last_number_is_not_finished(tmp_path):
    """Found by tests/test_faults.py (seed 5): "...,12.0,12.0\\n" cut to "...,12.0,1" still has
    four numbers on every row and the right row count."""
    p = results.write_boxes(tmp_path / "s.txt", np.full((3, 4), 12.0))
    assert results.check_result(p, 3) is None
    p.write_bytes(p.read_bytes()[:-3])
    assert results.read_boxes(p).shape == (3, 4)
    assert results.check_result(p, 3) == f"{p} does not end with a line break (cut short while written or copied?)"
    assert "has 3 rows, the sequence has 4 frames" in results.check_result(results.write_boxes(p, np.ones((3, 4))), 4)
    p.write_text("")
    assert results.check_result(p, 3) == f"{p} has 0 rows, the sequence has 3 frames"
