"""Why one trajectory scores differently under the protocols: per sequence, the rules that acted.

The protocols of :mod:`rankatt_lib.evaluation.metrics` differ in a handful of rules (frame 1 replaced by the
ground truth, invalid ground-truth rows masked or excluded, bad predictions replaced by the previous
box, Tiger1's frames 6-354, the denominator). :func:`explain_sequence` scores one trajectory under
each protocol and lists, for each, which of these rules changed something on *this* sequence and
how many frames they touched; :func:`format_explanation` prints it. Nothing here scores differently
from :func:`rankatt_lib.evaluation.metrics.score_sequence`: the facts are read off its result and the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankatt_lib.evaluation import metrics as ev

__all__ = ["ProtocolFacts", "SequenceExplanation", "explain_sequence", "format_explanation"]


@dataclass
class ProtocolFacts:
    """What one protocol did to one sequence.

    Attributes:
        protocol: its name.
        auc, precision: the scores (NaN when the protocol refused the trajectory).
        error: the protocol's error message when it refused it (pytracking: NaN predictions).
        first_frame: 1-based first scored frame; n_frames: frames scored; denominator: what the
            curves were divided by.
        first_replaced: frame 1 was overwritten by the ground truth and the prediction differed.
        iou_masked: frames whose IoU was set to -1 (an invalid ground-truth row).
        centre_masked: frames whose centre error was set to -1 (passes) or +inf (fails).
        centre_mask_value: -1.0 or inf, the value used.
        predictions_replaced: frames whose bad prediction became the previous box.
        bad_as_given: bad predictions (NaN, w or h <= 0) scored as they are.
        invalid_gt_as_given: invalid ground-truth rows scored as numbers (got10k: no masking).
    """

    protocol: str
    auc: float
    precision: float
    error: str = ""
    first_frame: int = 1
    n_frames: int = 0
    denominator: int = 0
    first_replaced: bool = False
    iou_masked: int = 0
    centre_masked: int = 0
    centre_mask_value: float = -1.0
    predictions_replaced: int = 0
    bad_as_given: int = 0
    invalid_gt_as_given: int = 0

    def reasons(self) -> list[str]:
        """The rules that acted, in words (empty when none did)."""
        if self.error:
            return [f"refused: {self.error}"]
        out = []
        if self.first_frame != 1:
            out.append(f"frames {self.first_frame}-{self.first_frame + self.n_frames - 1} only")
        if self.first_replaced:
            out.append("frame 1 replaced by the ground truth")
        if self.iou_masked:
            out.append(f"{self.iou_masked} frame(s) with IoU -1 (invalid ground truth)")
        if self.invalid_gt_as_given:
            out.append(f"{self.invalid_gt_as_given} invalid ground-truth frame(s) scored as they are")
        if self.centre_masked:
            how = "passes" if self.centre_mask_value < 0 else "fails"
            out.append(f"{self.centre_masked} frame(s) with centre error {self.centre_mask_value:g} ({how})")
        if self.predictions_replaced:
            out.append(f"{self.predictions_replaced} bad prediction(s) replaced by the previous box")
        if self.bad_as_given:
            out.append(f"{self.bad_as_given} bad prediction(s) scored as given")
        if self.denominator != self.n_frames:
            out.append(f"divided by {self.denominator} valid frames of {self.n_frames}")
        return out


@dataclass
class SequenceExplanation:
    """One sequence under several protocols."""

    name: str
    facts: dict[str, ProtocolFacts] = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        """True when the protocols do not all give the same AUC and precision."""
        scores = {(f.auc, f.precision, bool(f.error)) for f in self.facts.values()}
        return len(scores) > 1


def _bad(box: np.ndarray) -> bool:
    return bool(not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0)


def explain_sequence(
    pred: Any, gt: Any, name: str | None = None, protocols: Iterable[str] = ev.ALL_PROTOCOLS
) -> SequenceExplanation:
    """Score ``pred`` against ``gt`` under each protocol and record which rules acted."""
    pred_all = np.asarray(pred, dtype=np.float64)
    gt_all = np.asarray(gt, dtype=np.float64)
    out = SequenceExplanation(name or "")
    for protocol in protocols:
        rules = ev.protocol_rules(protocol)
        try:
            s = ev.score_sequence(pred_all, gt_all, protocol=protocol, name=name)
        except ValueError as exc:
            out.facts[protocol] = ProtocolFacts(protocol, float("nan"), float("nan"), error=str(exc))
            continue
        start = s.first_frame - 1
        g = gt_all[start:][: s.n_frames] if len(gt_all) > s.n_frames else gt_all
        p = pred_all[start:][: s.n_frames] if len(pred_all) > s.n_frames else pred_all
        gt_nan = np.any(np.isnan(g), axis=1)
        bad = np.array([_bad(b) for b in p], dtype=bool)
        bad[0] = False
        zero = np.any(p[:, 2:] == 0, axis=1)
        zero[0] = False
        if rules.bad_prediction == "previous":
            replaced, as_given = int(np.sum(bad & ~gt_nan)), 0
        elif rules.bad_prediction == "zero_previous_else_raise":
            replaced, as_given = int(np.sum(zero & ~gt_nan)), 0
        else:
            replaced, as_given = 0, int(np.sum(bad))
        centre_masked = int(np.sum(s.center_errors == -1.0) + np.sum(np.isinf(s.center_errors)))
        out.facts[protocol] = ProtocolFacts(
            protocol=protocol,
            auc=s.auc,
            precision=s.precision,
            first_frame=s.first_frame,
            n_frames=s.n_frames,
            denominator=s.denominator,
            first_replaced=bool(rules.replace_first_frame and not np.array_equal(p[0], g[0], equal_nan=True)),
            iou_masked=int(np.sum(s.ious == -1.0)),
            centre_masked=centre_masked,
            centre_mask_value=float("inf") if np.any(np.isinf(s.center_errors)) else -1.0,
            predictions_replaced=replaced,
            bad_as_given=as_given,
            invalid_gt_as_given=(s.n_frames - s.n_valid) if rules.invalid_gt == "raw" else 0,
        )
    return out


def format_explanation(explanations: Sequence[SequenceExplanation], show_all: bool = False) -> str:
    """Text: for each sequence whose scores differ between protocols (all with ``show_all``), one
    line per protocol with its AUC, precision and the rules that acted."""
    lines = []
    same = [e.name for e in explanations if not e.differs]
    for e in explanations:
        if not e.differs and not show_all:
            continue
        lines.append(f"{e.name}:")
        width = max(len(p) for p in e.facts)
        for f in e.facts.values():
            score = "refused" if f.error else f"AUC {f.auc:.4f}  precision {f.precision:.4f}"
            why = "; ".join(f.reasons()) if not f.error else f.error
            lines.append(f"  {f.protocol:<{width}}  {score}" + (f"  -- {why}" if why and not f.error else ""))
            if f.error:
                lines.append(f"  {'':<{width}}  -- {why}")
    if same and not show_all:
        shown = ", ".join(same[:12]) + (f", ... and {len(same) - 12} more" if len(same) > 12 else "")
        lines.append(f"{len(same)} sequence(s) score the same under every protocol: {shown}")
    return "\n".join(lines)
