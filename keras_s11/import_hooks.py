"""Running code around the first import of another package (no imports of it here).

`import keras_s11` must stay light (the ONNX client and the data loaders do
not need Keras or TensorFlow), yet register the project's Keras classes as
soon as Keras is there, and the scripts want TensorFlow's start-up lines
kept down without importing TensorFlow themselves. Both are done by
`wrap_first_import`, which wraps the execution of a top-level package's
`__init__` the first time it is imported, or runs at once if it already is.
"""

import importlib.abc
import importlib.util
import sys


def wrap_first_import(name, around):
    """Runs `around(execute)` in place of the first import of package `name`.

    `execute` is a function of no arguments that runs the package's
    `__init__`; `around` must call it once, and may run code before (for
    example redirect output) or after (for example register classes). If
    `name` is imported already, `around` is called now with an `execute`
    that does nothing; if `name` is blocked (`sys.modules[name] is None`),
    nothing happens.

    Args:
        name: A top-level package name, e.g. `"keras"`.
        around: A function taking `execute`.

    Raises:
        ValueError: If `name` is not a top-level name.
    """
    if "." in name:
        raise ValueError(f"Argument `name` must be a top-level package name. Received: name={name!r}")
    if name in sys.modules:
        if sys.modules[name] is not None:
            around(lambda: None)
        return
    sys.meta_path.insert(0, _WrapFirstImport(name, around))


class _WrapFirstImport(importlib.abc.MetaPathFinder):
    """A one-shot finder: finds `name` through the others and wraps its loader."""

    def __init__(self, name, around):
        self.name = name
        self.around = around

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _WrappedLoader(spec.loader, self.around)
        return spec


class _WrappedLoader(importlib.abc.Loader):
    """Delegates to `loader`; runs its `exec_module` inside `around`, then steps aside."""

    def __init__(self, loader, around):
        self._loader = loader
        self._around = around

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        executed = []

        def execute():
            self._loader.exec_module(module)
            executed.append(True)

        try:
            self._around(execute)
        finally:
            # The imported package keeps no trace of the wrapper.
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        if not executed:
            raise ImportError(f"the import hook for {module.__name__!r} did not run the package")

    def __getattr__(self, attribute):
        return getattr(self._loader, attribute)
