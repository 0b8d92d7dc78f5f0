"""One-pass evaluation (OPE) of box trajectories: precision and success curves.

Plain numpy. Boxes are ``x, y, w, h`` rows in OTB's 1-based pixel convention, arrays of shape
``(N, 4)``. The conventions shared by every protocol:

* **Centre** of a box = ``(x + (w - 1) / 2, y + (h - 1) / 2)``; the centre error is the Euclidean
  distance between the predicted and ground-truth centres, in pixels.
* **IoU**: intersection over union of the two boxes seen as sets of pixels. The OTB MATLAB toolkit
  (``calcRectInt.m``) takes the pixel box ``[x, x + w - 1]`` and counts the overlap as
  ``min(right) - max(left) + 1``; the ``- 1`` and ``+ 1`` cancel, so the overlap width is
  ``min(x1 + w1, x2 + w2) - max(x1, x2)``, exactly the continuous formula got10k
  (``utils/metrics.py``), pysot and pytracking use. Areas are ``w * h`` in all four. We compute the
  continuous form, clamp the overlap at 0, and clip the ratio to ``[0, 1]`` as got10k and pysot do
  (this only matters for boxes with a negative size). A degenerate union (``<= 0``) gives IoU 0;
  a NaN in either box gives NaN, which fails every threshold.
* **Precision curve**: fraction of frames with centre error ``<= t`` for ``t = 0, 1, ..., 50`` px
  (51 points); the **precision score** is the value at 20 px.
* **Success curve**: fraction of frames with IoU ``> t`` (strict) for the 21 thresholds
  ``np.linspace(0, 1, 21)``; the **AUC** is the mean of those 21 points. The ground truth scored
  against itself therefore gets ``20 / 21 = 0.952`` (IoU 1 never passes the threshold 1).
* Curves are computed per sequence and then averaged over sequences (each sequence weighs the same).

The public toolkits disagree on the edge cases; each is a named protocol, named after the code it
follows, and the four main names give what that toolkit's own users get (see book appendix, reading-evaluation):

* ``otb``: the OTB MATLAB toolkit (jwlim/tracker_benchmark, ``util/calcSeqErrRobust.m``): frame 1
  replaced by the GT; invalid GT row (any value <= 0 or NaN): IoU -1 (fails every threshold),
  centre error -1 (passes every threshold); bad prediction (NaN, w or h <= 0): the previous box;
  Tiger1 (354 GT rows) scored on frames 6-354.
* ``got10k``: got10k-toolkit, ``got10k/experiments/otb.py`` (``ExperimentOTB``) with
  ``got10k/utils/metrics.py``: frame 1 replaced; invalid GT not masked (IoU 0 or NaN, whatever
  centre error the numbers give); predictions as given; Tiger1 all 354 frames.
* ``pysot``: STVIR/pysot, ``toolkit/utils/statistics.py`` (the evaluation code of the pysot
  repository, ``tools/eval.py``): frame 1 *not* replaced; ``success_overlap`` gives IoU -1 only
  where the ground truth's w or h is ``<= 0`` (its any-value line is left commented out, ``#TODO
  check all dataset``), so a box over the left or top border (``x <= 0``) is scored;
  ``success_error`` gives centre error -1 only where a coordinate of the ground-truth *centre* is
  ``<= 0``; predictions as given; no frame-range rule (the dataset's json decides what is scored).
* ``pytracking``: visionml/pytracking, ``pytracking/analysis/extract_results.py``
  (``calc_seq_err_robust``) with ``exclude_invalid_frames=False``, the default its OTB, NFS and UAV
  analyses use: frame 1 replaced; invalid GT: IoU -1, centre error +inf, the frame stays in the
  denominator (it counts as a failure); a prediction with w or h == 0 becomes the previous box, a
  NaN or negative size is a ``ValueError`` naming the frame; Tiger1 on frames 6-354.

The variants (:data:`PROTOCOL_VARIANTS`):

* ``pysot-toolkit``: StrangerZhang/pysot-toolkit, ``pysot/utils/statistics.py``, the stand-alone
  toolkit: as ``pysot`` but ``success_overlap`` masks (IoU -1) a ground-truth row where *any*
  value is ``<= 0``.
* ``pytracking-exclude-invalid``: pytracking with ``exclude_invalid_frames=True`` (its LaSOT-style
  analyses): as ``pytracking`` but an invalid ground-truth frame is left out of the denominator.

The names ``pysot-stvir`` and ``pytracking-all-frames`` (0.2.0's names of the two main rules) are
accepted as aliases of ``pysot`` and ``pytracking``. Before 0.2.1, ``pysot`` masked the centre
error on every invalid ground-truth row, which neither pysot codebase does, and ``pytracking``
left invalid frames out of the denominator.

The denominator of every curve is the number of frames scored, except under
``pytracking-exclude-invalid`` where it is the number of frames with a valid ground truth.

Details that follow the toolkits (``calcSeqErrRobust.m`` and pytracking's ``calc_seq_err_robust``):
bad predictions are replaced by the previous (already replaced) box *before* frame 1 is overwritten
by the ground truth, and only on frames whose ground-truth row holds no NaN. One MATLAB quirk is not
reproduced: its ``if`` over a vector means a row with only *some* NaNs (and a positive size) is not
replaced there; here any NaN makes the row bad.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_VARIANTS",
    "PROTOCOL_ALIASES",
    "PROTOCOL_SOURCES",
    "ALL_PROTOCOLS",
    "PRECISION_THRESHOLDS",
    "SUCCESS_THRESHOLDS",
    "PRECISION_AT",
    "ATTRIBUTE_ORDER",
    "FrameRange",
    "ProtocolRules",
    "PROTOCOL_RULES",
    "protocol_rules",
    "SequenceScore",
    "CurveSummary",
    "TrajectoryAgreement",
    "DatasetScore",
    "center_error",
    "iou",
    "precision_curve",
    "success_curve",
    "valid_gt_rows",
    "size_ratio",
    "score_sequence",
    "score_dataset",
    "trajectory_agreement",
    "PairedDifference",
    "paired_bootstrap",
]

PROTOCOLS: tuple[str, ...] = ("otb", "got10k", "pysot", "pytracking")
"""Names accepted by ``protocol=``; ``"otb"`` (the MATLAB toolkit) is the default."""

PROTOCOL_VARIANTS: tuple[str, ...] = ("pysot-toolkit", "pytracking-exclude-invalid")
"""Further protocols, each one codebase's (or option's) version of a toolkit's rule (see the module docstring)."""

