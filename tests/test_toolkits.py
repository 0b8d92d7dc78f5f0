"""Tests of rankatt_lib.toolkits and the name/timing matching in rankatt_lib.evaluation.results: other toolkits'
result folders and metadata, written and read back, on tiny generated OTB trees.

Fixtures that stand for another toolkit's files are written here the way that toolkit's code writes
them (np.savetxt with its format and delimiter, its file names), not with our writers.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from fixtures_otb import make_otb_tree

from rankatt_lib import data, evaluation, toolkits
from rankatt_lib.evaluation import results

NAMES = ["Deer", "Jogging.1", "Jogging.2", "Human4.2", "Tiger1"]


# --------------------------------------------------------------------------- names and timing


@pytest.mark.parametrize(
    "name, got10k, pysot, pytracking, mat",
    [
        ("Jogging.1", "Jogging.1", "Jogging-1", "Jogging_1", "jogging-1"),
        ("Skating2.2", "Skating2.2", "Skating2-2", "Skating2_2", "skating2-2"),
        ("Human4.2", "Human4", "Human4-2", "Human4_2", "human4-2"),
        ("FaceOcc1", "FaceOcc1", "FaceOcc1", "FaceOcc1", "faceocc1"),
    ],
)
def test_toolkit_spellings(name, got10k, pysot, pytracking, mat):
    """got10k datasets/otb.py, pysot OTB100.json keys, pytracking otbdataset.py, OTB configSeqs."""
    assert toolkits.toolkit_name(name, "got10k") == got10k
    assert toolkits.toolkit_name(name, "pysot") == pysot
    assert toolkits.toolkit_name(name, "pytracking") == pytracking
    assert toolkits.toolkit_name(name, "otb-mat") == mat
    for spelled in (got10k, pysot, pytracking, mat):
        assert results.match_names([spelled], ["Deer", name]) == {name: spelled}


def test_unknown_toolkit_is_named():
    with pytest.raises(ValueError, match="unknown toolkit 'vot'.*got10k, pysot, pytracking, otb-mat"):
        toolkits.toolkit_name("Deer", "vot")


def test_match_names_rules():
    ds = ["Jogging.1", "Jogging.2", "Human4.2", "seq_01"]
    # exact names win, pysot's old lower-case files match, Human4 (got10k) is Human4.2
    got = results.match_names(["Jogging.1", "jogging_2", "Human4", "seq_01", "Other"], ds)
    assert got == {"Jogging.1": "Jogging.1", "Jogging.2": "jogging_2", "Human4.2": "Human4", "seq_01": "seq_01"}
    # a dataset that really has a Human4 keeps its own
    assert results.match_names(["Human4"], ["Human4", "Human4.2"]) == {"Human4": "Human4"}
    with pytest.raises(ValueError, match=r"'Jogging.1': several results match it \(Jogging-1, Jogging_1\)"):
        results.match_names(["Jogging-1", "Jogging_1"], ds)


def _planted(gt: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = gt + rng.normal(0.0, 3.0, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1.0
    return pred


def test_score_dataset_finds_results_under_other_spellings():
    """Before: KeyError 'no result for ... Jogging.1'. Now every toolkit's name scores the same."""
    gts = {n: np.array([[10.0 + i, 20.0, 30.0, 40.0] for i in range(12)]) for n in ("Jogging.1", "Human4.2", "Deer")}
    ds = [SimpleNamespace(name=n, gt=g, attributes=("OCC",)) for n, g in gts.items()]
    preds = {n: _planted(g, k) for k, (n, g) in enumerate(gts.items())}
    for protocol in evaluation.PROTOCOLS:
        ours = evaluation.score_dataset(preds, ds, protocol=protocol)
        for toolkit in ("got10k", "pysot", "pytracking", "otb-mat"):
            theirs = {toolkits.toolkit_name(n, toolkit): b for n, b in preds.items()}
            s = evaluation.score_dataset(theirs, ds, protocol=protocol)
            assert (s.auc, s.precision) == (ours.auc, ours.precision)
            assert sorted(s.sequences) == sorted(gts)
    with pytest.raises(KeyError, match="no result for 1 sequence"):
        evaluation.score_dataset({"Jogging-1": preds["Jogging.1"]}, ds[:2])


