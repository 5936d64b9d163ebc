"""examples/super_convergence.ipynb runs top to bottom, on tiny settings injected after its parameter cell."""

import os

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "examples", "super_convergence.ipynb")

TINY = """
DATA_DIR = {data!r}
LIMIT_TRAIN = LIMIT_TEST = None
WIDTH, BATCH_SIZE, EPOCHS, PEAK_EPOCH, RANGE_TEST_STEPS = 4, 32, 2, 1, 5
LR_MIN, LR_MAX = 0.01, 0.1  # five range-test steps find no usable range on random images
PRECISION = "float32"
MISCLASSIFIED_IMAGES, GRADCAM_IMAGES = 4, 2
"""


def outputs_of(cell):
    text = "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")
    images = sum("image/png" in output.get("data", {}) for output in cell.outputs)
    return text, images


def test_the_notebook_runs_top_to_bottom_on_tiny_settings(image_folder, tmp_path, monkeypatch):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1
    notebook.cells.insert(parameters[0] + 1, nbformat.v4.new_code_cell(TINY.format(data=str(image_folder))))
    # The kernel imports this checkout (so the install cell installs nothing).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    printed = [outputs_of(cell) for cell in notebook.cells if cell.cell_type == "code"]
    text = "\n".join(t for t, _ in printed)
    assert "120 training and 40 test images" in text and "Found LRMIN = " in text
    assert "Accuracy of airplane   : " in text and "onnxruntime: " in text
    difference = float(text.split("largest difference from Keras: ")[1].split()[0])
    assert difference < 1e-4
    # Range test, LR per step, curves, train vs test, class-wise, misclassified, Grad-CAM.
    assert sum(images for _, images in printed) == 7