PROTOCOL_ALIASES: dict[str, str] = {"pysot-stvir": "pysot", "pytracking-all-frames": "pytracking"}
"""Other accepted names (0.2.0's) -> the protocol they name; not listed in :data:`ALL_PROTOCOLS`."""

PROTOCOL_SOURCES: dict[str, str] = {
    "otb": "jwlim/tracker_benchmark util/calcSeqErrRobust.m (the OTB MATLAB toolkit)",
    "got10k": "got10k-toolkit got10k/experiments/otb.py + got10k/utils/metrics.py",
    "pysot": "STVIR/pysot toolkit/utils/statistics.py (tools/eval.py)",
    "pytracking": "visionml/pytracking pytracking/analysis/extract_results.py, exclude_invalid_frames=False",
    "pysot-toolkit": "StrangerZhang/pysot-toolkit pysot/utils/statistics.py",
    "pytracking-exclude-invalid": "visionml/pytracking pytracking/analysis/extract_results.py, "
    "exclude_invalid_frames=True",
}
"""The code each protocol follows (repository and file)."""

ALL_PROTOCOLS: tuple[str, ...] = PROTOCOLS + PROTOCOL_VARIANTS
"""Every name ``protocol=`` accepts."""

PRECISION_THRESHOLDS: np.ndarray = np.arange(51, dtype=np.float64)
"""Centre-error thresholds in pixels, 0..50 inclusive (counted with ``<=``)."""

SUCCESS_THRESHOLDS: np.ndarray = np.linspace(0.0, 1.0, 21)
"""IoU thresholds 0, 0.05, ..., 1 (counted with a strict ``>``)."""

PRECISION_AT: int = 20
"""The precision score is the precision curve at this many pixels."""

ATTRIBUTE_ORDER: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")
"""The OTB attribute codes in the benchmark's order (the same as ``rankatt_lib.data.otb.ATTRIBUTES``)."""


@dataclass(frozen=True)
class FrameRange:
    """A per-sequence override of the frames a protocol scores.

    Applies when the ground truth has exactly ``n_gt_rows`` rows; the frames scored are then
    ``first_frame..n_gt_rows`` (1-based, inclusive) and ``first_frame`` plays the role of frame 1
    (it is the one replaced by the ground truth where the protocol does that).
    """

    n_gt_rows: int
    first_frame: int


