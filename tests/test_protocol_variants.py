"""The protocols that have more than one version (pysot, pytracking) on planted cases: each name
follows one codebase's rule (``pysot`` = STVIR/pysot, ``pysot-toolkit`` = StrangerZhang/pysot-toolkit;
``pytracking`` = pytracking's default ``exclude_invalid_frames=False``, ``pytracking-exclude-invalid``
= ``True``), and they differ exactly where that code does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rankatt_lib import evaluation as ev

# Five frames. Row 2 and row 5 touch the left border (x = -3 < 0), row 3 has zero width.
GT = np.array(
    [[10, 10, 20, 20], [-3, 10, 40, 20], [10, 10, 0, 20], [10, 10, 20, 20], [-3, 10, 40, 20]], dtype=float
)
PRED = np.array(
    [[10, 10, 20, 20], [-3, 10, 40, 20], [10, 10, 20, 20], [60, 60, 20, 20], [80, 80, 40, 20]], dtype=float
)


def test_names_sources_and_aliases():
    assert ev.PROTOCOLS == ("otb", "got10k", "pysot", "pytracking")
    assert ev.PROTOCOL_VARIANTS == ("pysot-toolkit", "pytracking-exclude-invalid")
    assert ev.ALL_PROTOCOLS == ev.PROTOCOLS + ev.PROTOCOL_VARIANTS
    assert set(ev.PROTOCOL_RULES) == set(ev.ALL_PROTOCOLS) == set(ev.PROTOCOL_SOURCES)
    assert "STVIR/pysot" in ev.PROTOCOL_SOURCES["pysot"]
    assert "exclude_invalid_frames=False" in ev.PROTOCOL_SOURCES["pytracking"]
    for alias, name in ev.PROTOCOL_ALIASES.items():  # 0.2.0's names of the same rules
        assert ev.protocol_rules(alias) == ev.PROTOCOL_RULES[name]
        assert ev.score_sequence(PRED, GT, protocol=alias).auc == ev.score_sequence(PRED, GT, protocol=name).auc
    with pytest.raises(ValueError, match="choose one of otb, got10k, pysot, pytracking, pysot-toolkit"):
        ev.score_sequence(PRED, GT, protocol="pysot2")


def test_pysot_versions_on_a_box_touching_the_border():
    """IoU: pysot-toolkit masks rows 2, 3, 5 (a value <= 0); STVIR/pysot (``pysot``) masks row 3 only
    (w <= 0), so row 2's perfect box counts. Centre: both pysot codebases mask only a centre <= 0,
    so row 3 (distance 10 px) and row 5 (far) are scored: 0.600, where the rule this project had
    before 0.2.1 (every invalid row masked, -1 passes) gave 0.800."""
    stvir = ev.score_sequence(PRED, GT, protocol="pysot")
    toolkit = ev.score_sequence(PRED, GT, protocol="pysot-toolkit")
    np.testing.assert_array_equal(toolkit.ious, [1, -1, -1, 0, -1])
    np.testing.assert_array_equal(stvir.ious, [1, 1, -1, 0, 0])
    assert toolkit.auc == pytest.approx(4 / 21)
    assert stvir.auc == pytest.approx(8 / 21)
    np.testing.assert_allclose(toolkit.center_errors[:3], [0, 0, 10])
    assert toolkit.center_errors[4] > 50
    np.testing.assert_array_equal(toolkit.center_errors, stvir.center_errors)
    assert toolkit.precision == stvir.precision == pytest.approx(3 / 5)
    assert toolkit.precision_curve[5] == pytest.approx(2 / 5)
    # frame 1 is not replaced by either pysot
    wrong_first = PRED.copy()
    wrong_first[0] = [200, 200, 5, 5]
    assert ev.score_sequence(wrong_first, GT, protocol="pysot").ious[0] == 0
    assert ev.score_sequence(wrong_first, GT, protocol="pysot-toolkit").ious[0] == 0


def _pysot_reference(gt, pred, size_only):
    """The two statistics.py functions, written out from their code's rules (thresholds as ours)."""
    n = len(gt)
    m = np.sum(gt[:, 2:] > 0, axis=1) == 2 if size_only else np.sum(gt > 0, axis=1) == 4
    iou = -np.ones(n)
    iou[m] = ev.iou(pred[m], gt[m])
    gc = gt[:, :2] + (gt[:, 2:] - 1) / 2
    pc = pred[:, :2] + (pred[:, 2:] - 1) / 2
    cm = np.sum(gc > 0, axis=1) == 2
    dist = -np.ones(n)
    dist[cm] = np.sqrt(np.sum((gc[cm] - pc[cm]) ** 2, axis=1))
    succ = np.array([np.sum(iou > t) / n for t in ev.SUCCESS_THRESHOLDS])
    prec = np.array([np.sum(dist <= t) / n for t in ev.PRECISION_THRESHOLDS])
    return succ, prec


