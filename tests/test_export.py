import json
import os

import numpy as np
import onnx
import onnxruntime
import pytest

from keras_s11.data import normalize
from keras_s11.export import ExportError, ParityError, compare, export_model
from keras_s11.export.parity import check, parity_images, synthetic_images
from keras_s11.saving import ModelFileError
from tests.conftest import SHARED_CIFAR10, make_images
from tests.export_fixtures import randomized_model, save_randomized_model


@pytest.fixture(scope="module")
def saved_model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_randomized_model(path)
    return path


@pytest.fixture(scope="module")
def keras_model(saved_model_path):
    from keras_s11.saving import load_model

    return load_model(saved_model_path, compile=False)


def keras_probabilities(model, images):
    """The reference computed directly: normalise, run, no export code involved."""
    return model.predict(normalize(images).numpy(), verbose=0)


def test_compare_exact_figures():
    reference = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    candidate = np.array([[0.6, 0.4], [0.45, 0.55], [0.5, 0.5]])
    result = compare(reference, candidate)
    assert result == {"images": 3, "max_abs_diff": pytest.approx(0.1), "top1_agreement": 1.0}
    flipped = compare(reference, np.array([[0.3, 0.7], [0.4, 0.6], [0.5, 0.5]]))
    assert flipped["top1_agreement"] == pytest.approx(2 / 3) and flipped["max_abs_diff"] == pytest.approx(0.4)


def test_check_gates_on_difference_and_agreement():
    assert check("a", {"images": 2, "max_abs_diff": 1e-4, "top1_agreement": 1.0})["passed"]
    with pytest.raises(ParityError, match=r"b disagrees .* 0\.0002 .* 100\.00 %"):
        check("b", {"images": 2, "max_abs_diff": 2e-4, "top1_agreement": 1.0})
    with pytest.raises(ParityError, match=r"top-1 agreement 50\.00 %"):
        check("c", {"images": 2, "max_abs_diff": 0.0, "top1_agreement": 0.5})


def test_synthetic_parity_images_are_deterministic_uint8():
    images, source = parity_images(None, count=7)
    assert images.dtype == np.uint8 and images.shape == (7, 32, 32, 3)
    np.testing.assert_array_equal(images, synthetic_images(7))
    assert source["source"] == "synthetic" and source["count"] == 7


@pytest.mark.parametrize(
    "nchw, with_preprocessing, shape, dtype",
    [
        (False, False, ["batch", 32, 32, 3], onnx.TensorProto.FLOAT),
        (True, False, ["batch", 3, 32, 32], onnx.TensorProto.FLOAT),
        (False, True, ["batch", 32, 32, 3], onnx.TensorProto.UINT8),
        (True, True, ["batch", 3, 32, 32], onnx.TensorProto.UINT8),
    ],
)
def test_onnx_export_matches_keras(saved_model_path, keras_model, tmp_path, nchw, with_preprocessing, shape, dtype):
    out = tmp_path / "export"
    report = export_model(
        saved_model_path, out, nchw=nchw, with_preprocessing=with_preprocessing, formats=("onnx",), parity_count=16
    )
    assert sorted(os.listdir(out)) == ["model.onnx", "parity.json"]
    assert json.loads((out / "parity.json").read_text()) == report
    assert report["artefacts"]["model.onnx"]["passed"] and report["parity_images"]["source"] == "synthetic"
    proto = onnx.load(out / "model.onnx")
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert (graph_input.name, graph_output.name) == ("image", "probabilities")
    dims = graph_input.type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == shape
    assert graph_input.type.tensor_type.elem_type == dtype
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert metadata["layout"] == ("NCHW" if nchw else "NHWC")
    assert metadata["preprocessing"] == ("in_graph" if with_preprocessing else "client")
    # Independently of keras_s11.serving: feed onnxruntime by hand, batch of 5 (dynamic batch).
    images = make_images(5, seed=3)
    feed = images if with_preprocessing else normalize(images).numpy()
    if nchw:
        feed = feed.transpose(0, 3, 1, 2)
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"image": np.ascontiguousarray(feed)})[0]
    np.testing.assert_allclose(probabilities, keras_probabilities(keras_model, images), atol=1e-5)


