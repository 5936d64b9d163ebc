"""Speed of training, input pipeline and inference, measured in one process.

    python benchmarks/bench.py                 # the full set, several minutes on 2 cores
    python benchmarks/bench.py --quick         # fewer cases and steps, under two minutes
    python benchmarks/bench.py --json out.json
    python benchmarks/bench.py --backends-only  # the training step on TensorFlow, JAX and PyTorch, side by side

Every figure is the median of several timed repetitions after warm-up steps,
in images per second. Ratios are taken between figures of the same run, since
a shared machine drifts between runs. PyTorch rows need `torch`; the ONNX row
needs `onnxruntime` and `tf2onnx`; missing packages skip their rows.

The backend comparison runs the same Keras model's training step on each
Keras backend, each in its own process (a process has one backend), with
each backend's automatic precision and compilation on this machine
(`keras_s11.precision`) and in float32, and reports img/s and the ratio to
the TensorFlow backend.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_s11.run_folder import write_json  # noqa: E402


def median_seconds(step, warmup, repeats):
    """Median wall time of `step()` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synthetic_batch(batch_size, seed=0):
    """Normalised-looking float32 NHWC images and int labels."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch_size, 32, 32, 3)).astype("float32")
    return images, rng.integers(0, 10, batch_size).astype("int32")


def keras_train_step(policy, jit_compile, fused_batchnorm, batch_size, warmup, repeats):
    """img/s of one SGD training step of the full model (forward, backward, update)."""
    import keras
    import tensorflow as tf

    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.model import build_model

    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(fused_batchnorm=fused_batchnorm)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
            loss=SparseCategoricalCrossentropy(label_smoothing=0.2),
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    images, labels = (tf.constant(a) for a in synthetic_batch(batch_size))
    seconds = median_seconds(lambda: model.train_on_batch(images, labels), warmup, repeats)
    return batch_size / seconds


def torch_train_step(bf16, batch_size, warmup, repeats):
    """img/s of the same step in PyTorch (bf16: autocast + channels_last)."""
    import torch

    from keras_s11.torch_reference import ResNet9

    torch.manual_seed(0)
    model = ResNet9()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images, labels = synthetic_batch(batch_size)
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(labels).long()
    if bf16:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(images), labels, label_smoothing=0.2)
        loss.backward()
        optimizer.step()

    return batch_size / median_seconds(step, warmup, repeats)


def training_flops_per_image(model):
    """FLOPs of one training step per image: 3x the forward pass of the convolutions and the FC layer.

    (Backward costs about twice the forward: gradients of inputs and of weights.)
    """
    forward = 0
    for layer in model.layers:
        if layer.__class__.__name__ in ("Conv2D", "Dense"):
            kernel = layer.kernel.shape
            positions = 1
            for size in layer.output.shape[1:-1]:
                positions *= size
            forward += 2 * positions * int(np.prod(kernel))
    return 3 * forward


def bf16_matmul_tflops(size=4096, repeats=5):
    """Measured bfloat16 matrix-multiply throughput of this machine, in TFLOP/s (best of `repeats`)."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.bfloat16)
    b = tf.random.normal((size, size), dtype=tf.bfloat16)
    matmul = tf.function(lambda: tf.linalg.matmul(a, b))
    matmul().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e12


