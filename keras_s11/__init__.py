"""keras_s11: super-convergence training of a ResNet-9 on CIFAR-10 in Keras 3.

`build_model` is imported on first use, so that the data loaders (and tools
that only need them) start without loading Keras and TensorFlow.
"""

from keras_s11.classes import CIFAR10_CLASSES

__all__ = ["CIFAR10_CLASSES", "build_model"]


def __getattr__(name):
    if name == "build_model":
        from keras_s11.model import build_model

        return build_model
    raise AttributeError(f"module 'keras_s11' has no attribute {name!r}")
