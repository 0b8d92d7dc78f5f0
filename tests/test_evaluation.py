"""Tests of rankatt_lib.evaluation: measures, protocols and aggregation, with hand-computed values."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from rankatt_lib import evaluation as ev

BOX = [1.0, 1.0, 10.0, 10.0]  # centre (5.5, 5.5), area 100


@dataclass
class FakeSeq:
    name: str
    gt: np.ndarray
    attributes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.gt)


# --------------------------------------------------------------------------- basic measures


def test_thresholds_are_the_otb_ones():
    assert ev.PRECISION_THRESHOLDS.tolist() == list(range(51))
    assert len(ev.SUCCESS_THRESHOLDS) == 21
    assert ev.SUCCESS_THRESHOLDS[10] == 0.5 and ev.SUCCESS_THRESHOLDS[-1] == 1.0
    assert ev.PROTOCOLS == ("otb", "got10k", "pysot", "pytracking")


def test_center_uses_w_minus_one_over_two():
    # centres (5.5, 5.5) and (1 + 3/2, 1 + 3/2) = (2.5, 2.5)
    assert ev.center_error(BOX, [1, 1, 4, 4]) == pytest.approx(math.sqrt(18))


def test_shifted_box_hand_computed():
    pred = np.array([[4.0, 5.0, 10.0, 10.0]])  # shifted by (3, 4)
    gt = np.array([BOX])
    assert ev.center_error(pred, gt)[0] == pytest.approx(5.0)
    # overlap 7 x 6 = 42, union 100 + 100 - 42 = 158
    assert ev.iou(pred, gt)[0] == pytest.approx(42 / 158)


def test_iou_equals_the_otb_pixel_formula():
    rng = np.random.default_rng(0)
    a = np.column_stack(
        [
            rng.integers(1, 40, 200),
            rng.integers(1, 40, 200),
            rng.integers(1, 30, 200),
            rng.integers(1, 30, 200),
        ]
    ).astype(float)
    b = np.column_stack(
        [
            rng.integers(1, 40, 200),
            rng.integers(1, 40, 200),
            rng.integers(1, 30, 200),
            rng.integers(1, 30, 200),
        ]
    ).astype(float)
    # calcRectInt.m: right = x + w - 1, overlap = max(0, min(right) - max(left) + 1)
    ow = np.maximum(
        0, np.minimum(a[:, 0] + a[:, 2] - 1, b[:, 0] + b[:, 2] - 1) - np.maximum(a[:, 0], b[:, 0]) + 1
    )
    oh = np.maximum(
        0, np.minimum(a[:, 1] + a[:, 3] - 1, b[:, 1] + b[:, 3] - 1) - np.maximum(a[:, 1], b[:, 1]) + 1
    )
    inter = ow * oh
    expected = inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)
    np.testing.assert_allclose(ev.iou(a, b), expected, rtol=1e-12)
    assert np.any(expected == 0) and np.any(expected > 0.3)  # the sample covers both cases


def test_iou_edge_values():
    assert ev.iou(BOX, BOX) == 1.0
    assert ev.iou(BOX, [20, 20, 5, 5]) == 0.0  # disjoint
    assert ev.iou(BOX, [11, 1, 10, 10]) == 0.0  # touching edges share no pixel
    assert ev.iou([1, 1, 0, 0], [1, 1, 0, 0]) == 0.0  # degenerate union
    assert ev.iou([1, 1, -10, 10], BOX) == 0.0  # negative size clipped, as got10k/pysot do
    assert np.isnan(ev.iou([np.nan] * 4, BOX))


def test_curves_count_boundaries_as_specified():
    # exactly 20 px counts at 20 but not at 19
    prec = ev.precision_curve([0.0, 20.0])
    assert prec[19] == 0.5 and prec[20] == 1.0
    # IoU exactly 0.5 passes 0.45 but not 0.5 (strict >)
    succ = ev.success_curve([1.0, 0.5])
    assert succ[9] == 1.0 and succ[10] == 0.5 and succ[20] == 0.0
    # -1 (masked) passes precision and fails success; inf and NaN fail both
    assert ev.precision_curve([-1.0, np.inf, np.nan]).tolist() == [1 / 3] * 51
    assert ev.success_curve([-1.0, np.nan]).tolist() == [0.0] * 21


def test_boundary_boxes_through_score_sequence():
    gt = np.array([BOX, BOX])
    # frame 2: centre error exactly 20 (12, 16); frame 2 of the other: IoU exactly 0.5
    s = ev.score_sequence([BOX, [13.0, 17.0, 10.0, 10.0]], gt)
    assert s.center_errors[1] == 20.0
    assert s.precision == 1.0 and s.precision_curve[19] == 0.5
    half = np.array([1.0, 1.0, 10.0, 5.0])  # overlap 50, union 100
    s = ev.score_sequence([BOX, half], gt)
    assert s.ious[1] == 0.5
    assert s.success_curve[9] == 1.0 and s.success_curve[10] == 0.5
    assert s.auc == pytest.approx((10 * 1.0 + 10 * 0.5) / 21)


@pytest.mark.parametrize("protocol", ev.PROTOCOLS)
def test_ground_truth_against_itself(protocol):
    rng = np.random.default_rng(1)
    gt = np.column_stack(
        [rng.uniform(1, 100, 30), rng.uniform(1, 100, 30), rng.uniform(5, 50, 30), rng.uniform(5, 50, 30)]
    )
    s = ev.score_sequence(gt, gt, protocol=protocol)
    assert s.auc == pytest.approx(20 / 21)
    assert s.precision == 1.0
    assert s.n_valid == 30 and s.denominator == 30


# --------------------------------------------------------------------------- protocols

# frame 2 has an invalid GT row; predictions: a far frame 1, a NaN frame 3, a zero-width frame 4
GT4 = np.array([BOX, [0.0, 0.0, 0.0, 0.0], BOX, BOX])
PRED4 = np.array([[50.0, 50.0, 10.0, 10.0], BOX, [np.nan] * 4, [1.0, 1.0, 0.0, 10.0]])


def test_otb_protocol_edge_cases():
    s = ev.score_sequence(PRED4, GT4, protocol="otb")
    # frame 1 -> GT; frame 3 (NaN) -> frame 2's box; frame 4 (w = 0) -> frame 3's (replaced) box
    np.testing.assert_array_equal(s.ious, [1.0, -1.0, 1.0, 1.0])
    np.testing.assert_array_equal(s.center_errors, [0.0, -1.0, 0.0, 0.0])
    assert s.precision_curve.tolist() == [1.0] * 51  # -1 is a precision success
    assert s.success_curve[:20].tolist() == [0.75] * 20 and s.success_curve[20] == 0.0
    assert s.auc == pytest.approx(15 / 21)
    assert s.n_valid == 3 and s.denominator == 4


def test_got10k_protocol_edge_cases():
    s = ev.score_sequence(PRED4, GT4, protocol="got10k")
    # frame 2: IoU 0 against the empty GT, centre (5.5, 5.5) vs (-0.5, -0.5) -> sqrt(72)
    assert s.ious[0] == 1.0 and s.ious[1] == 0.0 and np.isnan(s.ious[2]) and s.ious[3] == 0.0
    assert s.center_errors[1] == pytest.approx(math.sqrt(72))
    assert np.isnan(s.center_errors[2])
    assert s.center_errors[3] == pytest.approx(5.0)  # centre x of the w = 0 box: 1 - 0.5
    expected_prec = np.array([0.25] * 5 + [0.5] * 4 + [0.75] * 42)
    np.testing.assert_allclose(s.precision_curve, expected_prec)
    assert s.precision == 0.75
    assert s.auc == pytest.approx(5 / 21)
    assert s.denominator == 4


def test_pysot_protocol_edge_cases():
    s = ev.score_sequence(PRED4, GT4, protocol="pysot")
    # frame 1 is not replaced: the far box scores IoU 0 and error 49 * sqrt(2)
    assert s.ious[0] == 0.0 and s.center_errors[0] == pytest.approx(49 * math.sqrt(2))
    assert s.ious[1] == -1.0 and s.center_errors[1] == -1.0
    assert np.isnan(s.ious[2]) and np.isnan(s.center_errors[2])  # NaN as given
    assert s.ious[3] == 0.0  # zero width as given
    assert s.auc == 0.0
    np.testing.assert_allclose(s.precision_curve, [0.25] * 5 + [0.5] * 46)


def test_pytracking_protocol_edge_cases():
    pred = PRED4.copy()
    pred[2] = [1.0, 1.0, 10.0, 0.0]  # h == 0 instead of NaN: replaced by the previous box
    s = ev.score_sequence(pred, GT4, protocol="pytracking-exclude-invalid")
    np.testing.assert_array_equal(s.ious, [1.0, -1.0, 1.0, 1.0])
    assert s.center_errors[1] == np.inf
    assert s.denominator == 3 and s.n_valid == 3  # invalid frame left out
    assert s.precision_curve.tolist() == [1.0] * 51
    assert s.auc == pytest.approx(20 / 21)
    # pytracking's default (exclude_invalid_frames=False): the invalid frame counts as a failure
    d = ev.score_sequence(pred, GT4, protocol="pytracking")
    np.testing.assert_array_equal(d.ious, s.ious)
    assert d.denominator == 4 and d.precision_curve.tolist() == [0.75] * 51 and d.auc == pytest.approx(15 / 21)
    # the same trajectory under otb keeps the invalid frame in the denominator
    assert ev.score_sequence(pred, GT4, protocol="otb").auc == pytest.approx(15 / 21)


@pytest.mark.parametrize("bad", [[np.nan, 1.0, 10.0, 10.0], [1.0, 1.0, -3.0, 10.0]])
def test_pytracking_rejects_nan_and_negative_size_naming_the_frame(bad):
    pred = np.array([BOX, BOX, bad, BOX])
    with pytest.raises(ValueError, match="frame 3"):
        ev.score_sequence(pred, np.array([BOX] * 4), protocol="pytracking", name="Seq")


def test_pytracking_without_valid_frames_is_an_error():
    with pytest.raises(ValueError, match="no valid ground-truth"):
        ev.score_sequence(np.array([BOX]), np.zeros((1, 4)), protocol="pytracking-exclude-invalid")
    assert ev.score_sequence(np.array([BOX]), np.zeros((1, 4)), protocol="pytracking").auc == 0.0


def test_bad_boxes_are_replaced_before_frame_one_is_overwritten():
    # as calcSeqErrRobust.m: frame 2 takes the tracker's own frame 1, not the ground truth
    pred = np.array([[50.0, 50.0, 10.0, 10.0], [0.0, 0.0, 0.0, 0.0]])
    s = ev.score_sequence(pred, np.array([BOX, BOX]), protocol="otb")
    assert s.ious.tolist() == [1.0, 0.0]
    assert s.center_errors[1] == pytest.approx(49 * math.sqrt(2))


def test_bad_box_not_replaced_where_gt_has_nan():
    gt = np.array([BOX, [np.nan] * 4, BOX])
    pred = np.array([BOX, [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    s = ev.score_sequence(pred, gt, protocol="otb")
    # frame 2 keeps its zero box (GT NaN), so frame 3 inherits it and scores 0
    assert s.ious.tolist() == [1.0, -1.0, 0.0]


def _tiger1(n_rows: int = 354) -> tuple[np.ndarray, np.ndarray]:
    gt = np.tile(BOX, (n_rows, 1))
    pred = gt.copy()
    pred[:6] = [100.0, 100.0, 10.0, 10.0]  # frames 1-6 far away
    return pred, gt


@pytest.mark.parametrize("protocol", ["otb", "pytracking"])
def test_tiger1_scored_from_frame_6(protocol):
    pred, gt = _tiger1()
    s = ev.score_sequence(pred, gt, protocol=protocol, name="Tiger1")
    assert s.n_frames == 349 and s.first_frame == 6
    assert s.auc == pytest.approx(20 / 21) and s.precision == 1.0  # frame 6 replaced by GT
    # a prediction already cut to frames 6-354 is accepted too
    assert ev.score_sequence(pred[5:], gt, protocol=protocol, name="tiger1").auc == pytest.approx(20 / 21)


def test_tiger1_other_protocols_and_names():
    pred, gt = _tiger1()
    g = ev.score_sequence(pred, gt, protocol="got10k", name="Tiger1")
    assert g.n_frames == 354 and g.precision == pytest.approx(349 / 354)  # frames 2-6 miss
    p = ev.score_sequence(pred, gt, protocol="pysot", name="Tiger1")
    assert p.n_frames == 354 and p.precision == pytest.approx(348 / 354)  # frame 1 not replaced
    o = ev.score_sequence(pred, gt, protocol="otb", name="Tiger2")
    assert o.n_frames == 354 and o.precision == pytest.approx(349 / 354)
    # the rule is keyed on the 354-row ground truth: an already trimmed Tiger1 is scored as is
    short_pred, short_gt = _tiger1(349)
    assert ev.score_sequence(short_pred, short_gt, protocol="otb", name="Tiger1").n_frames == 349
    with pytest.raises(ValueError, match="354"):
        ev.score_sequence(pred[:300], gt, protocol="otb", name="Tiger1")


def test_input_validation():
    gt = np.array([BOX, BOX])
    with pytest.raises(ValueError, match="shape"):
        ev.score_sequence(np.ones((2, 3)), gt)
    with pytest.raises(ValueError, match="3 rows"):
        ev.score_sequence(np.array([BOX] * 3), gt)
    with pytest.raises(ValueError, match="unknown protocol"):
        ev.score_sequence(gt, gt, protocol="vot")
    with pytest.raises(ValueError, match="empty"):
        ev.score_sequence(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="shape"):
        ev.iou(np.ones((2, 4)), np.ones((3, 4)))


# --------------------------------------------------------------------------- datasets


def _far(gt: np.ndarray) -> np.ndarray:
    pred = gt.copy()
    pred[1:, :2] += 100.0
    return pred


def test_score_dataset_mean_of_sequences_and_attributes():
    gt = np.array([BOX] * 4)
    ds = [FakeSeq("a", gt, ("OCC", "IV")), FakeSeq("b", gt, ("OCC",)), FakeSeq("c", gt)]
    res = {"a": gt.copy(), "b": _far(gt), "c": gt.copy(), "not-in-dataset": gt.copy()}
    score = ev.score_dataset(res, ds, protocol="otb")
    assert set(score.sequences) == {"a", "b", "c"}
    assert score.sequences["b"].auc == pytest.approx(5 / 21)
    assert score.sequences["b"].precision == 0.25
    assert score.auc == pytest.approx((20 + 5 + 20) / 21 / 3)
    assert score.precision == pytest.approx((1 + 0.25 + 1) / 3)
    np.testing.assert_allclose(
        score.success_curve, np.mean([s.success_curve for s in score.sequences.values()], 0)
    )
    assert list(score.attributes) == ["IV", "OCC"]  # OTB order, not the order in the file
    assert score.attributes["IV"].names == ("a",) and score.attributes["IV"].auc == pytest.approx(20 / 21)
    assert score.attributes["OCC"].n_sequences == 2
    assert score.attributes["OCC"].precision == pytest.approx(0.625)


def test_score_dataset_missing_results_and_selection():
    gt = np.array([BOX] * 3)
    ds = [FakeSeq("a", gt), FakeSeq("b", gt)]
    with pytest.raises(KeyError, match="b"):
        ev.score_dataset({"a": gt}, ds)
    s = ev.score_dataset({"a": gt}, ds, missing="skip")
    assert s.missing == ("b",) and s.n_sequences == 1
    s = ev.score_dataset({"a": gt, "b": _far(gt)}, ds, names=["a"])
    assert list(s.sequences) == ["a"] and s.auc == pytest.approx(20 / 21)
    with pytest.raises(KeyError, match="zzz"):
        ev.score_dataset({"a": gt}, ds, names=["zzz"])
    with pytest.raises(ValueError, match="nothing to score"):
        ev.score_dataset({}, ds, missing="skip")


def test_score_dataset_applies_protocol_and_name_rules():
    pred, gt = _tiger1()
    ds = [FakeSeq("Tiger1", gt)]
    assert ev.score_dataset({"Tiger1": pred}, ds, protocol="otb").precision == 1.0
    assert ev.score_dataset({"Tiger1": pred}, ds, protocol="got10k").precision == pytest.approx(349 / 354)


def test_size_ratio_is_the_side_ratio_and_nan_where_undefined():
    gt = np.array([[1, 1, 10, 40], [1, 1, 10, 40], [0, 0, 0, 0], [1, 1, 10, 40], [5, 5, 20, 20]], dtype=float)
    pred = np.array([[1, 1, 10, 40], [1, 1, 11, 44], [3, 3, 10, 10], [np.nan] * 4, [5, 5, 10, 10]], dtype=float)
    r = ev.size_ratio(pred, gt)
    np.testing.assert_allclose(r[[0, 1, 4]], [1.0, 1.1, 0.5])
    assert np.isnan(r[2]) and np.isnan(r[3])  # no ground-truth area; no prediction
    with pytest.raises(ValueError):
        ev.size_ratio(pred[:3], gt)


# --------------------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_separates_a_consistent_gain_from_one_lucky_sequence() -> None:
    from rankatt_lib.evaluation import paired_bootstrap

    base = np.linspace(0.3, 0.8, 20)
    # a small gain on every sequence: the interval excludes 0
    steady = paired_bootstrap(base + 0.02, base)
    assert steady.mean == pytest.approx(0.02)
    assert steady.excludes_zero and steady.low > 0 and steady.wins == 20 and steady.losses == 0
    # the same mean gain carried by one sequence: the interval reaches 0
    lucky = base.copy()
    lucky[7] += 0.4
    one = paired_bootstrap(lucky, base)
    assert one.mean == pytest.approx(0.02)
    assert not one.excludes_zero and one.low <= 0 < one.high and one.wins == 1
    # a loss is a negative difference; the interval is the same resamples, mirrored
    worse = paired_bootstrap(base, base + 0.02)
    assert worse.high < 0 and worse.losses == 20
    # mappings are paired by name, in a's order
    a = {f"s{i}": v for i, v in enumerate(base + 0.02)}
    b = {f"s{i}": v for i, v in reversed(list(enumerate(base)))}
    m = paired_bootstrap(a, b)
    assert (m.mean, m.low, m.high) == pytest.approx((steady.mean, steady.low, steady.high))
    # reproducible, and the level widens the interval
    assert paired_bootstrap(lucky, base) == one
    wide = paired_bootstrap(lucky, base, level=0.99)
    assert wide.low <= one.low and wide.high >= one.high


def test_paired_bootstrap_rejects_bad_input() -> None:
    from rankatt_lib.evaluation import paired_bootstrap

    with pytest.raises(ValueError, match="in common"):
        paired_bootstrap({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="against"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap([1.0], [1.0], level=1.5)
    with pytest.raises(ValueError, match="mappings"):
        paired_bootstrap({"a": 1.0}, [1.0])