def test_find_times_reads_both_layouts(tmp_path):
    results.write_times(tmp_path / "A_time.txt", [0.5, 0.25])
    results.write_times(tmp_path / "times" / "B_time.txt", [0.125])
    np.testing.assert_array_equal(results.read_times(results.find_times(tmp_path, "A")), [0.5, 0.25])
    np.testing.assert_array_equal(results.read_times(results.find_times(tmp_path, "B")), [0.125])
    assert results.find_times(tmp_path, "C") is None
    # beside the boxes wins over times/
    results.write_times(tmp_path / "times" / "A_time.txt", [9.0])
    np.testing.assert_array_equal(results.read_times(results.find_times(tmp_path, "A")), [0.5, 0.25])


# --------------------------------------------------------------------------- round trips


@pytest.fixture(scope="module")
def otb(tmp_path_factory):
    root = make_otb_tree(tmp_path_factory.mktemp("otb") / "OTB", NAMES)
    ds = data.OTB(root, version=2015, names=NAMES)
    seqs = {s.name: s for s in ds}
    preds = {}
    for k, (n, s) in enumerate(seqs.items()):
        p = _planted(s.gt, k)
        p[3] = [np.nan, np.nan, np.nan, np.nan]  # a lost frame
        p[4, 2] = 0.0  # a zero width
        preds[n] = p
    times = {n: np.linspace(0.01, 0.02, len(p)) for n, p in preds.items()}
    return SimpleNamespace(root=root, ds=ds, seqs=seqs, preds=preds, times=times)


def _scores(boxes, ds):
    out = {}
    for protocol in evaluation.PROTOCOLS:
        try:
            s = evaluation.score_dataset(boxes, ds, protocol=protocol)
            out[protocol] = (s.auc, s.precision)
        except ValueError as exc:  # pytracking rejects the NaN frame
            out[protocol] = str(exc)
    return out


@pytest.mark.parametrize("toolkit", toolkits.TOOLKITS)
def test_round_trip_ours_theirs_ours(otb, tmp_path, toolkit):
    written = toolkits.export_results(
        otb.preds, tmp_path / "theirs", toolkit, "mytracker", times=otb.times,
        ground_truth={n: s.gt for n, s in otb.seqs.items()},
    )
    names = sorted(p.relative_to(tmp_path / "theirs").as_posix() for p in written)
    expected = {
        "got10k": ["mytracker/Human4.txt", "mytracker/times/Human4_time.txt", "mytracker/Jogging.1.txt"],
        "pysot": ["mytracker/Human4-2.txt", "mytracker/Jogging-1.txt"],
        "pytracking": ["mytracker/Human4_2.txt", "mytracker/Human4_2_time.txt", "mytracker/Jogging_1.txt"],
        "otb-mat": ["human4-2_mytracker.mat", "jogging-1_mytracker.mat"],
    }[toolkit]
    assert set(expected) <= set(names)
    assert len(names) == len(NAMES) * (1 if toolkit in ("pysot", "otb-mat") else 2)
    if toolkit == "pytracking":
        assert "\t" in (tmp_path / "theirs" / "mytracker" / "Deer.txt").read_text().splitlines()[0]

    folder = tmp_path / "theirs" if toolkit == "otb-mat" else tmp_path / "theirs" / "mytracker"
    got = toolkits.import_results(folder, tmp_path / "ours", "OTB", "mytracker", dataset_names=otb.ds.names)
    assert sorted(got) == sorted(NAMES)
    back = results.load_results(tmp_path / "ours", "OTB", "mytracker")
    for n in NAMES:
        np.testing.assert_array_equal(back[n], otb.preds[n])
        t = results.times_path(tmp_path / "ours", "OTB", "mytracker", n)
        if toolkit == "pysot":
            assert not t.exists()
        elif toolkit == "otb-mat":  # only the mean speed survives
            np.testing.assert_allclose(results.read_times(t), np.mean(otb.times[n]), rtol=1e-12)
        else:
            np.testing.assert_array_equal(results.read_times(t), otb.times[n])
    assert _scores(back, otb.ds) == _scores(otb.preds, otb.ds)


