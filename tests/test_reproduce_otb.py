"""Tests of rankatt_lib.experiments.experiment (``rankatt report``; ``data_scripts/reproduce_otb.py`` is its old
name): the resumable OTB reproduction and its report.

The OTB tree is a tiny one built on the fly (three real OTB names with their real frame counts,
48x48 frames of a square moving over a dark background); the trackers are OpenCV's MOSSE and a
counting tracker registered for the test, so everything runs in a few seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from data_script_loader import load_data_script

from rankatt_lib import data, evaluation, registry
from rankatt_lib.data import otb_meta
from rankatt_lib.evaluation import results
from rankatt_lib.experiments import experiment as rep

REPO = Path(__file__).resolve().parents[1]
PAPER = Path("/work/shared/paper/ranking_attention_tracking_icip2019.txt")

# Deer and Football1 are in OTB2013 (and OTB2015); KiteSurf only in OTB2015.
SEQS = ("Deer", "Football1", "KiteSurf")
SIZE, BOX = 48, 12




def _gt(n: int, seed: int) -> np.ndarray:
    """A BOX x BOX target drifting slowly inside the frame (1-based x, y)."""
    t = np.arange(n)
    x = 10 + 8 * np.sin(t / 9 + seed)
    y = 12 + 6 * np.cos(t / 11 + seed)
    return np.c_[np.round(x) + 1, np.round(y) + 1, np.full(n, BOX), np.full(n, BOX)].astype(float)


def _write_sequence(folder: Path, gt: np.ndarray, attributes: str | None = None, gt_file="groundtruth_rect.txt"):
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for i, (x, y, w, h) in enumerate(gt.astype(int)):
        frame = np.full((SIZE, SIZE, 3), 30, np.uint8)
        frame[y - 1 : y - 1 + h, x - 1 : x - 1 + w] = (40, 200, 230)
        frame[y + 2 : y + 5, x + 2 : x + 9] = (200, 40, 40)  # some texture inside the target
        assert cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), frame)
    np.savetxt(folder / gt_file, gt, fmt="%d", delimiter=",")
    if attributes is not None:
        (folder / "attributes.txt").write_text(attributes)


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("otb")
    for k, name in enumerate(SEQS):
        info = otb_meta.SEQUENCES[name]
        assert info.first == 1 and info.init_omit == 0
        _write_sequence(root / info.folder, _gt(info.n_annotated, k))
    return root


class Counter:
    """Keeps its first box; counts how often a tracker is initialised."""

    inits = 0

    def init(self, image, box):
        Counter.inits += 1
        self.box = np.asarray(box, float)

    def update(self, image):
        return self.box


@pytest.fixture
def counter():
    registry.register("test-counter")(lambda **kw: Counter())
    Counter.inits = 0
    yield Counter
    registry.unregister("test-counter")


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.txt"))}


def test_otb_run_resumes_and_its_tables_are_score_dataset(otb_root, tmp_path, counter, capsys):
    res = tmp_path / "results"
    argv = ["--otb-root", str(otb_root), "--results", str(res), "--trackers", "opencv-mosse", "test-counter"]
    argv += ["--sequences", "Deer,Football1", "KiteSurf", "--no-progress", "--track"]
    assert rep.main(argv) == 0
    # both versions ran, but the two OTB2013 sequences were tracked once: one init per sequence,
    # their results copied into OTB2015 (got10k's folder names, one per version)
    assert counter.inits == 3
    folder = res / "OTB2015" / "opencv-mosse"
    assert sorted(p.name for p in folder.glob("*.txt") if not p.name.endswith("_time.txt")) == [
        f"{n}.txt" for n in sorted(SEQS)
    ]
    assert sorted(p.name for p in (res / "OTB2013" / "opencv-mosse").glob("*.txt")) == [
        "Deer.txt", "Deer_time.txt", "Football1.txt", "Football1_time.txt"
    ]
    for n in ("Deer", "Football1"):
        for suffix in (".txt", "_time.txt"):
            copy = res / "OTB2013" / "opencv-mosse" / f"{n}{suffix}"
            assert (folder / f"{n}{suffix}").read_bytes() == copy.read_bytes()
    out = capsys.readouterr().out
    assert "opencv-mosse on OTB2015: 1 done, 0 skipped (already done), 2 copied from another folder" in out
    first = _mtimes(folder)

    # resumable: the second run tracks nothing and rewrites no result
    assert rep.main(argv) == 0
    assert counter.inits == 3
    assert _mtimes(folder) == first
    out = capsys.readouterr().out
    assert "opencv-mosse on OTB2013: 0 done, 2 skipped" in out
    assert "opencv-mosse on OTB2015: 0 done, 3 skipped" in out

    report = res / "otb-report"
    for f in ("README.md", "otb2013_ope.png", "otb2015_ope.png", "otb_paper_vs_here.csv", "otb_paper_vs_here.md"):
        assert (report / f).is_file(), f
    for key in ("otb2013", "otb2015"):
        for p in evaluation.PROTOCOLS:
            assert (report / f"{key}_results_{p}_protocol.csv").is_file()
        for stem in ("results_by_protocol", "attributes", "timing"):
            assert (report / f"{key}_{stem}.md").is_file()

    for version, names in ((2013, ["Deer", "Football1"]), (2015, list(SEQS))):
        stored = results.load_results(res, f"OTB{version}", "opencv-mosse")
        otb = data.OTB(otb_root, version=version, names=names)
        for p in ("otb", "pysot"):
            table = pd.read_csv(report / f"otb{version}_results_{p}_protocol.csv", index_col=0)
            want = evaluation.score_dataset(stored, otb, protocol=p)
            assert table.loc["opencv-mosse", "AUC"] == pytest.approx(want.auc, abs=1e-6)
            assert table.loc["opencv-mosse", "Precision@20"] == pytest.approx(want.precision, abs=1e-6)
            assert table.loc["opencv-mosse", "Sequences"] == len(names)
        want = evaluation.score_dataset(stored, otb, protocol="got10k")
        by_protocol = pd.read_csv(report / f"otb{version}_results_by_protocol.csv", index_col=0)
        assert by_protocol.loc["opencv-mosse", "got10k AUC"] == pytest.approx(want.auc, abs=1e-6)
        attrs = pd.read_csv(report / f"otb{version}_attributes.csv", index_col=0)
        ipr = [c for c in attrs.columns if c.startswith("IPR ")]
        assert ipr == [f"IPR ({len(names)})"]  # every sequence here has in-plane rotation
        want_otb = evaluation.score_dataset(stored, otb, protocol="otb")
        assert attrs.loc["opencv-mosse", ipr[0]] == pytest.approx(want_otb.attributes["IPR"].auc, abs=1e-6)

    paper = pd.read_csv(report / "otb_paper_vs_here.csv", index_col=0)
    assert paper.loc["OURS", "paper OTB2013 P@20"] == 0.906 and paper.loc["OURS", "paper OTB2015 AUC"] == 0.595
    assert {"here OTB2013 AUC", "here OTB2015 AUC"} <= set(paper.columns)
    assert "OTB2015" in (report / "README.md").read_text()


def test_overwrite_tracks_a_shared_sequence_once(otb_root, tmp_path, counter):
    res = tmp_path / "results"
    argv = ["--otb-root", str(otb_root), "--results", str(res), "--trackers", "test-counter", "--no-progress"]
    argv += ["--sequences", "Deer,KiteSurf", "--track"]
    assert rep.main(argv) == 0 and counter.inits == 2
    # Deer is tracked again for OTB2013 and that fresh result replaces OTB2015's: not tracked twice
    old = (res / "OTB2015" / "test-counter" / "Deer_time.txt").read_text()
    assert rep.main([*argv, "--overwrite"]) == 0 and counter.inits == 4
    new = (res / "OTB2015" / "test-counter" / "Deer_time.txt").read_text()
    assert new == (res / "OTB2013" / "test-counter" / "Deer_time.txt").read_text() and new != old


def test_results_in_the_old_shared_otb_folder_are_copied_not_tracked(otb_root, tmp_path, counter, capsys):
    res = tmp_path / "results"
    old = res / "OTB" / "test-counter"
    for k, n in enumerate(SEQS):
        gt = data.OTB(otb_root, version=2015, names=[n])[n].gt
        results.write_boxes(old / f"{n}.txt", gt + k)
        results.write_times(old / f"{n}_time.txt", np.full(len(gt), 0.01))
    argv = ["--otb-root", str(otb_root), "--results", str(res), "--trackers", "test-counter", "--no-progress"]
    argv += ["--sequences", ",".join(SEQS)]
    assert rep.main(argv) == 1  # rankatt report scores, tracks nothing: nothing to score; where the old results are
    assert counter.inits == 0 and not (res / "OTB2015" / "test-counter").exists()
    assert "old shared OTB folder" in capsys.readouterr().err
    assert rep.main([*argv, "--track"]) == 0 and counter.inits == 0
    for version in (2013, 2015):
        for n in (SEQS if version == 2015 else ("Deer", "Football1")):
            copy = res / f"OTB{version}" / "test-counter" / f"{n}.txt"
            assert copy.read_bytes() == (old / f"{n}.txt").read_bytes()
    table = pd.read_csv(res / "otb-report" / "otb2015_results_otb_protocol.csv", index_col=0)
    assert table.loc["test-counter", "Sequences"] == 3


def test_the_old_script_name_tracks_unless_told_score_only():
    wrapper = load_data_script("reproduce_otb")
    assert wrapper._argv(["--device", "cuda"]) == ["--track", "--device", "cuda"]
    assert wrapper._argv(["--score-only"]) == ["--score-only"]
    assert rep.main(["--track", "--score-only"]) == 2


def test_other_benchmark_is_labelled_as_such_and_score_only_tracks_nothing(tmp_path, monkeypatch):
    ds = tmp_path / "synthetic"
    gts = {}
    for k, (name, attrs) in enumerate((("syn_a", "OCC,IV"), ("syn_b", "IV"), ("syn_c", ""))):
        gts[name] = _gt(20 + 5 * k, k)
        _write_sequence(ds / name, gts[name], attrs)
    res = tmp_path / "results"
    rng = np.random.default_rng(0)
    for name, gt in gts.items():
        results.write_boxes(results.result_path(res, "synthetic", "kcf", name), gt + rng.normal(0, 3, gt.shape))
    results.write_boxes(results.result_path(res, "synthetic", "mosse", "syn_a"), gts["syn_a"])  # incomplete

    def no_tracking(*args, **kwargs):
        raise AssertionError("--score-only must not track")

    monkeypatch.setattr(rep.run, "run_tracker", no_tracking)
    argv = ["--dataset", str(ds), "--benchmark", "synthetic", "--score-only", "--results", str(res)]
    assert rep.main([*argv, "--trackers", "kcf", "mosse", "--no-progress"]) == 0

    report = res / "synthetic" / "report"
    names = sorted(p.name for p in report.iterdir())
    assert "synthetic_ope.png" in names and "synthetic_paper_vs_here.md" in names
    assert all(n == "README.md" or n.startswith("synthetic_") for n in names)
    assert not (res / "OTB").exists()
    readme = (report / "README.md").read_text()
    assert "# Reproduction report: synthetic benchmark" in readme and "not on OTB" in readme
    assert "mosse: 2 of 3 sequences missing" in readme
    assert not re.search(r"OTB20\d\d (results|benchmark)|## OTB", readme)
    paper_md = (report / "synthetic_paper_vs_here.md").read_text()
    assert "NOT COMPARABLE" in paper_md and "here synthetic benchmark AUC" in paper_md

    table = pd.read_csv(report / "synthetic_results_otb_protocol.csv", index_col=0)
    assert list(table.index) == ["kcf"]  # the incomplete tracker is not scored
    want = evaluation.score_dataset(results.load_results(res, "synthetic", "kcf"), data.OTBFormatDataset(ds))
    assert table.loc["kcf", "AUC"] == pytest.approx(want.auc, abs=1e-6)
    assert table.loc["kcf", "Precision@20"] == pytest.approx(want.precision, abs=1e-6)


def test_missing_otb_root_says_how_to_download(tmp_path, capsys):
    missing = tmp_path / "OTB"
    assert rep.main(["--otb-root", str(missing), "--results", str(tmp_path / "r"), "--score-only"]) == 2
    err = capsys.readouterr().err
    assert "OTB is not on disk" in err and str(missing) in err
    assert "rankatt download --dataset otb2015" in err
    with pytest.raises(rep.OTBMissingError, match="rankatt download --dataset otb2013"):
        rep.otb_benchmarks(missing, versions=[2013])
    # a root without the sequences: the library's message, with the command
    missing.mkdir()
    assert rep.main(["--otb-root", str(missing), "--versions", "2013", "--score-only"]) == 2
    err = capsys.readouterr().err
    assert "51 of 51 sequences are missing" in err and "rankatt download --dataset otb2013" in err


def test_usage_errors(tmp_path, capsys):
    assert rep.main(["--trackers", "no-such-tracker", "--score-only"]) == 2
    assert "unknown tracker(s) no-such-tracker" in capsys.readouterr().err
    assert rep.main(["--dataset", str(tmp_path), "--score-only"]) == 2
    assert "--dataset and --benchmark go together" in capsys.readouterr().err


def test_device_goes_only_to_trackers_that_take_one():
    assert rep.tracker_kwargs("csrt", "cuda") == {}
    assert rep.tracker_kwargs("rankatt", "cuda") == {"device": "cuda"}
    assert rep.tracker_kwargs("kcf", None) == {}


def test_otb_frame_counts():
    # 51 / 100 targets; Tiger1 is tracked from frame 6 (5 frames fewer than its 354 rows)
    assert rep.OTB_FRAMES["OTB2013"] == (51, 29486)
    assert rep.OTB_FRAMES["OTB2015"] == (100, 59035)


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text is not on this machine")
def test_paper_figures_are_the_papers_legends():
    legends = re.findall(r"^(\w+) \[(0\.\d{3})\]$", PAPER.read_text(), flags=re.MULTILINE)
    assert len(legends) == 32  # Fig. 6: 4 plots x 8 trackers
    blocks = [legends[i : i + 8] for i in range(0, 32, 8)]
    order = [("OTB2013", "precision"), ("OTB2013", "auc"), ("OTB2015", "precision"), ("OTB2015", "auc")]
    for block, (version, metric) in zip(blocks, order, strict=True):
        assert [(n, float(v)) for n, v in block] == list(rep.PAPER_FIG6[version][metric].items())


def test_a_truncated_result_is_named_on_the_console_and_tracked_again(otb_root, tmp_path, counter, capsys):
    """--score-only on a result with too few rows said only the benchmark's name and exit 1."""
    res = tmp_path / "results"
    argv = ["--otb-root", str(otb_root), "--results", str(res), "--trackers", "test-counter", "--no-progress"]
    argv += ["--versions", "2013", "--sequences", "Deer,Football1", "--track"]
    assert rep.main(argv) == 0 and counter.inits == 2
    deer = res / "OTB2013" / "test-counter" / "Deer.txt"
    rows = deer.read_text().splitlines()
    deer.write_text("\n".join(rows[:10]) + "\n")
    capsys.readouterr()
    assert rep.main([a for a in argv if a != "--track"]) == 1
    err = capsys.readouterr().err
    assert f"{deer} has 10 rows, the sequence has {len(rows)} frames" in err
    assert "again with --track" in err
    assert "damaged result files of test-counter" in (res / "otb-report" / "README.md").read_text()
    assert rep.main(argv) == 0 and counter.inits == 3  # tracked again: only Deer
    assert len(deer.read_text().splitlines()) == len(rows)
    assert len(deer.with_name("Deer.txt.bad").read_text().splitlines()) == 10


def test_an_unwritable_results_folder_is_an_error_line(otb_root, tmp_path, counter, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    argv = ["--otb-root", str(otb_root), "--results", str(blocker / "results"), "--trackers", "test-counter"]
    assert rep.main([*argv, "--sequences", "Deer", "--no-progress", "--track"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write results to") and counter.inits == 0
