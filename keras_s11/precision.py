"""Chooses the mixed-precision policy and XLA compilation for the hardware at hand."""

import keras

PRECISION_CHOICES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
_CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_supports_bf16(cpuinfo_path="/proc/cpuinfo"):
    """Whether the CPU has bfloat16 matrix or vector units (AMX, AVX512-BF16)."""
    try:
        with open(cpuinfo_path) as f:
            flags = f.read().split()
    except OSError:
        return False
    return any(flag in flags for flag in _CPU_BF16_FLAGS)


def auto_precision_policy(accelerator):
    """Policy name for an accelerator kind: `"tpu"`, `"gpu"` or `"cpu"`.

    bfloat16 on TPUs and on CPUs with bf16 units (about 2x float32 there with
    oneDNN), float16 on GPUs, float32 otherwise.
    """
    if accelerator == "tpu":
        return "mixed_bfloat16"
    if accelerator == "gpu":
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_supports_bf16() else "float32"


def detect_accelerator():
    """`"tpu"`, `"gpu"` or `"cpu"`, from TensorFlow's visible devices."""
    import tensorflow as tf

    if tf.config.list_logical_devices("TPU"):
        return "tpu"
    if tf.config.list_physical_devices("GPU"):
        return "gpu"
    return "cpu"


def set_precision_policy(precision="auto"):
    """Sets Keras's global dtype policy and returns its name.

    Args:
        precision: One of `PRECISION_CHOICES`; `"auto"` picks by hardware.

    Returns:
        The name of the policy now in force.
    """
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"Argument `precision` must be one of {PRECISION_CHOICES}. Received: precision={precision!r}")
    if precision == "auto":
        precision = auto_precision_policy(detect_accelerator())
    keras.mixed_precision.set_global_policy(precision)
    return precision


def auto_jit_compile(accelerator):
    """Whether to compile the train step with XLA on an accelerator kind.

    On GPUs and TPUs XLA fuses the elementwise work around each convolution.
    On CPUs it is slower than TensorFlow's oneDNN kernels (measured in
    `benchmarks/bench.py`), so it stays off there.
    """
    return accelerator in ("gpu", "tpu")


def resolve_jit_compile(choice="auto"):
    """`"auto"`, `"on"` or `"off"` to the `jit_compile` argument of `compile`."""
    if choice not in ("auto", "on", "off"):
        raise ValueError(f"Argument `choice` must be 'auto', 'on' or 'off'. Received: choice={choice!r}")
    if choice == "auto":
        return auto_jit_compile(detect_accelerator())
    return choice == "on"
