"""keras_s11: super-convergence training of a ResNet-9 on CIFAR-10 in Keras 3.

`import keras_s11` registers the project's Keras classes (the
`FusedBatchNormalization` layer, the label-smoothed
`SparseCategoricalCrossentropy` loss, the `VariableMomentumSGD` optimizer and
the `OneCycleSchedule`), so that plain `keras.saving.load_model(path)`
reloads a saved run compiled. It does so without importing Keras itself:
when Keras is imported already, at once; otherwise right after Keras's own
first import. The registering modules use `keras` only, so another Keras
backend never imports TensorFlow for them.

`build_model` is imported on first use, so that the data loaders (and tools
that only need them) start without loading Keras and TensorFlow.

The custom callbacks are `keras_s11.callbacks`. In the repository they live
in the top-level `callbacks/` folder, which `pip install` installs as
`keras_s11/callbacks` (pyproject.toml's `package-dir`); in a checkout used
without installing, the package's search path reaches that folder too.
"""

import os

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.import_hooks import wrap_first_import

__all__ = ["CIFAR10_CLASSES", "build_model"]

# In a source checkout used without installing, `keras_s11.callbacks` is the
# `callbacks/` folder beside this package: the checkout's root joins the
# package's search path, after the package's own folder (Python's
# `__path__`, which an installed copy, with keras_s11/callbacks/ inside,
# does not need).
_HERE = os.path.dirname(os.path.abspath(__file__))
if not os.path.isdir(os.path.join(_HERE, "callbacks")) and os.path.isfile(
    os.path.join(os.path.dirname(_HERE), "callbacks", "__init__.py")
):
    __path__.append(os.path.dirname(_HERE))

# The modules whose import registers a Keras class (`register_keras_serializable`).
REGISTERING_MODULES = (
    "keras_s11.initializers",
    "keras_s11.layers",
    "keras_s11.losses",
    "keras_s11.optimizers",
    "keras_s11.schedules",
)


def _import_then_register(execute):
    import importlib
    import warnings

    execute()
    try:
        for module in REGISTERING_MODULES:
            importlib.import_module(module)
    except Exception as error:  # never break `import keras` for the user
        warnings.warn(f"keras_s11 could not register its Keras classes: {error!r}", stacklevel=2)


wrap_first_import("keras", _import_then_register)


def __getattr__(name):
    if name == "build_model":
        from keras_s11.model import build_model

        return build_model
    raise AttributeError(f"module 'keras_s11' has no attribute {name!r}")
