"""A tiny end-to-end training on Keras's JAX or PyTorch backend with TensorFlow made unimportable.

Run by tests/test_backends.py as `KERAS_BACKEND=jax python tests/backend_run.py OUT.json`:
imports the package, builds the model, runs the LR range test and a
one-cycle training on `make_inputs`, evaluates, draws figures, writes the
safetensors state dict, saves and reloads the model, and writes what the
test checks to OUT.json. Any import of TensorFlow (or a package built on it)
fails as if it were not installed.
"""

import importlib.abc
import sys

BLOCKED = ("tensorflow", "tf_keras", "tf_keras_vis", "tf2onnx", "tensorflow_datasets")
attempts = []


class HideTensorFlow(importlib.abc.MetaPathFinder):
    """Wraps an import finder so that it never finds TensorFlow or a package built on it.

    With every finder wrapped, `import tensorflow` fails and
    `importlib.util.find_spec("tensorflow")` is `None`, exactly as when it
    is not installed (PyTorch asks the latter).
    """

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempts.append(name)
            return None
        find_spec = getattr(self.finder, "find_spec", None)
        return find_spec(name, path, target) if find_spec else None

    def invalidate_caches(self):
        if hasattr(self.finder, "invalidate_caches"):
            self.finder.invalidate_caches()


sys.meta_path[:] = [HideTensorFlow(finder) for finder in sys.meta_path]

import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def synthetic_data(n, seed):
    """Images whose class sets their mean colour, so a tiny model learns them."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = 20 * labels[:, None, None, None] + rng.integers(0, 40, (n, 32, 32, 3))
    return images.astype(np.uint8), labels


def main(out_path):
    import keras

    import keras_s11
    from keras_s11.backends import BackendError
    from keras_s11.batchnorm import recalibrate_batchnorm
    from keras_s11.callbacks import OneCycle, StepHistory
    from keras_s11.data import make_inputs
    from keras_s11.distribute import StrategyError, describe_strategy, make_strategy
    from keras_s11.ema_fix import untie_optimizer_arrays
    from keras_s11.evaluation import accuracy, flip_averaged, predict_probabilities
    from keras_s11.export import save_state_dict, torch_state_dict
    from keras_s11.figures import plot_lr_range_test, plot_training_curves, save_figure
    from keras_s11.gradcam import gradcam_heatmaps
    from keras_s11.losses import SparseCategoricalCrossentropy
    from keras_s11.lr_finder import find_lr_range
    from keras_s11.precision import resolve_jit_compile, set_precision_policy
    from keras_s11.saving import load_model
    from keras_s11.schedules import OneCycleSchedule

    result = {"backend": keras.backend.backend()}
    result["policy"] = set_precision_policy("auto")
    jit = resolve_jit_compile("auto")
    keras.mixed_precision.set_global_policy("float32")  # the test compares float32 numbers
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = synthetic_data(64, 0), synthetic_data(40, 1)
    train, test = make_inputs((x_train, y_train), (x_test, y_test), batch_size=16, seed=0)
    result["inputs"] = [type(train).__name__, type(test).__name__]
    strategy = make_strategy("auto")
    result["strategy"] = describe_strategy(strategy)
    try:
        make_strategy("mirrored")
    except StrategyError as error:
        result["mirrored_error"] = str(error)
    with strategy.scope():
        model = keras_s11.build_model(width=4)
        model.compile(
            keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True, use_ema=True, ema_momentum=0.9),
            SparseCategoricalCrossentropy(label_smoothing=0.2),
            metrics=["accuracy"],
            jit_compile=jit,
        )
    found = find_lr_range(model, train, start_lr=1e-3, end_lr=1.0, num_steps=6, verbose=0)
    one_cycle, steps = OneCycle(0.01, 0.1, epochs=2, peak_epoch=1), StepHistory()

    class LastStepWeights(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.weights = self.model.get_weights()

    last_step = LastStepWeights()
    model.fit(
        train,
        epochs=2,
        validation_data=test,
        callbacks=[one_cycle, steps, last_step],
        shuffle=False,
        verbose=0,
    )
    # `fit` put the weight average in the model; the BatchNorm statistics then follow it.
    trainable = [any(v is w for w in model.trainable_weights) for v in model.weights]
    final = model.get_weights()
    result["average_differs_from_last_step"] = [
        bool(np.any(a != b)) for a, b, t in zip(final, last_step.weights, trainable) if t
    ]
    result["untied"] = untie_optimizer_arrays(model)  # Keras's JAX use_ema bug (keras_s11/ema_fix.py)
    result["recalibrated_batches"] = recalibrate_batchnorm(model, train, steps=3)
    result["recalibration_changed"] = [
        bool(np.any(a != b)) for a, b, t in zip(model.get_weights(), final, trainable) if not t
    ]
    probabilities = predict_probabilities(model, x_test)
    result["accuracy"] = accuracy(probabilities, y_test)
    result["tta_accuracy"] = accuracy(flip_averaged(model, x_test, probabilities), y_test)
    result["lrs"] = one_cycle.lrs
    schedule = OneCycleSchedule(0.01, 0.1, steps_per_epoch=4, epochs=2, peak_epoch=1)
    result["schedule"] = [float(schedule(step)) for step in range(9)]
    result["range_test_losses"] = found.losses
    with tempfile.TemporaryDirectory() as tmp:
        save_figure(plot_lr_range_test(found.lrs, found.losses, found.smoothed_losses), os.path.join(tmp, "a.png"))
        curves = plot_training_curves(model.history.history, steps.history, train.steps_per_epoch)
        save_figure(curves, os.path.join(tmp, "b.png"))
        save_state_dict(torch_state_dict(model), os.path.join(tmp, "model.safetensors"))
        model.save(os.path.join(tmp, "model.keras"))
        reloaded = load_model(os.path.join(tmp, "model.keras"))
        result["reload_max_difference"] = float(np.max(np.abs(predict_probabilities(reloaded, x_test) - probabilities)))
    try:
        gradcam_heatmaps(model, x_test[:2], y_test[:2], ["layer1"])
    except BackendError as error:
        result["gradcam_error"] = str(error)
    result["tensorflow_imported"] = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    result["blocked_attempts"] = sorted(set(attempts))
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