def test_mat_file_fields_and_tiger1_start(otb, tmp_path):
    from scipy.io import loadmat

    toolkits.export_results(
        {"Tiger1": otb.preds["Tiger1"]}, tmp_path, "otb-mat", "T", ground_truth={"Tiger1": otb.seqs["Tiger1"].gt}
    )
    m = loadmat(str(tmp_path / "tiger1_T.mat"), squeeze_me=True, struct_as_record=False)["results"]
    assert m.type == "rect" and m.len == 349 and m.startFrame == 6 and m.annoBegin == 6
    np.testing.assert_array_equal(m.res, otb.preds["Tiger1"])
    np.testing.assert_array_equal(m.anno, otb.seqs["Tiger1"].gt)


def test_import_fixtures_written_by_their_conventions(otb, tmp_path):
    """Files as got10k (np.savetxt '%.3f', ',' + times/), pytracking ('%d', tabs, _time.txt beside),
    pysot's old result sets (lower-case first letter, jogging_1) and MATLAB (a struct in a cell)
    write them; each imports and scores like the same numbers written by us."""
    from scipy.io import savemat

    rounded = {n: np.round(np.nan_to_num(p, nan=0.0), 3) for n, p in otb.preds.items()}
    integer = {n: np.trunc(np.nan_to_num(p, nan=0.0)) for n, p in otb.preds.items()}
    g = tmp_path / "got10k" / "T"
    (g / "times").mkdir(parents=True)
    pt = tmp_path / "pytracking" / "T"
    pt.mkdir(parents=True)
    ps = tmp_path / "pysot" / "T"
    ps.mkdir(parents=True)
    mat = tmp_path / "mat"
    mat.mkdir()
    for n in NAMES:
        gname = "Human4" if n == "Human4.2" else n
        np.savetxt(g / f"{gname}.txt", rounded[n], fmt="%.3f", delimiter=",")
        np.savetxt(g / "times" / f"{gname}_time.txt", otb.times[n], fmt="%.8f")
        np.savetxt(pt / f"{n.replace('.', '_')}.txt", integer[n].astype(int), delimiter="\t", fmt="%d")
        np.savetxt(pt / f"{n.replace('.', '_')}_time.txt", otb.times[n], delimiter="\t", fmt="%f")
        low = n.replace(".", "_")
        (ps / f"{low[0].lower() + low[1:]}.txt").write_text(
            "\n".join(",".join(f"{v}" for v in row) for row in rounded[n]) + "\n"
        )
        struct = {"type": "rect", "res": rounded[n], "fps": 25.0, "len": len(rounded[n]),
                  "annoBegin": 1, "startFrame": 6 if n == "Tiger1" else 1, "anno": otb.seqs[n].gt}
        cell = np.empty((1, 1), dtype=object)
        cell[0, 0] = struct
        savemat(str(mat / f"{n.replace('.', '-').lower()}_T.mat"), {"results": cell})
    (mat / "deer_Other.mat").write_bytes((mat / "deer_T.mat").read_bytes())

    for src, expected in ((g, rounded), (pt, integer), (ps, rounded), (mat, rounded)):
        dest = tmp_path / "ours" / src.parent.name
        kw = {"source_tracker": "T"} if src == mat else {}
        toolkits.import_results(src, dest, "OTB", "T", dataset_names=otb.ds.names, **kw)
        back = results.load_results(dest, "OTB", "T")
        assert sorted(back) == sorted(NAMES)
        for n in NAMES:
            np.testing.assert_allclose(back[n], expected[n], rtol=0, atol=1e-9)
        assert _scores(back, otb.ds) == _scores(expected, otb.ds)
    np.testing.assert_allclose(
        results.read_times(results.times_path(tmp_path / "ours" / "got10k", "OTB", "T", "Human4.2")),
        np.round(otb.times["Human4.2"], 8),
    )
    with pytest.raises(ValueError, match=r"\.mat results of several trackers \(Other, T\)"):
        toolkits.read_results_folder(mat)


