"""Tests of rankatt_lib.experiments.plots: legend order and labels, curves drawn, table values."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rankatt_lib import evaluation as ev  # noqa: E402
from rankatt_lib.experiments import plots  # noqa: E402

BOX = [1.0, 1.0, 10.0, 10.0]
GT = np.array([BOX] * 4)


@dataclass
class FakeSeq:
    name: str
    gt: np.ndarray
    attributes: tuple[str, ...]


DATASET = [FakeSeq("s1", GT, ("OCC", "IV")), FakeSeq("s2", GT, ("OCC",))]


def _shifted(dx: float, dy: float) -> np.ndarray:
    pred = GT.copy()
    pred[1:, 0] += dx
    pred[1:, 1] += dy
    return pred


@pytest.fixture(scope="module")
def scores() -> dict[str, ev.DatasetScore]:
    perfect, shifted, far = GT.copy(), _shifted(3, 4), _shifted(100, 100)
    runs = {
        "Zeta": {"s1": perfect, "s2": perfect},  # AUC 20/21, precision 1
        "Mid": {"s1": shifted, "s2": shifted},  # IoU 42/158, error 5: AUC 9.5/21, precision 1
        "Alpha": {"s1": far, "s2": far},  # AUC 5/21, precision 0.25
        "Mixed": {"s1": perfect, "s2": far},  # AUC 12.5/21, precision 0.625
    }
    return {t: ev.score_dataset(r, DATASET) for t, r in runs.items()}


def _legend(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_precision_plot_legend_sorted_best_first_with_scores(scores):
    fig = plots.precision_plot(scores)
    assert isinstance(fig, Figure)
    # ties (Mid, Zeta at 1.0) are broken by name
    assert _legend(fig) == ["Mid [1.000]", "Zeta [1.000]", "Mixed [0.625]", "Alpha [0.250]"]
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 50.0) and ax.get_ylim() == (0.0, 1.0)
    line = ax.get_lines()[2]  # Mixed
    np.testing.assert_array_equal(line.get_xdata(), np.arange(51))
    np.testing.assert_allclose(line.get_ydata(), scores["Mixed"].precision_curve)


def test_success_plot_legend_sorted_by_auc(scores):
    fig = plots.success_plot(scores, title="OTB-like")
    assert _legend(fig) == ["Zeta [0.952]", "Mixed [0.595]", "Mid [0.452]", "Alpha [0.238]"]
    ax = fig.axes[0]
    assert ax.get_title() == "OTB-like" and ax.get_xlim() == (0.0, 1.0)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.linspace(0, 1, 21))
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), scores["Mixed"].success_curve)


def test_attribute_plot_and_given_axes(scores):
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    out = plots.success_plot(scores, ax=ax, attribute="IV")
    assert out is fig and ax.get_legend() is not None
    assert ax.get_title() == "Success plots of OPE - illumination variation (1)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Mixed [0.952]", "Zeta [0.952]", "Mid [0.452]", "Alpha [0.238]"]  # s1 only
    with pytest.raises(KeyError, match="LR"):
        plots.precision_plot(scores, attribute="LR")


def test_results_table_values_and_order(scores):
    df = plots.results_table(scores)
    assert list(df.index) == ["Zeta", "Mixed", "Mid", "Alpha"]
    assert list(df.columns) == ["AUC", "Precision@20", "Sequences"]
    assert df.loc["Mixed", "AUC"] == pytest.approx(12.5 / 21)
    assert df.loc["Mid", "AUC"] == pytest.approx(9.5 / 21)
    assert df.loc["Alpha", "Precision@20"] == pytest.approx(0.25)
    assert df.loc["Zeta", "Sequences"] == 2


def test_attribute_table_values(scores):
    df = plots.attribute_table(scores)
    assert list(df.index) == ["Zeta", "Mixed", "Mid", "Alpha"]
    assert list(df.columns.get_level_values(0).unique()) == ["IV", "OCC"]  # OTB order
    assert df.loc["Mixed", ("IV", "AUC")] == pytest.approx(20 / 21)
    assert df.loc["Mixed", ("OCC", "AUC")] == pytest.approx(12.5 / 21)
    assert df.loc["Mixed", ("OCC", "Precision@20")] == pytest.approx(0.625)
    assert df.loc["Alpha", ("IV", "Precision@20")] == pytest.approx(0.25)
    assert df.xs("AUC", axis=1, level=1).shape == (4, 2)


def test_format_table_without_tabulate(scores):
    text = plots.format_table(plots.results_table(scores))
    lines = text.splitlines()
    assert lines[0] == "| Tracker | AUC | Precision@20 | Sequences |"
    assert lines[1] == "| :--- | ---: | ---: | ---: |"
    assert lines[2] == "| Zeta | 0.952 | 1.000 | 2 |"
    assert len(lines) == 6
    att = plots.format_table(plots.attribute_table(scores)).splitlines()
    assert att[0] == "| Tracker | IV AUC | IV Precision@20 | OCC AUC | OCC Precision@20 |"
    assert att[3] == "| Mixed | 0.952 | 1.000 | 0.595 | 0.625 |"
    assert att[4] == "| Mid | 0.452 | 1.000 | 0.452 | 1.000 |"


def test_mixed_protocols_are_refused(scores):
    other = ev.score_dataset({"s1": GT, "s2": GT}, DATASET, protocol="pysot")
    with pytest.raises(ValueError, match="different protocols"):
        plots.results_table({"Zeta": scores["Zeta"], "Z-pysot": other})
    with pytest.raises(ValueError, match="no scores"):
        plots.success_plot({})
