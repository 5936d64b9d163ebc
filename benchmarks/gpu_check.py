"""The recipe on a GPU without TensorFlow: 24 epochs under KERAS_BACKEND=jax, then torch.

For a lent GPU machine with JAX and PyTorch (CUDA) but no Keras, no
TensorFlow and no network (docs/BENCHMARKS.md): Keras and its missing
dependencies are installed from wheels carried along
(`benchmarks/gpu_prepare.sh`), and the images are the JPEG class folders of
../shared/datasets/cifar10, carried as .data/cifar10.

    python benchmarks/gpu_check.py --data-dir .data/cifar10
    python benchmarks/gpu_check.py --data-dir DIR --tiny     # a minute on a CPU: the flow, not the numbers

The images are decoded once, in this process (NumPy and Pillow only), and
handed to one child process per backend (a process has one Keras backend):
LR range test, one-cycle training (mixed_float16 on a GPU; XLA on JAX),
test accuracy. It prints the wall time of every epoch, the range test's
pick and the accuracy, one JSON line per backend, and a summary table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TINY = dict(epochs=2, peak_epoch=1, limit_train=512, limit_test=200, width=8, batch_size=64, range_test_steps=5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="class folders (train/, test/) or cifar-10-batches-py")
    parser.add_argument("--backends", nargs="+", choices=("jax", "torch", "tensorflow"), default=["jax", "torch"])
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--peak-epoch", type=float, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--range-test-steps", type=int, default=100)
    parser.add_argument("--limit-train", type=int, help="use the first N training images (after a seeded shuffle)")
    parser.add_argument("--limit-test", type=int, help="use N test images")
    parser.add_argument("--precision", default="auto", help="auto (mixed_float16 on a GPU), float32, mixed_bfloat16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help=f"a CPU-sized check of the flow: {TINY}")
    parser.add_argument("--json", help="write the results of every backend to this file")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed to each backend (default 3600)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--arrays", help=argparse.SUPPRESS)  # the decoded images, for a child
    args = parser.parse_args(argv)
    if args.tiny:
        for name, value in TINY.items():
            setattr(args, name, value)
    return args


def subset(images, labels, limit, seed):
    """A seeded random subset of `limit` examples (all when `limit` is None)."""
    import numpy as np

    if limit is None or limit >= len(images):
        return images, labels
    keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:limit])
    return images[keep], labels[keep]


def load_images(args):
    """`((x_train, y_train), (x_test, y_test))`, limited as the flags say."""
    from keras_s11.data import load_cifar10

    (x_train, y_train), (x_test, y_test) = load_cifar10(args.data_dir)
    return subset(x_train, y_train, args.limit_train, args.seed), subset(x_test, y_test, args.limit_test, args.seed)


def run_backend(args):
    """The whole recipe on the current Keras backend; returns its results as a dict."""
    import keras
    import numpy as np

    from keras_s11.callbacks import OneCycle
    from keras_s11.data import make_inputs
    from keras_s11.evaluation import accuracy, flip_averaged, predict_probabilities
    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.lr_finder import find_lr_range
    from keras_s11.model import build_model
    from keras_s11.precision import detect_accelerator, resolve_jit_compile, set_precision_policy

    backend = keras.backend.backend()
    started = time.perf_counter()
    if args.arrays:
        with np.load(args.arrays) as arrays:
            x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    else:
        (x_train, y_train), (x_test, y_test) = load_images(args)
    loaded = time.perf_counter() - started
    policy = set_precision_policy(args.precision)
    jit = resolve_jit_compile("auto")
    device = detect_accelerator()
    sizes = f"{len(x_train)} train / {len(x_test)} test images"
    print(f"[{backend}] {device}, {policy}, jit_compile={jit}; {sizes}", flush=True)
    keras.utils.set_random_seed(args.seed)
    train, test = make_inputs((x_train, y_train), (x_test, y_test), args.batch_size, seed=args.seed)
    model = build_model(width=args.width)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        loss=SparseCategoricalCrossentropy(label_smoothing=0.2),
        metrics=["accuracy"],
        jit_compile=jit,
    )
    start = time.perf_counter()
    found = find_lr_range(model, train, start_lr=1e-3, end_lr=10.0, num_steps=args.range_test_steps, verbose=0)
    range_seconds = time.perf_counter() - start
    print(f"[{backend}] range test: LRMIN {found.lr_min:.4g}, LRMAX {found.lr_max:.4g} ({range_seconds:.1f} s)")
    lr_min, lr_max = (found.lr_min, found.lr_max) if found.lr_min < found.lr_max else (0.04, 0.4)
    epoch_seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.start)
            print(
                f"[{backend}] epoch {epoch + 1:2d}: {epoch_seconds[-1]:6.1f} s, "
                f"loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}",
                flush=True,
            )

    one_cycle = OneCycle(lr_min, lr_max, epochs=args.epochs, peak_epoch=args.peak_epoch)
    model.fit(
        train,
        epochs=args.epochs,
        callbacks=[one_cycle, EpochTimer()],
        shuffle=False,
        verbose=0,
    )
    probabilities = predict_probabilities(model, x_test, args.batch_size)
    result = {
        "backend": backend,
        "device": device,
        "policy": policy,
        "jit_compile": jit,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "data_load_seconds": round(loaded, 1),
        "range_test": {"lr_min": found.lr_min, "lr_max": found.lr_max, "seconds": round(range_seconds, 1)},
        "lr_used": [lr_min, lr_max],
        "epoch_seconds": [round(s, 2) for s in epoch_seconds],
        "train_seconds": round(sum(epoch_seconds), 1),
        "test_accuracy": accuracy(probabilities, y_test),
        "test_accuracy_flip_tta": accuracy(flip_averaged(model, x_test, probabilities, args.batch_size), y_test),
    }
    _add_device_name(result, backend)
    return result


def _add_device_name(result, backend):
    """The GPU's name, as the backend's library reports it."""
    try:
        if backend == "jax":
            import jax

            result["device_name"] = jax.devices()[0].device_kind
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                result["device_name"] = torch.cuda.get_device_name(0)
    except Exception:  # the name is a nicety
        pass


def child_argv(args, backend, arrays=None):
    """The command line of the child process for `backend` (reading the decoded images from `arrays`)."""
    argv = [sys.executable, os.path.abspath(__file__), "--child", "--data-dir", args.data_dir, "--seed", str(args.seed)]
    if arrays:
        argv += ["--arrays", arrays]
    for name in ("epochs", "peak_epoch", "batch_size", "width", "range_test_steps", "limit_train", "limit_test"):
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv + ["--precision", args.precision]


def run_child(args, backend, arrays):
    """Runs the recipe on `backend` in a child process; its results, or `None` if it failed."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"=== KERAS_BACKEND={backend}", flush=True)
    start = time.perf_counter()
    try:
        run = subprocess.run(
            child_argv(args, backend, arrays), env=env, stdout=subprocess.PIPE, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        print(f"[{backend}] no result within {args.timeout} s", flush=True)
        return None
    lines = run.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("RESULT ")), flush=True)
    found = [json.loads(line[len("RESULT ") :]) for line in lines if line.startswith("RESULT ")]
    if run.returncode != 0 or not found:
        print(f"[{backend}] failed with exit status {run.returncode}", flush=True)
        return None
    found[0]["process_seconds"] = round(time.perf_counter() - start, 1)
    print("RESULT " + json.dumps(found[0]), flush=True)
    return found[0]


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(run_backend(args)), flush=True)
        return None
    import numpy as np

    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_images(args)
    print(f"Decoded {len(x_train)} training and {len(x_test)} test images in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        arrays = os.path.join(tmp, "images.npz")
        np.savez(arrays, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        results = [r for r in (run_child(args, backend, arrays) for backend in args.backends) if r]
    print()
    print(
        f"{'backend':10s} {'device':28s} {'policy':16s} {'LRMIN':>8s} {'LRMAX':>8s} {'median epoch':>13s} "
        f"{'train s':>8s} {'test acc':>9s}"
    )
    for r in results:
        epochs = sorted(r["epoch_seconds"])
        median = epochs[len(epochs) // 2] if epochs else float("nan")
        print(
            f"{r['backend']:10s} {r.get('device_name', r['device'])[:28]:28s} {r['policy']:16s} "
            f"{r['range_test']['lr_min']:8.4g} {r['range_test']['lr_max']:8.4g} {median:12.2f}s "
            f"{r['train_seconds']:8.1f} {r['test_accuracy']:9.4f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    results = main()
    sys.exit(0 if results is None or results else 1)
