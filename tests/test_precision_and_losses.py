import keras
import numpy as np
import pytest

from keras_s11 import precision
from keras_s11.losses import SparseCategoricalCrossentropy


@pytest.mark.parametrize(
    "flags, expected", [("fpu avx512_bf16 sse", True), ("fpu amx_bf16 amx_tile", True), ("fpu avx2 avx512f", False)]
)
def test_cpu_bf16_detection(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor : 0\nflags : {flags}\n")
    assert precision.cpu_supports_bf16(str(cpuinfo)) is expected
    assert precision.cpu_supports_bf16(str(tmp_path / "missing")) is False


def test_auto_policy_per_accelerator(monkeypatch):
    assert precision.auto_precision_policy("tpu") == "mixed_bfloat16"
    assert precision.auto_precision_policy("gpu") == "mixed_float16"
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.auto_precision_policy("cpu") == "mixed_bfloat16"
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    assert precision.auto_precision_policy("cpu") == "float32"


def test_auto_policy_per_backend(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    for backend in ("tensorflow", "jax", "torch"):
        assert precision.auto_precision_policy("gpu", backend) == "mixed_float16"
        assert precision.auto_precision_policy("tpu", backend) == "mixed_bfloat16"
    # bf16 on a CPU pays only through TensorFlow's oneDNN kernels.
    cpu = [precision.auto_precision_policy("cpu", backend) for backend in ("tensorflow", "jax", "torch")]
    assert cpu == ["mixed_bfloat16", "float32", "float32"]


def test_jit_per_backend():
    for kind in ("cpu", "gpu", "tpu"):
        assert precision.auto_jit_compile(kind, "jax") is True
        assert precision.auto_jit_compile(kind, "torch") is False


def test_xla_on_accelerators_only(monkeypatch):
    assert [precision.auto_jit_compile(kind) for kind in ("cpu", "gpu", "tpu")] == [False, True, True]
    monkeypatch.setattr(precision, "detect_accelerator", lambda backend=None: "gpu")
    assert precision.resolve_jit_compile("auto") is True
    assert precision.resolve_jit_compile("off") is False
    monkeypatch.setattr(precision, "detect_accelerator", lambda backend=None: "cpu")
    assert precision.resolve_jit_compile("auto") is False
    assert precision.resolve_jit_compile("on") is True
    with pytest.raises(ValueError, match="choice='yes'"):
        precision.resolve_jit_compile("yes")


def test_set_precision_policy():
    assert precision.set_precision_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision"):
        precision.set_precision_policy("float8")


def test_label_smoothed_loss_matches_the_formula():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    labels = np.array([0, 1])
    for smoothing in (0.0, 0.3):
        targets = (1 - smoothing) * np.eye(3)[labels] + smoothing / 3
        expected = np.mean(-np.sum(targets * np.log(probabilities), axis=1))
        loss = SparseCategoricalCrossentropy(label_smoothing=smoothing)(labels, probabilities)
        assert float(loss) == pytest.approx(expected, rel=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert float(SparseCategoricalCrossentropy()(labels, probabilities)) == pytest.approx(float(plain), rel=1e-6)
    restored = SparseCategoricalCrossentropy.from_config(SparseCategoricalCrossentropy(0.2).get_config())
    assert restored.label_smoothing == 0.2
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCategoricalCrossentropy(1.0)
