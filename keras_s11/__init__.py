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
`keras_s11/callbacks`; in a checkout used without installing (the tests, the
scripts) the finder below gives that folder the same name.
"""

import importlib.abc
import importlib.util
import os
import sys

from keras_s11.classes import CIFAR10_CLASSES
from keras_s11.import_hooks import wrap_first_import

__all__ = ["CIFAR10_CLASSES", "build_model"]

_CALLBACKS = "keras_s11.callbacks"


class _CheckoutCallbacksFinder(importlib.abc.MetaPathFinder):
    """Finds `keras_s11.callbacks` in the `callbacks/` folder beside this package (a source checkout)."""

    def __init__(self, folder):
        self.folder = folder

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _CALLBACKS:
            return None
        init = os.path.join(self.folder, "__init__.py")
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=[self.folder])


def _install_checkout_finder():
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(os.path.join(here, "callbacks")):  # installed: keras_s11/callbacks is a plain subpackage
        return
    folder = os.path.join(os.path.dirname(here), "callbacks")
    if os.path.isfile(os.path.join(folder, "__init__.py")):
        # First in line: this package's own checkout wins over any other install of it.
        sys.meta_path.insert(0, _CheckoutCallbacksFinder(folder))


_install_checkout_finder()

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