def test_import_never_overwrites_a_different_result(otb, tmp_path):
    src = tmp_path / "src" / "T"
    toolkits.export_results({"Deer": otb.preds["Deer"]}, tmp_path / "src", "pysot", "T")
    dest = results.result_path(tmp_path / "ours", "OTB", "T", "Deer")
    results.write_boxes(dest, otb.preds["Deer"] + 1.0)
    with pytest.raises(FileExistsError, match="Deer.txt exists with other boxes"):
        toolkits.import_results(src, tmp_path / "ours", "OTB", "T")
    np.testing.assert_array_equal(results.read_boxes(dest), otb.preds["Deer"] + 1.0)
    toolkits.import_results(src, tmp_path / "ours", "OTB", "T", overwrite=True)
    np.testing.assert_array_equal(results.read_boxes(dest), otb.preds["Deer"])
    toolkits.import_results(src, tmp_path / "ours", "OTB", "T")  # identical: fine


def test_mat_names_with_underscores(tmp_path):
    """Sequence and tracker names may both hold '_' (the synthetic benchmark's syn_test_000)."""
    for seq in ("syn_test_000", "syn_test_001"):
        toolkits.write_otb_mat(tmp_path / f"{seq}_my_tracker.mat", np.ones((2, 4)))
    got = toolkits.read_results_folder(tmp_path)
    assert sorted(got.boxes) == ["syn_test_000", "syn_test_001"]
    assert sorted(toolkits.read_results_folder(tmp_path, "tracker").boxes) == ["syn_test_000_my", "syn_test_001_my"]
    with pytest.raises(ValueError, match="no <sequence>_other.mat file"):
        toolkits.read_results_folder(tmp_path, "other")


def test_bad_mat_files_are_named(tmp_path):
    from scipy.io import savemat

    savemat(str(tmp_path / "a_T.mat"), {"other": np.ones(3)})
    with pytest.raises(ValueError, match=r"a_T\.mat: no variable 'results'"):
        toolkits.read_otb_mat(tmp_path / "a_T.mat")
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = {"type": "ivtAff", "res": np.ones((3, 6)), "len": 3, "annoBegin": 1, "startFrame": 1}
    savemat(str(tmp_path / "b_T.mat"), {"results": cell})
    with pytest.raises(ValueError, match=r"b_T\.mat: results\{1\}\.type is 'ivtAff'"):
        toolkits.read_otb_mat(tmp_path / "b_T.mat")
    (tmp_path / "c_T.mat").write_text("not a mat file")
    with pytest.raises(ValueError, match=r"c_T\.mat: not a readable MATLAB \.mat file"):
        toolkits.read_otb_mat(tmp_path / "c_T.mat")


# --------------------------------------------------------------------------- pysot's metadata


