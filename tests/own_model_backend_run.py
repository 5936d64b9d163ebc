"""`find_lr_range` on NumPy arrays and a one-cycle fit of a small regression model, on JAX or PyTorch.

Run by tests/test_backends.py as `KERAS_BACKEND=jax python tests/own_model_backend_run.py OUT.json`,
with TensorFlow made unimportable as in tests/backend_run.py (imported first for that); writes what
the test checks to OUT.json.
"""

import backend_run  # noqa: F401, I001  (first: hides TensorFlow and the packages built on it)

import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def state(model):
    import keras

    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights + model.optimizer.variables]


def main(out_path):
    import keras

    from keras_s11.callbacks import OneCycle
    from keras_s11.lr_finder import find_lr_range

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse", metrics=["mae"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # Adam's moments and its step count to restore
    before, lr = state(model), float(model.optimizer.learning_rate)
    runs, caught = [], []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            runs.append(find_lr_range(model, x, y, start_lr=1e-4, end_lr=10.0, num_steps=60, verbose=0))
        caught += [str(w.message) for w in seen if w.category.__name__ == "LRRangeWarning"]
    found = runs[0]
    result = {
        "backend": keras.backend.backend(),
        "lrs": found.lrs,
        "losses": found.losses,
        "same_losses_with_the_same_seed": runs[0].losses == runs[1].losses,
        "restored": all(np.array_equal(a, b) for a, b in zip(before, state(model), strict=True)),
        "lr_restored": float(model.optimizer.learning_rate) == lr,
        "picks": [found.lr_min, found.lr_max],
        "bands": [list(found.lr_min_band), list(found.lr_max_band)],
        "warnings": caught,
    }
    one_cycle = OneCycle.from_range_test(found, epochs=2, peak_epoch=1)
    history = model.fit(x, y, batch_size=32, epochs=2, callbacks=[one_cycle], verbose=0)
    result["one_cycle_lrs"] = one_cycle.lrs
    result["one_cycle_losses"] = history.history["loss"]
    result["variants"] = variants(x, y)
    result["tensorflow_imported"] = sorted(name for name in sys.modules if name.split(".")[0] in backend_run.BLOCKED)
    with open(out_path, "w") as f:
        json.dump(result, f)


def variants(x, y):
    """Each input kind (with Adam) and each optimizer kind (with arrays): does the range test run and restore?"""
    import keras

    from keras_s11.lr_finder import find_lr_range

    def two_inputs(names):
        a, b = keras.Input((2,), name=names[0]), keras.Input((2,), name=names[1])
        hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
        return keras.Model([a, b], keras.layers.Dense(1)(hidden))

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return x[32 * index : 32 * index + 32], y[32 * index : 32 * index + 32]

    def dense():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])

    inputs = {
        "arrays": (dense, lambda: (x, y)),
        "list of arrays": (lambda: two_inputs(("a", "b")), lambda: ([x[:, :2], x[:, 2:]], y)),
        "dict of arrays": (lambda: two_inputs(("a", "b")), lambda: ({"a": x[:, :2], "b": x[:, 2:]}, y)),
        "PyDataset": (dense, lambda: (Batches(), None)),
    }
    optimizers = {
        "SGD": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
        "Adam": lambda: keras.optimizers.Adam(1e-3),
        "AdamW": lambda: keras.optimizers.AdamW(1e-3),
        "LossScaleOptimizer": lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01, momentum=0.9)),
    }
    cases = [(name, build, data, optimizers["Adam"]) for name, (build, data) in inputs.items()]
    cases += [(name, dense, lambda: (x, y), make) for name, make in optimizers.items() if name != "Adam"]
    outcome = {}
    for name, build, data, make_optimizer in cases:
        keras.utils.set_random_seed(0)
        model = build()
        model.compile(make_optimizer(), "mse")
        model.fit(*data(), epochs=1, verbose=0)  # optimizer state to restore
        before = state(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = find_lr_range(model, *data(), start_lr=1e-4, end_lr=10.0, num_steps=40, verbose=0)
        restored = all(np.array_equal(a, b) for a, b in zip(before, state(model), strict=True))
        outcome[name] = {"steps": len(found.lrs), "restored": restored, "picks": [found.lr_min, found.lr_max]}
    return outcome


if __name__ == "__main__":
    main(sys.argv[1])