@dataclass(frozen=True)
class ProtocolRules:
    """How one toolkit scores a sequence. See the module docstring for the table.

    Attributes:
        name: the protocol's name, one of :data:`PROTOCOLS`.
        replace_first_frame: overwrite the first scored prediction with the ground truth.
        invalid_gt: ``"mask"`` (IoU -1, centre error -1: fails success, passes precision),
            ``"raw"`` (no masking), ``"exclude"`` (IoU -1, centre error +inf, and the frame is left
            out of the denominator) or ``"fail"`` (IoU -1, centre error +inf, the frame stays in the
            denominator).
        bad_prediction: ``"previous"`` (NaN / non-finite, w <= 0 or h <= 0 -> previous box),
            ``"as_given"``, or ``"zero_previous_else_raise"`` (w or h == 0 -> previous box; NaN,
            non-finite or negative size -> ``ValueError``).
        frame_ranges: lower-case sequence name -> :class:`FrameRange` (looked up case-insensitively);
            the Tiger1 rule.
        iou_mask: under ``"mask"``, which ground-truth rows get IoU -1: ``"row"`` (any value not
            finite or ``<= 0``) or ``"size"`` (w or h not ``> 0``; STVIR/pysot).
        centre_mask: under ``"mask"``, which rows get centre error -1: ``"row"`` (as above) or
            ``"centre"`` (a coordinate of the ground-truth centre not ``> 0``; both pysot codebases).
    """

    name: str
    replace_first_frame: bool
    invalid_gt: Literal["mask", "raw", "exclude", "fail"]
    bad_prediction: Literal["previous", "as_given", "zero_previous_else_raise"]
    frame_ranges: Mapping[str, FrameRange] = field(default_factory=dict)
    iou_mask: Literal["row", "size"] = "row"
    centre_mask: Literal["row", "centre"] = "row"


TIGER1_FRAMES_6_TO_354: dict[str, FrameRange] = {"tiger1": FrameRange(n_gt_rows=354, first_frame=6)}
"""OTB's Tiger1 rule: its 354-row ground truth is scored on frames 6-354 only."""

PROTOCOL_RULES: dict[str, ProtocolRules] = {
    "otb": ProtocolRules("otb", True, "mask", "previous", TIGER1_FRAMES_6_TO_354),
    "got10k": ProtocolRules("got10k", True, "raw", "as_given", {}),
    "pysot": ProtocolRules("pysot", False, "mask", "as_given", {}, "size", "centre"),
    "pytracking": ProtocolRules("pytracking", True, "fail", "zero_previous_else_raise", TIGER1_FRAMES_6_TO_354),
    "pysot-toolkit": ProtocolRules("pysot-toolkit", False, "mask", "as_given", {}, "row", "centre"),
    "pytracking-exclude-invalid": ProtocolRules(
        "pytracking-exclude-invalid", True, "exclude", "zero_previous_else_raise", TIGER1_FRAMES_6_TO_354
    ),
}


# --------------------------------------------------------------------------- basic measures


def _as_boxes(boxes: Any, what: str) -> np.ndarray:
    """``boxes`` as a float64 array of shape ``(N, 4)`` (a single ``(4,)`` box is allowed)."""
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: expected numeric boxes of shape (N, 4), got {type(boxes).__name__}") from exc
    if arr.ndim == 1 and arr.shape[0] == 4:
        return arr
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what}: expected boxes of shape (N, 4) as x, y, w, h rows, got shape {arr.shape}")
    return arr


