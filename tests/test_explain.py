"""Tests of rankatt_lib.evaluation.explain and `rankatt score`: why a trajectory scores differently under the
protocols, on planted cases."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_otb import make_otb_tree

from rankatt_lib import data, evaluation, toolkits
from rankatt_lib.evaluation import results
from rankatt_lib.evaluation.explain import explain_sequence, format_explanation


def _tiger1():
    """Tiger1-sized: 354 GT rows, row 100 invalid (0,0,0,0); a NaN prediction at frame 50, a
    zero-width one at frame 60, and frame 1 not the GT (as a tracker that starts at frame 6 writes)."""
    gt = np.array([[20.0 + i % 7, 30.0, 40.0, 50.0] for i in range(354)])
    gt[99] = 0
    pred = gt + 2.0
    pred[0] = [1, 1, 5, 5]
    pred[5] = [1, 1, 5, 5]
    pred[49] = np.nan
    pred[59, 2] = 0
    return pred, gt


def test_explain_names_the_rules_that_acted():
    pred, gt = _tiger1()
    e = explain_sequence(pred, gt, "Tiger1")
    otb, got, pysot, pyt = (e.facts[p] for p in ("otb", "got10k", "pysot", "pytracking"))
    assert (otb.first_frame, otb.n_frames, otb.denominator) == (6, 349, 349)
    assert otb.first_replaced and otb.iou_masked == 1 and otb.centre_masked == 1 and otb.centre_mask_value == -1
    assert otb.predictions_replaced == 2  # the NaN and the zero width
    assert "frames 6-354 only" in otb.reasons() and "frame 1 replaced by the ground truth" in otb.reasons()
    assert (got.first_frame, got.n_frames, got.iou_masked, got.bad_as_given) == (1, 354, 0, 2)
    assert got.first_replaced and not pysot.first_replaced and got.invalid_gt_as_given == 1
    assert "1 invalid ground-truth frame(s) scored as they are" in got.reasons()
    assert pysot.iou_masked == 1 and pysot.bad_as_given == 2
    assert pyt.error and "frame 50" in pyt.error and np.isnan(pyt.auc)
    excl = e.facts["pytracking-exclude-invalid"]
    assert "frame 50" in excl.error and "pytracking-exclude-invalid" in excl.error
    assert e.differs
    # the facts agree with the scores they explain
    for p, f in e.facts.items():
        if not f.error:
            assert f.auc == evaluation.score_sequence(pred, gt, p, name="Tiger1").auc
    text = format_explanation([e])
    assert "Tiger1:" in text and "refused" in text and "1 frame(s) with centre error -1 (passes)" in text


def test_denominators_and_inf_centres_are_explained():
    gt = np.array([[10.0, 10, 20, 20]] * 10)
    gt[[2, 3]] = 0
    pred = gt.copy()
    pred[[2, 3]] = [10, 10, 20, 20]
    e = explain_sequence(pred, gt, "s", ["pytracking-exclude-invalid", "pytracking", "got10k"])
    assert e.facts["pytracking-exclude-invalid"].reasons() == [
        "2 frame(s) with IoU -1 (invalid ground truth)",
        "2 frame(s) with centre error inf (fails)",
        "divided by 8 valid frames of 10",
    ]
    assert "divided by" not in " ".join(e.facts["pytracking"].reasons())
    # frame 1 already equals the GT: "replaced" is not said
    assert e.facts["got10k"].reasons() == ["2 invalid ground-truth frame(s) scored as they are"]


def test_agreeing_sequences_are_summarised():
    gt = np.array([[10.0 + i, 10, 20, 20] for i in range(20)])
    e = explain_sequence(gt.copy(), gt, "clean")
    assert not e.differs
    assert format_explanation([e]) == "1 sequence(s) score the same under every protocol: clean"


def test_cli_score_all_protocols_with_explain(tmp_path, capsys):
    from rankatt_lib.__main__ import main

    root = make_otb_tree(tmp_path / "OTB", ["Deer", "Jogging.1"])
    ds = data.OTB(root, names=["Deer", "Jogging.1"])
    seqs = {s.name: s for s in ds}
    preds = {"Deer": seqs["Deer"].gt.copy(), "Jogging.1": seqs["Jogging.1"].gt + 3.0}
    preds["Jogging.1"][10] = [0.0, 0.0, 0.0, 0.0]  # a lost frame written as zeros
    toolkits.export_results(preds, tmp_path / "pysot", "pysot", "T")  # their spelling: Jogging-1.txt
    code = main(["score", str(tmp_path / "pysot" / "T"), "--dataset", str(root), "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    for p in evaluation.ALL_PROTOCOLS:
        s = evaluation.score_dataset(preds, list(ds), protocol=p)
        assert f"{p:<{max(map(len, evaluation.ALL_PROTOCOLS))}}  {s.auc:7.4f}  {s.precision:9.4f}" in out
    assert "Jogging.1:" in out and "1 bad prediction(s) replaced by the previous box" in out
    assert "1 sequence(s) score the same under every protocol: Deer" in out
    late = np.concatenate([evaluation.size_ratio(preds[n], seqs[n].gt)[50:] for n in ds.names])
    assert np.nanmax(late) > 1.0  # Jogging.1's boxes are 3 px too large
    assert f"frames 51 and later: median {np.nanmedian(late):.3f} over {np.isfinite(late).sum()} frames" in out

    assert main(["score", str(tmp_path / "pysot" / "T"), "--dataset", str(root), "--protocol", "otb"]) == 0
    out = capsys.readouterr().out
    assert "otb" in out and "got10k" not in out
    assert main(["score", str(tmp_path / "pysot" / "T"), "--dataset", str(root), "--protocol", "vot"]) == 2
    assert "unknown protocol 'vot'" in capsys.readouterr().err
    (tmp_path / "pysot" / "T" / "Deer.txt").unlink()
    assert main(["score", str(tmp_path / "pysot" / "T"), "--dataset", str(root)]) == 2
    assert "no result for 1 of 2 sequences of the dataset (Deer)" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "pysot" / "T"), "--dataset", str(root), "--skip-missing"]) == 0
    assert "1 sequences of OTB2015" in capsys.readouterr().out
    assert results.read_boxes(tmp_path / "pysot" / "T" / "Jogging-1.txt").shape == (307, 4)


@pytest.mark.parametrize("protocol", evaluation.ALL_PROTOCOLS)
def test_every_protocol_is_explainable(protocol):
    gt = np.array([[10.0 + i, 10, 20, 20] for i in range(5)])
    assert explain_sequence(gt + 1, gt, "x", [protocol]).facts[protocol].auc == evaluation.score_sequence(
        gt + 1, gt, protocol
    ).auc