def test_pysot_metadata_as_pysot_reads_it(otb, tmp_path):
    """Keys, video_dir, img_names relative to the json's folder, gt_rect, attr: then the results
    folder is read the way pysot's OTBVideo.load_tracker does (json key + '.txt')."""
    meta = json.loads(json.dumps(toolkits.pysot_metadata(otb.ds, otb.root)))
    assert sorted(meta) == ["Deer", "Human4-2", "Jogging-1", "Jogging-2", "Tiger1"]
    j = meta["Jogging-1"]
    assert j["video_dir"] == "Jogging-1" and j["img_names"][0] == "Jogging-1/img/0001.jpg"
    assert meta["Human4-2"]["video_dir"] == "Human4" and meta["Human4-2"]["img_names"][-1] == "Human4/img/0667.jpg"
    assert meta["Tiger1"]["img_names"][0] == "Tiger1/img/0006.jpg" and len(meta["Tiger1"]["gt_rect"]) == 349
    assert j["init_rect"] == j["gt_rect"][0] == otb.seqs["Jogging.1"].gt[0].tolist()
    assert j["attr"] == ["OCC", "DEF", "OPR"]
    toolkits.export_results(otb.preds, tmp_path, "pysot", "T")
    for key, video in meta.items():
        traj = np.array([list(map(float, x.strip().split(","))) for x in open(tmp_path / "T" / f"{key}.txt")])
        assert len(traj) == len(video["gt_rect"])


def test_write_pysot_json_needs_a_complete_version(otb, tmp_path):
    with pytest.raises(data.MissingDataError, match="sequences are missing"):
        toolkits.write_pysot_json(otb.root, tmp_path)
    assert not list(tmp_path.glob("*.json"))


# --------------------------------------------------------------------------- got10k itself


