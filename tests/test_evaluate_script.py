import importlib.util
import os
import subprocess
import sys

import pytest

from tests.report_helpers import tiny_compiled_model, write_fake_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVALUATE = os.path.join(ROOT, "scripts", "evaluate.py")
REPORT_FILES = [
    "classwise_accuracy.png",
    "confusion_matrix.png",
    "gradcam.png",
    "lr_per_step.png",
    "lr_range_test.png",
    "metrics.json",
    "misclassified.png",
    "report.md",
    "train_vs_test_accuracy.png",
    "training_curves.png",
]


def load_script():
    spec = importlib.util.spec_from_file_location("evaluate_script", EVALUATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_evaluate_writes_every_file_of_the_report_next_to_the_model(image_folder, tmp_path, capsys):
    write_fake_run(tmp_path / "run", tiny_compiled_model())
    model_path = str(tmp_path / "run" / "model.keras")
    args = ["--model", model_path, "--data-dir", str(image_folder), "--gradcam-images", "3"]
    result = subprocess.run([sys.executable, EVALUATE, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(os.listdir(tmp_path / "run" / "report")) == REPORT_FILES
    assert "Accuracy of airplane   : " in result.stdout and "Test accuracy" in result.stdout
    # A second run refuses to overwrite the report.
    with pytest.raises(SystemExit) as info:
        load_script().main(args)
    assert info.value.code != 0 and capsys.readouterr().err.startswith("error: report folder")


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "does not exist"),
        ("not_a_model", "not a Keras model file"),
        ("five_classes", "the model has 5 outputs but the data has 10 classes"),
        ("bad_layer", "valid layer names: prep_conv, "),
        ("bad_data", "data folder"),
    ],
)
def test_bad_input_gives_one_error_line_and_writes_nothing(case, message, image_folder, tmp_path, capsys):
    model_path = tmp_path / "model.keras"
    extra = []
    if case == "not_a_model":
        model_path = tmp_path / "notes.txt"
        model_path.write_text("hello")
    elif case in ("five_classes", "bad_layer", "bad_data"):
        tiny_compiled_model(num_classes=5 if case == "five_classes" else 10).save(model_path)
        extra = ["--layers", "layer1", "layer_x"] if case == "bad_layer" else []
    data_dir = tmp_path / "nowhere" if case == "bad_data" else image_folder
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as info:
        load_script().main(["--model", str(model_path), "--data-dir", str(data_dir), "--out", str(out), *extra])
    assert info.value.code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no temporary folder left