def test_mixed_precision_model_exports_float32(tmp_path):
    path = tmp_path / "mixed.keras"
    save_randomized_model(path, policy="mixed_bfloat16", seed=1)
    report = export_model(path, tmp_path / "export", formats=("onnx",), parity_count=8)
    assert report["model_precision"] == "mixed_bfloat16" and report["exported_precision"] == "float32"
    assert "keras_float32_vs_original_model" in report  # reported, not gated
    proto = onnx.load(tmp_path / "export" / "model.onnx")
    half = {onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}
    assert onnx.TensorProto.FLOAT in {t.data_type for t in proto.graph.initializer}
    assert not half & {t.data_type for t in proto.graph.initializer}
    casts = [node for node in proto.graph.node if node.op_type == "Cast"]
    cast_targets = {a.i for node in casts for a in node.attribute if a.name == "to"}
    assert not half & cast_targets
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_saved_model_reload_matches_keras(saved_model_path, keras_model, tmp_path):
    import tensorflow as tf

    out = tmp_path / "export"
    report = export_model(saved_model_path, out, nchw=True, formats=("saved_model",), parity_count=8)
    assert report["artefacts"]["saved_model"]["passed"]
    serve = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"]
    spec = serve.structured_input_signature[1]["image"]
    assert (spec.shape.as_list(), spec.dtype) == ([None, 3, 32, 32], tf.float32)
    images = make_images(3, seed=4)
    outputs = serve(image=tf.constant(normalize(images).numpy().transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), keras_probabilities(keras_model, images), atol=1e-5)


def test_failed_parity_leaves_nothing_and_keeps_the_old_folder(saved_model_path, tmp_path, monkeypatch):
    import keras_s11.export.exporter as exporter

    real_export_onnx = exporter.export_onnx

    def export_a_different_model(model, path, spec, opset):
        return real_export_onnx(randomized_model(seed=99), path, spec, opset)

    monkeypatch.setattr(exporter, "export_onnx", export_a_different_model)
    with pytest.raises(ParityError, match="model.onnx disagrees"):
        export_model(saved_model_path, tmp_path / "new", formats=("onnx",), parity_count=8)
    assert os.listdir(tmp_path) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "keep.txt").write_text("earlier export")
    with pytest.raises(ParityError):
        export_model(saved_model_path, old, formats=("onnx",), parity_count=8, overwrite=True)
    assert os.listdir(tmp_path) == ["old"] and os.listdir(old) == ["keep.txt"]


def test_existing_folder_is_refused_unless_overwrite(saved_model_path, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(ExportError, match="already exists; pass --overwrite"):
        export_model(saved_model_path, out, formats=("onnx",), parity_count=4)
    export_model(saved_model_path, out, formats=("onnx",), parity_count=4, overwrite=True)
    assert sorted(os.listdir(out)) == ["model.onnx", "parity.json"]
    assert os.listdir(tmp_path) == ["export"]  # no temporary or replaced folder left


def test_non_model_is_refused(tmp_path):
    (tmp_path / "notes.keras").write_text("not a model")
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        export_model(tmp_path / "notes.keras", tmp_path / "export")
    assert not (tmp_path / "export").exists()


@pytest.mark.skipif(not SHARED_CIFAR10.is_dir(), reason="needs ../shared/datasets/cifar10")
def test_parity_on_real_test_images(saved_model_path, tmp_path):
    report = export_model(saved_model_path, tmp_path / "export", formats=("onnx",), data_dir=SHARED_CIFAR10)
    source = report["parity_images"]
    assert source["source"] == str(SHARED_CIFAR10) and source["count"] == 500
    assert report["artefacts"]["model.onnx"]["images"] == 500


def test_full_width_nchw_onnx_matches_keras(tmp_path):
    path = tmp_path / "model.keras"
    save_randomized_model(path, width=64, seed=3)
    report = export_model(path, tmp_path / "export", nchw=True, formats=("onnx",), parity_count=16)
    result = report["artefacts"]["model.onnx"]
    assert result["passed"] and result["images"] == 16
    assert onnx.load(tmp_path / "export" / "model.onnx").graph.input[0].type.tensor_type.shape.dim[1].dim_value == 3