def _same_shape(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction and ground truth differ in shape: {pred.shape} vs {gt.shape}")


def center_error(pred: Any, gt: Any) -> np.ndarray:
    """Centre location error in pixels, centre = ``x + (w - 1) / 2`` (OTB convention).

    Args:
        pred, gt: boxes ``(N, 4)`` (or a single box ``(4,)``) as ``x, y, w, h``.

    Returns:
        ``(N,)`` distances (a 0-d array for single boxes). NaN where either box has a NaN.
    """
    p = _as_boxes(pred, "pred")
    g = _as_boxes(gt, "gt")
    _same_shape(p, g)
    cp = p[..., :2] + (p[..., 2:] - 1.0) / 2.0
    cg = g[..., :2] + (g[..., 2:] - 1.0) / 2.0
    return np.sqrt(np.sum((cp - cg) ** 2, axis=-1))


def iou(pred: Any, gt: Any) -> np.ndarray:
    """Intersection over union of ``x, y, w, h`` boxes, as the OTB toolkit computes it.

    The overlap width is ``max(0, min(x1 + w1, x2 + w2) - max(x1, x2))`` (identical to OTB's
    pixel form ``min(x1 + w1 - 1, x2 + w2 - 1) - max(x1, x2) + 1``), likewise in y; areas are
    ``w * h``. The ratio is clipped to ``[0, 1]``; a union ``<= 0`` gives 0; NaN input gives NaN.

    Args:
        pred, gt: boxes ``(N, 4)`` (or single boxes ``(4,)``).

    Returns:
        ``(N,)`` IoU values (a 0-d array for single boxes).
    """
    p = _as_boxes(pred, "pred")
    g = _as_boxes(gt, "gt")
    _same_shape(p, g)
    ix = np.minimum(p[..., 0] + p[..., 2], g[..., 0] + g[..., 2]) - np.maximum(p[..., 0], g[..., 0])
    iy = np.minimum(p[..., 1] + p[..., 3], g[..., 1] + g[..., 3]) - np.maximum(p[..., 1], g[..., 1])
    inter = np.maximum(ix, 0.0) * np.maximum(iy, 0.0)
    union = p[..., 2] * p[..., 3] + g[..., 2] * g[..., 3] - inter
    out = np.full(np.shape(union), np.nan)
    ok = np.isfinite(union) & np.isfinite(inter)
    positive = ok & (union > 0)
    np.divide(inter, union, out=out, where=positive)
    out = np.where(ok & ~positive, 0.0, out)
    return np.clip(out, 0.0, 1.0)


def precision_curve(center_errors: Any, denominator: int | None = None) -> np.ndarray:
    """Fraction of frames with centre error ``<= t`` for each ``t`` in :data:`PRECISION_THRESHOLDS`.

    Args:
        center_errors: ``(N,)`` errors; NaN and +inf never pass, -1 (OTB's masked frame) always does.
        denominator: the count to divide by; ``len(center_errors)`` by default.

    Returns:
        ``(51,)`` curve.
    """
    e = np.asarray(center_errors, dtype=np.float64).reshape(-1)
    n = len(e) if denominator is None else int(denominator)
    if n <= 0:
        raise ValueError("precision curve of zero frames (denominator must be positive)")
    return np.sum(e[:, None] <= PRECISION_THRESHOLDS[None, :], axis=0) / n


def success_curve(ious: Any, denominator: int | None = None) -> np.ndarray:
    """Fraction of frames with IoU ``> t`` (strict) for each ``t`` in :data:`SUCCESS_THRESHOLDS`.

    Args:
        ious: ``(N,)`` overlaps; NaN and -1 (a masked frame) never pass.
        denominator: the count to divide by; ``len(ious)`` by default.

    Returns:
        ``(21,)`` curve; its mean is the AUC.
    """
    o = np.asarray(ious, dtype=np.float64).reshape(-1)
    n = len(o) if denominator is None else int(denominator)
    if n <= 0:
        raise ValueError("success curve of zero frames (denominator must be positive)")
    return np.sum(o[:, None] > SUCCESS_THRESHOLDS[None, :], axis=0) / n


def valid_gt_rows(gt: Any) -> np.ndarray:
    """``(N,)`` bool: the ground-truth rows with all four values finite and ``> 0``."""
    g = _as_boxes(gt, "gt").reshape(-1, 4)
    return np.all(np.isfinite(g) & (g > 0), axis=1)


def size_ratio(pred: Any, gt: Any) -> np.ndarray:
    """``(N,)`` predicted / ground-truth box size per frame, size = ``sqrt(w h)``: 1 is the right
    size, 1.1 a box 10 % too large in each side. NaN where the ground truth has no positive area
    (an invalid or out-of-view row) or the prediction is not finite. A scale estimate that drifts
    shows as a median away from 1 over the later frames of a sequence.
    """
    p = _as_boxes(pred, "pred").reshape(-1, 4)
    g = _as_boxes(gt, "gt").reshape(-1, 4)
    _same_shape(p, g)
    g_area = g[:, 2] * g[:, 3]
    p_area = p[:, 2] * p[:, 3]
    ok = np.isfinite(g_area) & (g_area > 0) & np.isfinite(p_area) & (p_area >= 0)
    out = np.full(len(g), np.nan)
    out[ok] = np.sqrt(p_area[ok] / g_area[ok])
    return out


# --------------------------------------------------------------------------- one sequence


@dataclass
class SequenceScore:
    """Scores of one trajectory on one sequence under one protocol.

    Attributes:
        precision_curve: ``(51,)`` over centre-error thresholds 0..50 px.
        success_curve: ``(21,)`` over IoU thresholds ``np.linspace(0, 1, 21)``.
        precision: ``precision_curve[20]``.
        auc: mean of ``success_curve``.
        center_errors: ``(n_frames,)`` per scored frame, after the protocol's masking
            (-1 or +inf on invalid ground truth, see :data:`PROTOCOL_RULES`).
        ious: ``(n_frames,)`` per scored frame, after masking (-1 on invalid ground truth).
        n_valid: scored frames with a valid ground-truth row.
        n_frames: frames scored (after a frame-range rule such as Tiger1's).
        denominator: what the curves were divided by.
        first_frame: 1-based index, in the input arrays, of the first scored frame.
        protocol: the protocol's name.
    """

    precision_curve: np.ndarray
    success_curve: np.ndarray
    precision: float
    auc: float
    center_errors: np.ndarray
    ious: np.ndarray
    n_valid: int
    n_frames: int = 0
    denominator: int = 0
    first_frame: int = 1
    protocol: str = "otb"


def protocol_rules(protocol: str) -> ProtocolRules:
    """The rules of a protocol name of :data:`ALL_PROTOCOLS` (or an alias of :data:`PROTOCOL_ALIASES`).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    try:
        return PROTOCOL_RULES[PROTOCOL_ALIASES.get(protocol, protocol)]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(ALL_PROTOCOLS)}") from None


def _bad_prediction(box: np.ndarray) -> bool:
    return bool(not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0)


def score_sequence(
    pred_boxes: Any,
    gt_boxes: Any,
    protocol: str = "otb",
    name: str | None = None,
) -> SequenceScore:
    """Score one trajectory against its ground truth under a named protocol.

    Args:
        pred_boxes: ``(N, 4)`` predicted ``x, y, w, h`` per frame (frame 1 = the initial box).
        gt_boxes: ``(N, 4)`` ground truth.
        protocol: one of :data:`ALL_PROTOCOLS` (default ``"otb"``, the MATLAB toolkit).
        name: the sequence's name; enables per-sequence frame ranges (Tiger1 under ``otb`` and
            ``pytracking``: with 354 ground-truth rows only frames 6-354 are scored; the prediction
            may then have 354 rows or the 349 of frames 6-354).

    Returns:
        A :class:`SequenceScore`.

    Raises:
        ValueError: unknown protocol, wrong shapes, length mismatch, an empty sequence, under
            ``pytracking`` a NaN or negative-size prediction (naming the frame) or a sequence
            without a single valid ground-truth frame.
    """
    rules = protocol_rules(protocol)
    label = f" of sequence {name!r}" if name else ""
    gt = _as_boxes(gt_boxes, f"ground truth{label}")
    pred = _as_boxes(pred_boxes, f"prediction{label}")
    if gt.ndim != 2 or pred.ndim != 2:
        raise ValueError(f"score_sequence{label}: expected (N, 4) arrays, got {pred.shape} and {gt.shape}")
    if len(gt) == 0:
        raise ValueError(f"score_sequence{label}: empty ground truth")

    start = 0  # 0-based index of the first scored frame in the input arrays
    frame_range = rules.frame_ranges.get(name.lower()) if name else None
    if frame_range is not None and len(gt) == frame_range.n_gt_rows:
        start = frame_range.first_frame - 1
        gt = gt[start:]
        if len(pred) == frame_range.n_gt_rows:
            pred = pred[start:]
        elif len(pred) != len(gt):
            raise ValueError(
                f"prediction{label} has {len(pred)} rows; under protocol {protocol!r} expected "
                f"{frame_range.n_gt_rows} (all frames) or {len(gt)} (frames {frame_range.first_frame}-"
                f"{frame_range.n_gt_rows})"
            )
    if len(pred) != len(gt):
        raise ValueError(
            f"prediction{label} has {len(pred)} rows but the ground truth has {len(gt)}; "
            "one x, y, w, h row per frame is needed"
        )

    pred = pred.copy()
    gt_has_nan = np.any(np.isnan(gt), axis=1)
    if rules.bad_prediction == "previous":
        for i in range(1, len(pred)):
            if _bad_prediction(pred[i]) and not gt_has_nan[i]:
                pred[i] = pred[i - 1]
    elif rules.bad_prediction == "zero_previous_else_raise":
        broken = ~np.all(np.isfinite(pred), axis=1) | np.any(pred[:, 2:] < 0, axis=1)
        if np.any(broken):
            i = int(np.flatnonzero(broken)[0])
            raise ValueError(
                f"invalid prediction{label} at frame {start + i + 1}: {pred[i].tolist()} "
                f"(protocol {protocol!r} rejects NaN and negative sizes)"
            )
        for i in range(1, len(pred)):
            if np.any(pred[i, 2:] == 0) and not gt_has_nan[i]:
                pred[i] = pred[i - 1]
    if rules.replace_first_frame:
        pred[0] = gt[0]

    valid = valid_gt_rows(gt)
    n_valid = int(valid.sum())
    with np.errstate(invalid="ignore"):
        errors = center_error(pred, gt)
        overlaps = iou(pred, gt)
    denominator = len(gt)
    if rules.invalid_gt == "mask":
        with np.errstate(invalid="ignore"):
            iou_masked = ~valid if rules.iou_mask == "row" else ~np.all(gt[:, 2:] > 0, axis=1)
            centre = gt[:, :2] + (gt[:, 2:] - 1.0) / 2.0
            centre_masked = ~valid if rules.centre_mask == "row" else ~np.all(centre > 0, axis=1)
        overlaps[iou_masked] = -1.0
        errors[centre_masked] = -1.0
    elif rules.invalid_gt == "fail":
        overlaps[~valid] = -1.0
        errors[~valid] = np.inf
    elif rules.invalid_gt == "exclude":
        overlaps[~valid] = -1.0
        errors[~valid] = np.inf
        denominator = n_valid
        if denominator == 0:
            raise ValueError(
                f"sequence{label} has no valid ground-truth frame; protocol {protocol!r} "
                "divides by the number of valid frames"
            )

    prec = precision_curve(errors, denominator)
    succ = success_curve(overlaps, denominator)
    return SequenceScore(
        precision_curve=prec,
        success_curve=succ,
        precision=float(prec[PRECISION_AT]),
        auc=float(succ.mean()),
        center_errors=errors,
        ious=overlaps,
        n_valid=n_valid,
        n_frames=len(gt),
        denominator=denominator,
        first_frame=start + 1,
        protocol=protocol,
    )


# --------------------------------------------------------------------------- a dataset


@dataclass
class CurveSummary:
    """Curves averaged over a group of sequences (mean over sequences, each weighing the same).

    Attributes:
        precision_curve: ``(51,)``; success_curve: ``(21,)``.
        precision: ``precision_curve[20]``; auc: mean of ``success_curve``.
        names: the sequences averaged.
    """

    precision_curve: np.ndarray
    success_curve: np.ndarray
    precision: float
    auc: float
    names: tuple[str, ...]

    @property
    def n_sequences(self) -> int:
        """How many sequences were averaged."""
        return len(self.names)


@dataclass
class DatasetScore:
    """A tracker's scores on a dataset under one protocol.

    Attributes:
        protocol: the protocol used.
        precision_curve, success_curve, precision, auc: over all scored sequences
            (mean of the per-sequence curves).
        sequences: name -> :class:`SequenceScore`.
        attributes: attribute code -> :class:`CurveSummary` over the sequences having it, in
            :data:`ATTRIBUTE_ORDER` (codes outside it follow, sorted).
        missing: dataset sequences skipped for lack of a result (``missing="skip"``).
    """

    protocol: str
    precision_curve: np.ndarray
    success_curve: np.ndarray
    precision: float
    auc: float
    sequences: dict[str, SequenceScore]
    attributes: dict[str, CurveSummary]
    missing: tuple[str, ...] = ()

    @property
    def n_sequences(self) -> int:
        """How many sequences were scored."""
        return len(self.sequences)


def _summarise(scores: Mapping[str, SequenceScore], names: list[str]) -> CurveSummary:
    prec = np.mean([scores[n].precision_curve for n in names], axis=0)
    succ = np.mean([scores[n].success_curve for n in names], axis=0)
    return CurveSummary(prec, succ, float(prec[PRECISION_AT]), float(succ.mean()), tuple(names))


def _attribute_sort_key(code: str) -> tuple[int, str]:
    return (ATTRIBUTE_ORDER.index(code), "") if code in ATTRIBUTE_ORDER else (len(ATTRIBUTE_ORDER), code)


def score_dataset(
    results: Mapping[str, Any],
    dataset: Iterable[Any],
    protocol: str = "otb",
    names: Iterable[str] | None = None,
    missing: Literal["error", "skip"] = "error",
) -> DatasetScore:
    """Score a tracker's trajectories on every sequence of a dataset, overall and per attribute.

    Args:
        results: sequence name -> ``(N, 4)`` predicted boxes (e.g. from
            :func:`rankatt_lib.evaluation.results.load_results`). Names that are not in the dataset are ignored;
            other toolkits' spellings (``Jogging-1``, ``Jogging_1``, ``Human4`` for ``Human4.2``)
            are matched with :func:`rankatt_lib.evaluation.results.match_names`.
        dataset: iterable of sequences, each with ``name``, ``gt`` ``(N, 4)`` and ``attributes``
            (a tuple of codes; a sequence without the attribute is treated as having none).
        protocol: one of :data:`PROTOCOLS`.
        names: score only these sequences (each must be in the dataset).
        missing: what to do with a dataset sequence that has no result: ``"error"`` raises
            ``KeyError`` naming them, ``"skip"`` leaves them out (listed in ``DatasetScore.missing``).

    Returns:
        A :class:`DatasetScore`.
    """
    protocol_rules(protocol)
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    sequences = list(dataset)
    if names is not None:
        wanted = list(names)
        known = {s.name for s in sequences}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise KeyError(f"sequences not in the dataset: {', '.join(unknown)}")
        wanted_set = set(wanted)
        sequences = [s for s in sequences if s.name in wanted_set]
    if any(s.name not in results for s in sequences):
        # Results named in another toolkit's spelling (Jogging-1, Jogging_1, Human4): match them.
        from rankatt_lib.evaluation.results import match_names

        matched = match_names(results, [s.name for s in sequences])
        results = {n: results[r] for n, r in matched.items()}
    absent = [s.name for s in sequences if s.name not in results]
    if absent and missing == "error":
        raise KeyError(f"no result for {len(absent)} sequence(s): {', '.join(absent)}")
    scored = [s for s in sequences if s.name in results]
    if not scored:
        raise ValueError("nothing to score: no sequence of the dataset has a result")

    per_seq: dict[str, SequenceScore] = {}
    by_attr: dict[str, list[str]] = {}
    for seq in scored:
        per_seq[seq.name] = score_sequence(results[seq.name], seq.gt, protocol=protocol, name=seq.name)
        for code in getattr(seq, "attributes", ()) or ():
            by_attr.setdefault(code, []).append(seq.name)

    overall = _summarise(per_seq, list(per_seq))
    attributes = {code: _summarise(per_seq, by_attr[code]) for code in sorted(by_attr, key=_attribute_sort_key)}
    return DatasetScore(
        protocol=protocol,
        precision_curve=overall.precision_curve,
        success_curve=overall.success_curve,
        precision=overall.precision,
        auc=overall.auc,
        sequences=per_seq,
        attributes=attributes,
        missing=tuple(absent),
    )


@dataclass(frozen=True)
class TrajectoryAgreement:
    """How closely two runs of a tracker agree, frame by frame (e.g. the CPU and a GPU).

    Attributes:
        mean_iou: mean IoU between the two runs' boxes over every compared frame of every sequence.
        per_sequence: sequence -> mean IoU over its compared frames.
        frames: frames compared (frame 1, the given box, is left out).
        share_above_half: share of compared frames whose IoU is above 0.5.
        max_centre_distance: the largest distance between the two centres, in pixels.
        identical_sequences: sequences whose boxes agree to 1e-6 px on every frame.
    """

    mean_iou: float
    per_sequence: dict[str, float]
    frames: int
    share_above_half: float
    max_centre_distance: float
    identical_sequences: tuple[str, ...]


def trajectory_agreement(a: Mapping[str, Any], b: Mapping[str, Any]) -> TrajectoryAgreement:
    """Frame-by-frame IoU between two runs' trajectories over the sequences both have.

    Args:
        a, b: sequence name -> boxes ``(N, 4)`` (``x, y, w, h``; frame 1 first), e.g. two
            :func:`rankatt_lib.evaluation.results.load_results`.

    Raises:
        ValueError: no sequence in common, or a sequence whose two runs differ in length.
    """
    names = [n for n in a if n in b]
    if not names:
        raise ValueError("the two runs have no sequence in common")
    per_seq: dict[str, float] = {}
    all_iou: list[np.ndarray] = []
    identical: list[str] = []
    max_dist = 0.0
    for name in names:
        pa, pb = _as_boxes(a[name], f"a[{name!r}]"), _as_boxes(b[name], f"b[{name!r}]")
        if pa.shape != pb.shape:
            raise ValueError(f"{name}: {len(pa)} boxes in one run and {len(pb)} in the other")
        pa, pb = pa[1:], pb[1:]
        if len(pa) == 0:
            continue
        ov = iou(pa, pb)
        per_seq[name] = float(np.nanmean(ov))
        all_iou.append(ov)
        max_dist = max(max_dist, float(np.nanmax(center_error(pa, pb))))
        if np.allclose(pa, pb, rtol=0.0, atol=1e-6):
            identical.append(name)
    if not all_iou:
        raise ValueError("nothing to compare: every common sequence has a single frame")
    pooled = np.concatenate(all_iou)
    return TrajectoryAgreement(
        mean_iou=float(np.nanmean(pooled)),
        per_sequence=per_seq,
        frames=int(pooled.size),
        share_above_half=float(np.mean(pooled > 0.5)),
        max_centre_distance=max_dist,
        identical_sequences=tuple(identical),
    )


# --------------------------------------------------------------------------- comparing two trackers


@dataclass(frozen=True)
class PairedDifference:
    """The mean per-sequence difference of two trackers' scores, with a paired bootstrap interval.

    Attributes:
        mean: mean over sequences of ``a - b`` (the difference of the two overall scores, since an
            OTB score is the mean of the per-sequence scores).
        low, high: the ``level`` percentile interval of that mean over bootstrap resamples of the
            sequences (the same sequences for both trackers: a paired comparison).
        level: e.g. 0.95.
        n_sequences: sequences compared.
        wins, losses: sequences where ``a`` is higher / lower by more than ``tie``.
    """

    mean: float
    low: float
    high: float
    level: float
    n_sequences: int
    wins: int
    losses: int

    @property
    def excludes_zero(self) -> bool:
        """The whole interval is above or below 0."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Mapping[str, float] | Any,
    b: Mapping[str, float] | Any,
    n_resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
    tie: float = 1e-9,
) -> PairedDifference:
    """Is tracker ``a`` better than ``b`` on these sequences, or is it noise? A paired bootstrap.

    The sequences are resampled with replacement ``n_resamples`` times; each resample's mean of
    the per-sequence differences ``a - b`` gives one value of the overall difference, and the
    ``level`` interval of those values says how much of the difference one or two sequences
    carry. The resamples depend only on ``seed`` and the number of sequences, so two comparisons
    over the same sequences use the same resamples.

    Args:
        a, b: per-sequence scores (e.g. AUC): two mappings sequence -> score (compared over the
            sequences both have, in ``a``'s order) or two equal-length sequences of numbers.
        n_resamples: bootstrap resamples (>= 100).
        level: coverage of the interval, in (0, 1).
        seed: of the resampling.
        tie: per-sequence differences within it count as neither win nor loss.

    Raises:
        ValueError: no sequence in common, lengths that differ, a non-finite score, or bad settings.
    """
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ValueError("give two mappings sequence -> score, or two arrays")
    if isinstance(a, Mapping):
        names = [n for n in a if n in b]
        if not names:
            raise ValueError("the two trackers have no sequence in common")
        da = np.array([float(a[n]) for n in names])
        db = np.array([float(b[n]) for n in names])
    else:
        da, db = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
        if da.shape != db.shape:
            raise ValueError(f"{da.size} scores against {db.size}")
        if da.size == 0:
            raise ValueError("no scores")
    if not (np.isfinite(da).all() and np.isfinite(db).all()):
        raise ValueError("a per-sequence score is not finite")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    d = da - db
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_resamples, d.size))
    means = d[idx].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return PairedDifference(
        mean=float(d.mean()),
        low=float(low),
        high=float(high),
        level=float(level),
        n_sequences=int(d.size),
        wins=int((d > tie).sum()),
        losses=int((d < -tie).sum()),
    )
