import json
import os

import numpy as np
import pytest

from keras_s11.data import make_eval_dataset
from keras_s11.evaluation import predict_probabilities
from keras_s11.report import (
    ReportError,
    RunRecord,
    check_report_inputs,
    classwise_table,
    model_loss,
    read_run_folder,
    summarize,
    write_report,
)
from tests.conftest import make_images
from tests.report_helpers import tiny_compiled_model, write_fake_run

EVALUATION_FILES = [
    "classwise_accuracy.png",
    "confusion_matrix.png",
    "gradcam.png",
    "metrics.json",
    "misclassified.png",
    "report.md",
]
RUN_FIGURES = ["lr_per_step.png", "lr_range_test.png", "train_vs_test_accuracy.png", "training_curves.png"]


def test_summarize_matches_hand_computed_values():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 2, 0, 2])
    metrics = summarize(probabilities, labels, ["a", "b", "c"], loss=1.5)
    assert metrics["accuracy"] == 0.75 and metrics["num_misclassified"] == 1 and metrics["loss"] == 1.5
    assert metrics["confusion_matrix"] == [[2, 0, 0], [0, 0, 0], [0, 1, 1]]
    assert metrics["classwise_accuracy"] == {"a": 1.0, "b": None, "c": 0.5}
    expected = -np.mean(np.log([0.7, 0.3, 0.6, 0.8]))
    assert metrics["cross_entropy"] == pytest.approx(expected, rel=1e-12)
    assert classwise_table(metrics).splitlines()[1] == "Accuracy of b : n/a"


def test_model_loss_is_what_evaluate_reports():
    model = tiny_compiled_model()
    images, labels = make_images(16), np.arange(16) % 10
    probabilities = predict_probabilities(model, images)
    expected = model.evaluate(make_eval_dataset(images, labels), verbose=0, return_dict=True)["loss"]
    assert model_loss(model, probabilities, labels) == pytest.approx(expected, rel=1e-5)
    assert model.losses  # the L2 penalty is part of it


def test_found_lrs_prefer_the_range_test_over_the_config():
    record = RunRecord("run", config={"lr_min_used": 0.05, "lr_max_used": 0.5})
    assert record.found_lrs == (0.05, 0.5)
    record.range_test = {"lr_min": 0.02, "lr_max": 0.2}
    assert record.found_lrs == (0.02, 0.2)
    assert RunRecord("run").found_lrs is None


def test_read_run_folder(tmp_path):
    assert read_run_folder(tmp_path) is None  # no config.json: not a run folder
    (tmp_path / "config.json").write_text('{"epochs": 2}')
    (tmp_path / "history.json").write_text("{broken")
    with pytest.raises(ReportError, match="history.json"):
        read_run_folder(tmp_path)


def test_write_report_of_a_run_writes_every_file(tmp_path):
    model = tiny_compiled_model()
    write_fake_run(tmp_path / "run", model)
    images, labels = make_images(12), np.arange(12) % 10
    metrics = write_report(
        tmp_path / "run" / "report", model, images, labels, run=read_run_folder(tmp_path / "run"), gradcam_images=3
    )
    assert sorted(os.listdir(tmp_path / "run" / "report")) == sorted(EVALUATION_FILES + RUN_FIGURES)
    assert len(metrics["gradcam"]["images"]) == min(3, metrics["num_misclassified"])
    text = (tmp_path / "run" / "report" / "report.md").read_text()
    for name in EVALUATION_FILES + RUN_FIGURES:
        if name.endswith(".png"):
            assert f"]({name})" in text
    assert "LRMIN = 0.01, LRMAX = 0.1" in text
    saved = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert saved["accuracy"] == metrics["accuracy"] and len(saved["confusion_matrix"]) == 10


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path):
    five_outputs = tiny_compiled_model(num_classes=5)
    with pytest.raises(ReportError, match="the model has 5 outputs but the data has 10 classes"):
        write_report(tmp_path / "report", five_outputs, make_images(4), [0, 1, 2, 3])
    model = tiny_compiled_model()
    with pytest.raises(ReportError, match="labels"):
        check_report_inputs(model, [0, 10])
    with pytest.raises(ValueError, match="valid layer names"):
        write_report(tmp_path / "report", model, make_images(4), [0, 1, 2, 3], layers=["nope"])
    assert os.listdir(tmp_path) == []


def test_write_report_reuses_given_predictions(tmp_path):
    model = tiny_compiled_model()
    images, labels = make_images(10), np.arange(10)
    perfect = np.eye(10, dtype="float32")  # not what the untrained model predicts
    metrics = write_report(tmp_path / "report", model, images, labels, probabilities=perfect)
    assert metrics["accuracy"] == 1.0 and metrics["num_misclassified"] == 0
