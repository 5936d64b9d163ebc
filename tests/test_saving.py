import keras
import numpy as np
import pytest

from keras_s11.model import build_model
from keras_s11.saving import ModelFileError, as_float32, float32_copy, load_model


@pytest.fixture
def mixed_bf16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_float32_copy_of_mixed_model_matches_in_float32(mixed_bf16):
    model = build_model(width=4)
    keras.mixed_precision.set_global_policy("float32")
    copy = float32_copy(model)
    assert model.get_layer("prep_conv").dtype_policy.name == "mixed_bfloat16"
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    images = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    reference = build_model(width=4)
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(copy.predict(images, verbose=0), reference.predict(images, verbose=0), atol=1e-6)


def test_load_model_round_trip(tmp_path):
    model = build_model(width=4)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.keras", None, "does not exist"),
        ("notes.txt", b"hello", "not a Keras model file"),
        ("fake.keras", b"not a zip", "not a Keras model file"),
        ("folder.keras", "dir", "is a folder"),
    ],
)
def test_load_model_rejects_non_models_with_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value)


def test_load_model_rejects_a_damaged_archive(tmp_path):
    import zipfile

    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelFileError, match="could not be loaded"):
        load_model(path)


def test_as_float32_copies_only_mixed_models(mixed_bf16):
    mixed = build_model(width=4)
    keras.mixed_precision.set_global_policy("float32")
    plain = build_model(width=4)
    assert as_float32(plain) is plain
    copy = as_float32(mixed)
    assert copy is not mixed and {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
