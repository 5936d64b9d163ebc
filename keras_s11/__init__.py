"""keras_s11: super-convergence training of a ResNet-9 on CIFAR-10 in Keras 3.

`import keras_s11` registers the project's Keras classes (the
`FusedBatchNormalization` layer, the label-smoothed
`SparseCategoricalCrossentropy` loss, the `VariableMomentumSGD` optimizer and
the `OneCycleSchedule`), so that plain `keras.saving.load_model(path)`
reloads a saved run compiled. It does so without importing Keras itself:
when Keras is imported already, at once; otherwise right after Keras's own
first import. The registering modules use `keras` only, so another Keras
backend never imports TensorFlow for them. `build_model` is imported on
first use, so that the data loaders (and tools that only need them) start
without loading Keras and TensorFlow.
"""

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.import_hooks import wrap_first_import

__all__ = ["CIFAR10_CLASSES", "build_model"]

# The modules whose import registers a Keras class (`register_keras_serializable`).
REGISTERING_MODULES = ("keras_s11.layers", "keras_s11.losses", "keras_s11.optimizers", "keras_s11.schedules")


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