@pytest.mark.parametrize("protocol, size_only", [("pysot-toolkit", False), ("pysot", True)])
def test_pysot_variants_match_their_code_on_random_border_boxes(protocol, size_only):
    rng = np.random.default_rng(7)
    differ = 0
    for _ in range(100):
        n = 30
        gt = np.column_stack([rng.uniform(5, 100, (n, 2)), rng.uniform(10, 60, (n, 2))])
        k = rng.integers(1, n)
        gt[k, 0] = rng.uniform(-20, 0)  # one box over the left border
        pred = gt + rng.normal(0, 8, gt.shape)
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        s = ev.score_sequence(pred, gt, protocol=protocol)
        succ, prec = _pysot_reference(gt, pred, size_only)
        np.testing.assert_allclose(s.success_curve, succ, rtol=0, atol=1e-15)
        np.testing.assert_allclose(s.precision_curve, prec, rtol=0, atol=1e-15)
        differ += s.auc != ev.score_sequence(pred, gt, protocol="pysot-toolkit").auc
    assert (differ > 50) == size_only  # STVIR's rule changes the AUC of such sequences


def test_pytracking_keeps_invalid_frames_in_the_denominator_unless_told_to_exclude_them():
    gt = np.array([[10.0 + i, 10, 20, 20] for i in range(10)])
    gt[[3, 7]] = [0, 0, 0, 0]
    pred = gt.copy()
    pred[[3, 7]] = [10, 10, 20, 20]
    excl = ev.score_sequence(pred, gt, protocol="pytracking-exclude-invalid")
    allf = ev.score_sequence(pred, gt, protocol="pytracking")
    assert (excl.denominator, allf.denominator) == (8, 10)
    assert excl.auc == pytest.approx(20 / 21) and allf.auc == pytest.approx(16 / 21)
    assert excl.precision == 1.0 and allf.precision == pytest.approx(0.8)
    np.testing.assert_array_equal(allf.center_errors[[3, 7]], [np.inf, np.inf])
    # the same rules otherwise: a NaN prediction is an error naming the frame, Tiger1 from frame 6
    bad = pred.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="frame 6"):
        ev.score_sequence(bad, gt, protocol="pytracking")
    tiger = np.array([[10.0 + i, 10, 20, 20] for i in range(354)])
    assert ev.score_sequence(tiger, tiger, "pytracking", name="Tiger1").first_frame == 6
    assert ev.score_sequence(tiger, tiger, "pytracking-exclude-invalid", name="Tiger1").first_frame == 6


def test_variants_score_datasets():
    seqs = [SimpleNamespace(name="a", gt=GT, attributes=("OCC",))]
    aucs = {p: ev.score_dataset({"a": PRED}, seqs, protocol=p).auc for p in ev.ALL_PROTOCOLS}
    assert aucs["pysot"] == pytest.approx(8 / 21) and aucs["pysot-toolkit"] == pytest.approx(4 / 21)
    assert aucs["pytracking-exclude-invalid"] == pytest.approx(20 / 21 / 2)  # rows 1 and 4 valid: IoU 1 and 0
    assert aucs["pytracking"] == pytest.approx(20 / 21 / 5)