def pipeline_throughput(batch_size, batches, num_images=50_000, kind="tf.data"):
    """img/s of a training input alone (shuffle, gather, augment, normalise).

    `kind`: `"tf.data"` (`make_train_dataset`, the TensorFlow backend's) or
    `"pydataset"` (`make_train_batches`, NumPy, the other backends').
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (num_images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, num_images)
    if kind == "tf.data":
        from keras_s11.data.pipeline import make_train_dataset

        iterator = iter(make_train_dataset(images, labels, batch_size, seed=0).repeat())
    else:
        from keras_s11.data.train_batches import make_train_batches

        iterator = _pass_after_pass(make_train_batches(images, labels, batch_size, seed=0))
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def _pass_after_pass(dataset):
    """The batches of a training input without end: each pass is the next epoch."""
    while True:
        yield from dataset


def callback_overhead_ms(steps):
    """Milliseconds per step that `OneCycle` and `StepHistory` add to `fit`.

    Measured on a one-layer model, whose step costs far less than the
    callbacks, as the difference of two `fit` runs of `steps` steps.
    """
    import keras
    import tensorflow as tf

    from keras_s11.callbacks import OneCycle, StepHistory

    x = np.zeros((steps * 8, 4), "float32")
    y = np.zeros(steps * 8, "int32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).cache()

    def fit_seconds(callbacks):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # trace
        start = time.perf_counter()
        model.fit(dataset, epochs=2, verbose=0, shuffle=False, callbacks=callbacks())
        return time.perf_counter() - start

    plain = min(fit_seconds(list) for _ in range(2))
    with_callbacks = min(
        fit_seconds(lambda: [OneCycle(0.01, 0.1, epochs=2, peak_epoch=1), StepHistory()]) for _ in range(2)
    )
    return 1000 * (with_callbacks - plain) / (2 * steps)


def keras_and_onnx_inference(num_images, batch_size, repeats, tmp_dir):
    """img/s of `model.predict` (float32 and mixed_bfloat16) and of the ONNX export in onnxruntime."""
    import keras
    import onnxruntime

    from keras_s11.export import export_onnx, make_input_spec
    from keras_s11.model import build_model

    images = synthetic_batch(num_images)[0]
    results = {}
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = build_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model = build_model()
    model.set_weights(mixed.get_weights())
    for name, m in (("keras_predict_float32", model), ("keras_predict_bf16", mixed)):
        seconds = median_seconds(lambda m=m: m.predict(images, batch_size=batch_size, verbose=0), 1, repeats)
        results[name] = num_images / seconds
    path = os.path.join(tmp_dir, "model.onnx")
    export_onnx(model, path, make_input_spec())
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def run_onnx():
        for start in range(0, num_images, batch_size):
            session.run(None, {input_name: images[start : start + batch_size]})

    results["onnxruntime_float32"] = num_images / median_seconds(run_onnx, 1, repeats)
    return results


BACKENDS = ("tensorflow", "jax", "torch")


def backend_train_step(policy, batch_size, warmup, repeats, width=64):
    """img/s of one training step of the model on the current Keras backend (run in a child process).

    The same model, loss and optimizer as `keras_train_step`, with the
    backend's automatic `jit_compile` (`keras_s11.precision`); the batch is
    converted to a backend tensor once.
    """
    import keras

    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.model import build_model
    from keras_s11.precision import resolve_jit_compile

    keras.mixed_precision.set_global_policy(policy)
    model = build_model(width=width)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        loss=SparseCategoricalCrossentropy(label_smoothing=0.2),
        metrics=["accuracy"],
        jit_compile=resolve_jit_compile("auto"),
    )
    images, labels = (keras.ops.convert_to_tensor(a) for a in synthetic_batch(batch_size))
    return batch_size / median_seconds(lambda: model.train_on_batch(images, labels), warmup, repeats)


def backend_child(args):
    """The child process of `compare_backends`: prints one JSON line of results."""
    import keras

    from keras_s11.precision import set_precision_policy

    auto = set_precision_policy("auto")
    rows = {}
    for policy in dict.fromkeys([auto, "float32"]):
        rows[policy] = backend_train_step(policy, args.batch_size, args.warmup, args.repeats, args.width)
    tensorflow = "tensorflow" in sys.modules
    print(json.dumps({"backend": keras.backend.backend(), "auto": auto, "img_per_s": rows, "tensorflow": tensorflow}))


def compare_backends(backends, batch_size, warmup, repeats, width=64, timeout=1800):
    """The training step on each Keras backend, each in its own process.

    Args:
        backends: Names of Keras backends; one whose library is missing (or
            whose child fails) is reported and skipped.
        batch_size, warmup, repeats: As in `median_seconds` and the step.
        width: Model width (64: the recipe's network).
        timeout: Seconds allowed to each child.

    Returns:
        `{backend: {"auto": policy, "img_per_s": {policy: img/s}}}`.
    """
    results = {}
    for backend in backends:
        command = [sys.executable, os.path.abspath(__file__), "--backend-child", "--batch-size", str(batch_size)]
        command += ["--warmup", str(warmup), "--repeats", str(repeats), "--width", str(width)]
        env = dict(os.environ, KERAS_BACKEND=backend)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"{backend}: no result within {timeout} s, skipped")
            continue
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        if run.returncode != 0 or not lines:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{backend}: skipped ({last})")
            continue
        result = json.loads(lines[-1])
        results[backend] = {"auto": result["auto"], "img_per_s": result["img_per_s"]}
    return results


def print_backend_table(results):
    """Prints img/s per backend and policy, and each backend's ratio to the TensorFlow backend."""
    reference = results.get("tensorflow")
    print(f"{'backend':12s} {'precision':22s} {'img/s':>10s} {'/ tensorflow':>13s}")
    for backend, result in results.items():
        for policy, value in result["img_per_s"].items():
            base = reference and reference["img_per_s"].get(policy)
            ratio = f"{value / base:12.2f}x" if base else f"{'':13s}"
            marker = " (auto)" if policy == result["auto"] else ""
            print(f"{backend:12s} {policy + marker:22s} {value:10.1f} {ratio}")
        if reference and backend != "tensorflow":
            mine, theirs = result["img_per_s"][result["auto"]], reference["img_per_s"][reference["auto"]]
            print(f"{backend:12s} {'auto / auto':22s} {'':10s} {mine / theirs:12.2f}x")


def machine():
    """What the numbers were measured on."""
    import keras
    import tensorflow as tf

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer cases and repetitions (under two minutes)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, help="timed steps per case (default 5, quick 3)")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="skip the PyTorch reference")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="skip the XLA cases")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=list(BACKENDS),
        help="Keras backends whose training step is compared, each in its own process (default: all three)",
    )
    parser.add_argument(
        "--no-backends", dest="compare_backends", action="store_false", help="skip that comparison (--quick skips it)"
    )
    parser.add_argument("--backends-only", action="store_true", help="run only the backend comparison")
    parser.add_argument("--width", type=int, default=64, help="model width of the backend comparison (default 64)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before each case (default 2)")
    parser.add_argument("--backend-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    args.repeats = repeats = args.repeats or (3 if args.quick else 5)
    warmup = args.warmup
    batch = args.batch_size
    if args.backend_child:
        return backend_child(args)
    backends = {}
    if args.backends_only or (args.compare_backends and not args.quick):
        print("Training step per Keras backend, each in its own process:", flush=True)
        backends = compare_backends(args.backends, batch, warmup, repeats, args.width)
        print_backend_table(backends)
        print(flush=True)
    if args.backends_only:
        if args.json:
            write_json(args.json, _backend_record(args, backends))
            print(f"\nWrote {args.json}")
        return
    rows = []  # (name, img/s)

    def record(name, value):
        rows.append((name, value))
        print(f"{name:40s} {value:10.1f} img/s", flush=True)

    cases = [("mixed_bfloat16", False, True), ("mixed_bfloat16", False, False), ("float32", False, True)]
    if not args.quick:
        cases.append(("float32", False, False))
    if args.xla:
        cases += [("mixed_bfloat16", True, True)] + ([] if args.quick else [("float32", True, True)])
    for policy, jit, fused in cases:
        name = f"train keras {policy}" + (" xla" if jit else "") + ("" if fused else " keras-bn")
        record(name, keras_train_step(policy, jit, fused, batch, warmup, repeats))

    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("torch not installed: PyTorch rows skipped")
        else:
            record("train torch bfloat16 channels_last", torch_train_step(True, batch, warmup, repeats))
            if not args.quick:
                record("train torch float32", torch_train_step(False, batch, warmup, repeats))

    record("input pipeline", pipeline_throughput(batch, 10 if args.quick else 40))  # tf.data
    record("input pipeline make_train_batches", pipeline_throughput(batch, 10 if args.quick else 40, kind="pydataset"))
    overhead = callback_overhead_ms(50 if args.quick else 200)
    print(f"{'callbacks OneCycle+StepHistory':40s} {overhead:10.2f} ms/step", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        try:
            inference = keras_and_onnx_inference(2048 if args.quick else 5000, batch, 2 if args.quick else 3, tmp)
        except ImportError as error:
            print(f"inference rows skipped: {error}")
            inference = {}
    for name, value in inference.items():
        record(f"inference {name.replace('_', ' ')}", value)

    from keras_s11.model import build_model

    flops = training_flops_per_image(build_model())
    peak = bf16_matmul_tflops()
    ceiling = peak * 1e12 / flops
    print(f"{'bf16 matmul peak':40s} {peak:10.2f} TFLOP/s")
    print(f"{'training step, per image':40s} {flops / 1e9:10.2f} GFLOP")
    record("ceiling: bf16 matmul peak / step FLOPs", ceiling)

    figures = dict(rows)
    ratios = {}

    def ratio(name, numerator, denominator):
        if numerator in figures and denominator in figures:
            ratios[name] = figures[numerator] / figures[denominator]
            print(f"{name:60s} {ratios[name]:6.2f}x")

    print()
    bf16 = "train keras mixed_bfloat16"
    ratio("keras bf16 / torch bf16 (training step)", bf16, "train torch bfloat16 channels_last")
    ratio("keras bf16 / keras float32 (training step)", bf16, "train keras float32")
    ratio("fused BN / keras BN, bf16 (training step)", bf16, f"{bf16} keras-bn")
    ratio("XLA / no XLA, bf16 (training step)", f"{bf16} xla", bf16)
    ratio("keras bf16 training step / ceiling", bf16, "ceiling: bf16 matmul peak / step FLOPs")
    ratio("input pipeline / keras bf16 training step", "input pipeline", bf16)
    ratio("tf.data pipeline / NumPy PyDataset", "input pipeline", "input pipeline make_train_batches")
    ratio("onnxruntime / keras predict (float32)", "inference onnxruntime float32", "inference keras predict float32")

    if args.json:
        result = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
            "machine": machine(),
            "batch_size": batch,
            "repeats": repeats,
            "img_per_s": figures,
            "callback_overhead_ms_per_step": overhead,
            "bf16_matmul_tflops": peak,
            "training_gflop_per_image": flops / 1e9,
            "ratios": ratios,
            "backends": backends,
        }
        write_json(args.json, result)
        print(f"\nWrote {args.json}")


def _backend_record(args, backends):
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "cores": os.cpu_count(),
        "batch_size": args.batch_size,
        "width": args.width,
        "repeats": args.repeats,
        "backends": backends,
    }


if __name__ == "__main__":
    main()
