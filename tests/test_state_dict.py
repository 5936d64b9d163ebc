import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file

from keras_s11.data import normalize
from keras_s11.export import ExportError, export_model, save_state_dict, torch_state_dict
from tests.conftest import make_images
from tests.export_fixtures import randomized_model, save_randomized_model


def expected_shapes(width, classes=10):
    """The original assignment's PyTorch module: names and shapes, written out."""
    c1, c2, c3, c4 = width, 2 * width, 4 * width, 8 * width

    def bn(prefix, channels):
        return {
            f"{prefix}.weight": (channels,),
            f"{prefix}.bias": (channels,),
            f"{prefix}.running_mean": (channels,),
            f"{prefix}.running_var": (channels,),
            f"{prefix}.num_batches_tracked": (),
        }

    def residual_layer(prefix, cin, cout):
        return {
            f"{prefix}.conv.weight": (cout, cin, 3, 3),
            **bn(f"{prefix}.bn", cout),
            f"{prefix}.res.conv1.weight": (cout, cout, 3, 3),
            **bn(f"{prefix}.res.bn1", cout),
            f"{prefix}.res.conv2.weight": (cout, cout, 3, 3),
            **bn(f"{prefix}.res.bn2", cout),
        }

    return {
        "prep.0.weight": (c1, 3, 3, 3),
        **bn("prep.1", c1),
        **residual_layer("layer1", c1, c2),
        "layer2.0.weight": (c3, c2, 3, 3),
        **bn("layer2.2", c3),
        **residual_layer("layer3", c3, c4),
        "fc.weight": (classes, c4),
        "fc.bias": (classes,),
    }


def test_keys_and_shapes_are_the_assignments():
    state = torch_state_dict(randomized_model(width=4))
    assert {key: value.shape for key, value in state.items()} == expected_shapes(4)
    assert expected_shapes(64)["fc.weight"] == (10, 512)


def test_values_are_transposed_and_the_logit_scale_folded():
    model = randomized_model(width=4)
    state = torch_state_dict(model)
    kernel = model.get_layer("layer1_res_conv2").kernel.numpy()  # (h, w, in, out)
    np.testing.assert_array_equal(state["layer1.res.conv2.weight"][5, 2, 0, 1], kernel[0, 1, 2, 5])
    bn = model.get_layer("layer2_bn")
    np.testing.assert_array_equal(state["layer2.2.running_mean"], bn.moving_mean.numpy())
    np.testing.assert_array_equal(state["layer2.2.running_var"], bn.moving_variance.numpy())
    np.testing.assert_array_equal(state["layer2.2.weight"], bn.gamma.numpy())
    np.testing.assert_array_equal(state["layer2.2.bias"], bn.beta.numpy())
    fc = model.get_layer("fc")
    # 0.125 is a power of two: the folded weights are exact.
    np.testing.assert_array_equal(state["fc.weight"], fc.kernel.numpy().T * 0.125)
    np.testing.assert_array_equal(state["fc.bias"], fc.bias.numpy() * 0.125)


def test_saved_file_round_trips(tmp_path):
    state = torch_state_dict(randomized_model(width=4))
    save_state_dict(state, tmp_path / "model.safetensors")
    loaded = load_file(tmp_path / "model.safetensors")
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


def test_a_model_without_the_networks_layers_is_refused():
    import keras

    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ExportError, match="no layer 'prep_conv'"):
        torch_state_dict(other)


def test_reference_module_has_the_assignments_names():
    pytest.importorskip("torch")
    from keras_s11.torch_reference import ResNet9

    module = ResNet9(width=4)
    assert {key: tuple(value.shape) for key, value in module.state_dict().items()} == expected_shapes(4)
    assert sum(p.numel() for p in ResNet9().parameters()) == 6_573_130


def test_state_dict_in_pytorch_matches_keras(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as load_torch_file

    from keras_s11.torch_reference import ResNet9

    path = tmp_path / "model.keras"
    keras_model = save_randomized_model(path, seed=5)
    report = export_model(path, tmp_path / "export", formats=("state_dict",), parity_count=16)
    assert report["artefacts"]["model.safetensors"]["passed"]
    with safe_open(tmp_path / "export" / "model.safetensors", framework="numpy") as file:
        metadata = file.metadata()
    assert metadata["width"] == "4" and metadata["num_classes"] == "10"
    module = ResNet9.from_safetensors(tmp_path / "export" / "model.safetensors")  # width 4 from the metadata
    assert not module.training and module.prep[0].out_channels == 4
    by_hand = ResNet9(width=4)
    by_hand.load_state_dict(load_torch_file(tmp_path / "export" / "model.safetensors"), strict=True)
    assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(), by_hand.state_dict().values()))
    images = make_images(6, seed=7)
    nchw = torch.from_numpy(np.ascontiguousarray(normalize(images).numpy().transpose(0, 3, 1, 2)))
    with torch.no_grad():
        probabilities = module(nchw).softmax(dim=1).numpy()
    np.testing.assert_allclose(probabilities, keras_model.predict(normalize(images).numpy(), verbose=0), atol=1e-4)


def test_reference_module_is_built_from_the_weights_of_a_file_without_metadata(tmp_path):
    pytest.importorskip("torch")
    from keras_s11.torch_reference import ResNet9

    state = torch_state_dict(randomized_model(width=8))
    save_state_dict(state, tmp_path / "old.safetensors")  # no width or num_classes recorded
    module = ResNet9.from_safetensors(tmp_path / "old.safetensors")
    assert module.prep[0].out_channels == 8 and module.fc.out_features == 10
    np.testing.assert_array_equal(module.fc.bias.detach().numpy(), state["fc.bias"])


def test_export_without_torch_still_writes_and_reads_back_the_state_dict(tmp_path, monkeypatch):
    import keras_s11.export.exporter as exporter

    monkeypatch.setattr(exporter, "torch_available", lambda: False)
    path = tmp_path / "model.keras"
    model = save_randomized_model(path)
    report = export_model(path, tmp_path / "export", formats=("state_dict",), parity_count=4)
    entry = report["artefacts"]["model.safetensors"]
    assert entry["checked"] is False and "not installed" in entry["reason"]
    loaded = load_file(tmp_path / "export" / "model.safetensors")
    np.testing.assert_array_equal(loaded["fc.bias"], model.get_layer("fc").bias.numpy() * 0.125)


def test_check_state_dict_file_catches_a_difference(tmp_path):
    from keras_s11.export import ParityError
    from keras_s11.export.state_dict import check_state_dict_file

    state = {"a": np.zeros(3, np.float32), "b": np.array(0, np.int64)}
    save_state_dict(state, tmp_path / "s.safetensors")
    check_state_dict_file(tmp_path / "s.safetensors", state)
    with pytest.raises(ParityError, match="a does not read back"):
        check_state_dict_file(tmp_path / "s.safetensors", {**state, "a": np.ones(3, np.float32)})
    with pytest.raises(ParityError, match="holds keys"):
        check_state_dict_file(tmp_path / "s.safetensors", {**state, "c": state["b"]})
