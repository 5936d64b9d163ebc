"""Chooses the mixed-precision policy and XLA compilation for the hardware and Keras backend at hand.

Only the TensorFlow backend imports TensorFlow here; on JAX and PyTorch the
devices are asked of those libraries.
"""

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


def _backend(backend):
    return backend or keras.backend.backend()


def auto_precision_policy(accelerator, backend=None):
    """Policy name for an accelerator kind (`"tpu"`, `"gpu"` or `"cpu"`) and a Keras backend.

    bfloat16 on TPUs, float16 on GPUs (every backend). On CPUs, bfloat16
    only on the TensorFlow backend and only with bf16 units (AVX512-BF16,
    AMX): 1.6x float32 there with oneDNN. On JAX, XLA's CPU convolutions
    are slower in bfloat16 (0.38x float32, measured at width 16), and on
    PyTorch no faster (1.04x), so both keep float32 on a CPU
    (`docs/DECISIONS.md`).

    Args:
        accelerator: `"tpu"`, `"gpu"` or `"cpu"`.
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default Keras's.
    """
    if accelerator == "tpu":
        return "mixed_bfloat16"
    if accelerator == "gpu":
        return "mixed_float16"
    if _backend(backend) == "tensorflow" and cpu_supports_bf16():
        return "mixed_bfloat16"
    return "float32"


def detect_accelerator(backend=None):
    """`"tpu"`, `"gpu"` or `"cpu"`: the devices the Keras backend sees.

    Args:
        backend: `"tensorflow"`, `"jax"` or `"torch"`; default Keras's.
    """
    backend = _backend(backend)
    if backend == "jax":
        import jax

        platforms = {device.platform for device in jax.devices()}
        if "tpu" in platforms:
            return "tpu"
        return "gpu" if platforms & {"gpu", "cuda", "rocm"} else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
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
        precision = auto_precision_policy(detect_accelerator())  # Keras's current backend
    keras.mixed_precision.set_global_policy(precision)
    return precision


def auto_jit_compile(accelerator, backend=None):
    """Whether to compile the train step (`jit_compile`) on an accelerator kind and backend.

    - TensorFlow: XLA on GPUs and TPUs, where it fuses the elementwise work
      around each convolution; off on CPUs, where it is slower than
      TensorFlow's oneDNN kernels (measured in `benchmarks/bench.py`).
    - JAX: always; `jax.jit` (XLA) is JAX's compiled path, without it every
      op runs on its own.
    - PyTorch: never by default; `jit_compile=True` is `torch.compile`,
      whose compile time a short run does not win back.
    """
    backend = _backend(backend)
    if backend == "jax":
        return True
    if backend == "torch":
        return False
    return accelerator in ("gpu", "tpu")


def resolve_jit_compile(choice="auto", backend=None):
    """`"auto"`, `"on"` or `"off"` to the `jit_compile` argument of `compile`, for a backend."""
    if choice not in ("auto", "on", "off"):
        raise ValueError(f"Argument `choice` must be 'auto', 'on' or 'off'. Received: choice={choice!r}")
    if choice == "auto":
        return auto_jit_compile(detect_accelerator(backend), backend)
    return choice == "on"
