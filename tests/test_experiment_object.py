"""``Experiment``: a dataset and a results folder; run, score, report (got10k's ExperimentOTB as model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rankatt_lib import data, evaluation
from rankatt_lib.data.synthetic import plan_benchmark, write_sequence
from rankatt_lib.evaluation import results
from rankatt_lib.evaluation.run import run_tracker
from rankatt_lib.experiments.experiment import Experiment


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp") / "syn"
    for spec in plan_benchmark(0)[:2]:
        write_sequence(dataclasses.replace(spec, n_frames=12, image_size=(160, 120)), root)
    return data.OTBFormatDataset(root, name="toy")


def test_run_writes_what_the_runner_writes_and_resumes(synth, tmp_path):
    exp = Experiment(synth, tmp_path / "a")
    assert exp.folder == tmp_path / "a" / "toy" and exp.missing("kcf") == list(synth.names)
    report = exp.run("kcf", progress=False)
    assert report.done == list(synth.names) and exp.missing("kcf") == []
    assert exp.complete(["kcf", "mosse"]) == ["kcf"]
    run_tracker("kcf", synth, tmp_path / "b", benchmark="toy", progress=False)
    for n in synth.names:  # the same boxes as the plain runner
        np.testing.assert_array_equal(results.load_results(tmp_path / "a", "toy", "kcf")[n],
                                      results.load_results(tmp_path / "b", "toy", "kcf")[n])
    again = exp.run("kcf", progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(synth.names)


def test_score_and_table_agree_with_scoring_by_hand(synth, tmp_path):
    exp = Experiment(synth, tmp_path)
    exp.run("kcf", progress=False)
    scores = exp.score(["kcf", "mosse"])
    assert scores.incomplete == {"mosse": list(synth.names)}
    by_hand = evaluation.score_dataset(results.load_results(tmp_path, "toy", "kcf"), synth)
    assert scores.scores["otb"]["kcf"].auc == pytest.approx(by_hand.auc)
    table = exp.table(scores)
    assert list(table.index) == ["kcf"] and table.loc["kcf"].iloc[0] == pytest.approx(by_hand.auc, abs=5e-4)


def test_report_writes_its_files_under_the_benchmark(synth, tmp_path):
    exp = Experiment(synth, tmp_path)
    exp.run("kcf", progress=False)
    files = exp.report(["kcf"])
    assert (tmp_path / "toy" / "report" / "README.md") in files
    assert (tmp_path / "toy" / "report" / "toy_ope.png").is_file()
    assert "kcf" in (tmp_path / "toy" / "report" / "README.md").read_text()


def test_a_dataset_without_names_is_refused():
    with pytest.raises(TypeError, match="Experiment needs a dataset with .name and .names"):
        Experiment([1, 2, 3])