def test_got10k_report_on_an_exported_folder_equals_our_got10k_protocol(otb, tmp_path):
    """got10k 0.1.3's own ExperimentOTB.report() on our export gives our 'got10k' numbers."""
    pytest.importorskip("got10k")
    import matplotlib

    matplotlib.use("Agg")
    from got10k.experiments.otb import ExperimentOTB

    preds = otb.preds  # with a NaN row and a zero width
    toolkits.export_results(preds, tmp_path / "results", "got10k", "T", times=otb.times)
    seq_names = [toolkits.toolkit_name(n, "got10k") for n in otb.ds.names]
    annos = [(None, otb.seqs[n].gt) for n in otb.ds.names]

    class _Dataset(list):
        pass

    dataset = _Dataset(annos)
    dataset.seq_names = seq_names
    exp = ExperimentOTB.__new__(ExperimentOTB)
    exp.dataset = dataset
    exp.result_dir = str(tmp_path / "results")
    exp.report_dir = str(tmp_path / "reports")
    exp.nbins_iou, exp.nbins_ce = 21, 51
    perf = exp.report(["T"])["T"]
    ours = evaluation.score_dataset(preds, otb.ds, protocol="got10k")
    assert perf["overall"]["success_score"] == pytest.approx(ours.auc, abs=1e-12)
    assert perf["overall"]["precision_score"] == pytest.approx(ours.precision, abs=1e-12)
    for n in otb.ds.names:
        theirs = perf["seq_wise"][toolkits.toolkit_name(n, "got10k")]
        assert theirs["success_score"] == pytest.approx(ours.sequences[n].auc, abs=1e-12)
        assert theirs["speed_fps"] == pytest.approx(np.mean(1.0 / otb.times[n]))
    overall = perf["overall"]
    print(
        f"got10k report: AUC {overall['success_score']:.6f} precision {overall['precision_score']:.6f}; "
        f"ours (got10k protocol): AUC {ours.auc:.6f} precision {ours.precision:.6f}"
    )


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("toolkit", toolkits.TOOLKITS)
def test_cli_export_then_import(otb, tmp_path, capsys, toolkit):
    from rankatt_lib.__main__ import main

    for n, p in otb.preds.items():
        results.write_boxes(results.result_path(tmp_path / "res", "OTB", "mine", n), p)
        results.write_times(results.times_path(tmp_path / "res", "OTB", "mine", n), otb.times[n])
    code = main(["export", str(tmp_path / "res" / "OTB" / "mine"), "--toolkit", toolkit,
                 "--out", str(tmp_path / "theirs"), "--dataset", str(otb.root)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"sequences of mine in {toolkit}'s layout" in out.out
    src = tmp_path / "theirs" if toolkit == "otb-mat" else tmp_path / "theirs" / "mine"
    assert main(["import", str(src), "--results", str(tmp_path / "back"), "--benchmark", "OTB",
                 "--tracker", "mine", "--dataset", str(otb.root)]) == 0
    assert f"imported {len(NAMES)} sequences" in capsys.readouterr().out
    back = results.load_results(tmp_path / "back", "OTB", "mine")
    for n in NAMES:
        np.testing.assert_array_equal(back[n], otb.preds[n])
    # a second import over a changed result is refused, naming the file; nothing is replaced
    changed = results.result_path(tmp_path / "back", "OTB", "mine", "Deer")
    results.write_boxes(changed, otb.preds["Deer"] + 2.0)
    assert main(["import", str(src), "--results", str(tmp_path / "back"), "--benchmark", "OTB",
                 "--tracker", "mine"]) == 2
    assert "Deer.txt exists with other boxes" in capsys.readouterr().err
    np.testing.assert_array_equal(results.read_boxes(changed), otb.preds["Deer"] + 2.0)


def test_cli_export_errors_are_clear(otb, tmp_path, capsys):
    from rankatt_lib.__main__ import main

    assert main(["export", "--toolkit", "got10k", "--out", str(tmp_path)]) == 2
    assert "nothing to export" in capsys.readouterr().err
    assert main(["export", "--toolkit", "pysot", "--out", str(tmp_path), "--pysot-json"]) == 2
    assert "--pysot-json needs --dataset" in capsys.readouterr().err
    args = ["export", "--toolkit", "pysot", "--out", str(tmp_path), "--dataset", str(otb.root), "--pysot-json"]
    assert main(args) == 2
    assert "pysot json: OTB2015: 95 of 100 sequences are missing" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope"), "--toolkit", "pysot", "--out", str(tmp_path)]) == 2
    assert "nope is not a folder of tracking results" in capsys.readouterr().err


def test_cli_pysot_json_for_the_complete_versions(otb, tmp_path, capsys, monkeypatch):
    """Only versions whose every sequence is on disk get a json (here CVPR13, made small)."""
    from rankatt_lib.__main__ import main
    from rankatt_lib.data import otb_meta

    monkeypatch.setattr(otb_meta, "OTB2013", ("Deer", "Jogging.1", "Jogging.2"))
    args = ["export", "--toolkit", "pysot", "--out", str(tmp_path), "--dataset", str(otb.root), "--pysot-json"]
    assert main(args) == 0
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["CVPR13.json"]
    meta = json.loads((tmp_path / "CVPR13.json").read_text())
    assert sorted(meta) == ["Deer", "Jogging-1", "Jogging-2"]
    assert meta["Jogging-2"]["gt_rect"] == otb.seqs["Jogging.2"].gt.tolist()


def test_cli_import_names_the_sequences_without_a_result(otb, tmp_path, capsys):
    from rankatt_lib.__main__ import main

    toolkits.export_results({n: otb.preds[n] for n in ("Deer", "Tiger1")}, tmp_path / "theirs", "got10k", "T")
    args = ["import", str(tmp_path / "theirs" / "T"), "--results", str(tmp_path / "res"), "--benchmark", "OTB",
            "--dataset", str(otb.root)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "imported 2 sequences" in captured.out
    assert "no result in" in captured.err
    assert "for 3 sequence(s) of the dataset: Human4.2, Jogging.1, Jogging.2" in captured.err


def test_export_notes_got10k_tiger1(otb):
    """got10k has no init-omit rule: a 349-row Tiger1 is flagged for got10k only."""
    assert len(otb.preds["Tiger1"]) == 349
    notes = toolkits.export_notes(otb.preds, "got10k")
    assert len(notes) == 1 and notes[0].startswith("Tiger1: 349 rows (tracked from frame 6); got10k scores all 354")
    for toolkit in ("pysot", "pytracking", "otb-mat"):
        assert toolkits.export_notes(otb.preds, toolkit) == []
    assert toolkits.export_notes({"Tiger1": np.zeros((354, 4))}, "got10k") == []
