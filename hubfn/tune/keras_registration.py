"""Make `keras.models.load_model` find hub_layer after a plain `import hubfn`.

Keras finds custom layers in `.keras` files only once their class is registered, which happens when
`hubfn.tune.keras_layer` is imported. That module needs Keras (and so TensorFlow), and `import hubfn`
must stay cheap and free of TensorFlow (tools that only fetch or serve never start it). Keras itself
will not import a non-Keras module named in a file (a safety rule), so hubfn registers the layer at the
moment Keras is imported:

- if Keras is already imported when hubfn is, the layer module is imported right away (TensorFlow is
  loaded already, Keras's backend brought it);
- otherwise a one-shot import hook waits for the top-level `keras` module to finish importing, then
  imports the layer module. The hook removes itself and hands Keras its own loader back, so nothing of
  it stays in the import system.

This module itself imports only the standard library.
"""

import importlib.abc
import importlib.util
import sys
import warnings


def register_when_keras_loads():
    """Register hub_layer with Keras now (Keras imported) or as soon as Keras is imported."""
    if "keras" in sys.modules:
        _register()
    elif not any(isinstance(finder, _KerasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())


def _register():
    try:
        import hubfn.tune.keras_layer  # noqa: F401  (the import registers the class)
    except Exception as e:  # never break the user's `import keras`; loading a .keras file will say more
        warnings.warn(f"hubfn could not register hub_layer with Keras: {e}", ImportWarning, stacklevel=2)


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of the real `keras` so registration follows its import."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot (and find_spec below must not come back here)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # anything else a loader offers (get_data, is_package, ...)
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self._loader  # Keras keeps its own loader
        self._loader.exec_module(module)
        _register()
