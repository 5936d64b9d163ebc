import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.data import normalize
from keras_s11.export import make_input_spec
from keras_s11.serving import ImageError, InputSpec, format_prediction, load_image, prepare_inputs
from tests.conftest import make_images
from tests.export_fixtures import save_randomized_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREDICT = os.path.join(ROOT, "scripts", "predict.py")
EXPORT = os.path.join(ROOT, "scripts", "export.py")

# Runs predict.py with TensorFlow and Keras made unimportable: it must not need them.
WITHOUT_TENSORFLOW = (
    "import runpy, sys\n"
    "sys.modules['tensorflow'] = sys.modules['keras'] = None\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def run_predict(*args):
    command = [sys.executable, "-c", WITHOUT_TENSORFLOW, PREDICT, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model exported by scripts/export.py (raw uint8 NCHW input), and the model itself."""
    folder = tmp_path_factory.mktemp("exported")
    model = save_randomized_model(folder / "model.keras", seed=2)
    out = folder / "export"
    command = [EXPORT, "--model", folder / "model.keras", "--out", out, "--nchw", "--with-preprocessing"]
    result = subprocess.run([sys.executable, *map(str, command)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "model.onnx (onnxruntime" in result.stdout and "Export folder:" in result.stdout
    return out, model


def write_images(folder, images):
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def test_predict_prints_class_and_probability_without_tensorflow(exported, tmp_path):
    out, model = exported
    images = make_images(3, seed=11)
    paths = write_images(tmp_path, images)
    result = run_predict(*paths, "--model", out / "model.onnx", "--top-k", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    expected = model.predict(normalize(images).numpy(), verbose=0)
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for path, line, probabilities in zip(paths, lines, expected):
        name, predictions = line.split(": ")
        printed = [item.split(" ") for item in predictions.split(", ")]
        assert name == str(path)
        assert [cls for cls, _ in printed] == [CIFAR10_CLASSES[i] for i in np.argsort(-probabilities)[:2]]
        assert [float(p) for _, p in printed] == pytest.approx(np.sort(probabilities)[::-1][:2], abs=1e-4)


def test_predict_refuses_a_wrong_size_image_and_offers_resize(exported, tmp_path):
    out, _ = exported
    path = tmp_path / "big.png"
    Image.fromarray(make_images(1)[0]).resize((64, 48)).convert("RGBA").save(path)
    result = run_predict(path, "--model", out / "model.onnx")
    assert result.returncode == 1 and result.stdout == ""
    assert error_lines(result) == [
        f"error: image {path} is 64x48 RGBA, expected 32x32 RGB; pass --resize to convert and resize it"
    ]
    resized = run_predict(path, "--resize", "--model", out / "model.onnx")
    assert resized.returncode == 0 and resized.stdout.startswith(f"{path}: ")


@pytest.mark.parametrize("kind", ["missing", "not_onnx", "not_an_image"])
def test_predict_bad_files_give_one_error_line(exported, tmp_path, kind):
    out, _ = exported
    image = write_images(tmp_path, make_images(1))[0]
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    args = {
        "missing": (image, "--model", tmp_path / "missing.onnx"),
        "not_onnx": (image, "--model", text),
        "not_an_image": (text, "--model", out / "model.onnx"),
    }[kind]
    result = run_predict(*args)
    assert result.returncode == 1 and len(error_lines(result)) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_load_image_reads_32x32_rgb(tmp_path):
    image = make_images(1, seed=5)[0]
    path = write_images(tmp_path, [image])[0]
    np.testing.assert_array_equal(load_image(path), image)
    Image.fromarray(image).convert("L").save(tmp_path / "grey.png")
    with pytest.raises(ImageError, match="is 32x32 L, expected 32x32 RGB"):
        load_image(tmp_path / "grey.png")
    assert load_image(tmp_path / "grey.png", resize=True).shape == (32, 32, 3)


def test_prepare_inputs_for_each_contract():
    images = make_images(2, seed=6)
    keras_normalised = normalize(images).numpy()
    nhwc = prepare_inputs(images, make_input_spec())
    np.testing.assert_allclose(nhwc, keras_normalised, rtol=0, atol=1e-6)
    nchw = prepare_inputs(images, make_input_spec(nchw=True))
    assert nchw.shape == (2, 3, 32, 32) and nchw.dtype == np.float32
    np.testing.assert_allclose(nchw, keras_normalised.transpose(0, 3, 1, 2), rtol=0, atol=1e-5)
    raw = prepare_inputs(images, make_input_spec(nchw=True, with_preprocessing=True))
    np.testing.assert_array_equal(raw, images.transpose(0, 3, 1, 2))


def test_nchw_input_is_torchvisions_normalisation():
    torch = pytest.importorskip("torch")
    images = make_images(2, seed=8)
    spec = make_input_spec(nchw=True)
    # torchvision's ToTensor() then Normalize(mean / 255, std / 255), written in torch ops.
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor([m / 255 for m in spec.mean]).view(1, 3, 1, 1)
    std = torch.tensor([s / 255 for s in spec.std]).view(1, 3, 1, 1)
    np.testing.assert_allclose(prepare_inputs(images, spec), ((tensor - mean) / std).numpy(), rtol=0, atol=1e-6)


def test_input_spec_metadata_round_trips():
    spec = make_input_spec(nchw=True, with_preprocessing=True)
    assert InputSpec.from_metadata(spec.to_metadata()) == spec
    with pytest.raises(ValueError, match="Received: layout='NWHC'"):
        InputSpec("NWHC", "client", (0, 0, 0), (1, 1, 1), ("a",))


def test_format_prediction():
    line = format_prediction("a.png", np.array([0.1, 0.7, 0.2]), ("x", "y", "z"), top_k=2)
    assert line == "a.png: y 0.7000, z 0.2000"


def test_export_script_refuses_non_model_and_existing_folder(exported, tmp_path):
    out, _ = exported
    (tmp_path / "notes.keras").write_text("not a model")
    for args, message in (
        (["--model", tmp_path / "notes.keras", "--out", tmp_path / "new"], "is not a Keras model file"),
        (["--model", tmp_path / "notes.keras", "--out", out], "already exists; pass --overwrite"),
    ):
        result = subprocess.run([sys.executable, EXPORT, *map(str, args)], capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        assert result.stderr.strip().splitlines()[-1].startswith("error: ")
        assert message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "new").exists()
