"""hubfn: publish, fetch, cache, apply and fine-tune TensorFlow Hub modules.

The public names are imported lazily, so `import hubfn` is cheap and tools that only fetch or
serve archives need not start TensorFlow.
"""

__version__ = "0.1.0"

_PUBLIC = {
    "hub_load": "api", "hub_module": "api", "module_apply": "api", "module_signatures": "api",
    "call_plan": "callplan", "CallPlan": "callplan",
    "export_savedmodel": "api", "hub_resolve": "resolve", "Module": "module", "Settings": "settings", "Hub": "resolve",
    "Signature": "savedmodel.signatures", "TensorInfo": "savedmodel.signatures", "errors": None,
    "pack_module": "publish.pack", "serve_modules": "publish.serve", "make_app": "publish.serve",
    "hub_layer": "tune.keras_layer", "HubLayer": "tune.keras_layer",
    "cache_dir": "fetch.manage", "cache_list": "fetch.manage", "cache_verify": "fetch.manage",
    "cache_remove": "fetch.manage",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    import importlib

    if name not in _PUBLIC:
        raise AttributeError(f"module 'hubfn' has no attribute {name!r}")
    where = _PUBLIC[name]
    if where is None:
        return importlib.import_module(f"hubfn.{name}")
    value = getattr(importlib.import_module(f"hubfn.{where}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


# `.keras` files holding a hub_layer load after `import hubfn`: the layer is registered with Keras
# when Keras is (or already was) imported, without importing TensorFlow here (see the module).
from .tune.keras_registration import register_when_keras_loads as _register_keras  # noqa: E402

_register_keras()
