"""hubfn: publish, fetch, cache, apply and fine-tune TensorFlow Hub modules.

The public names are imported lazily, so `import hubfn` is cheap and tools that only fetch or
serve archives need not start TensorFlow.
"""

__version__ = "0.1.0"

_PUBLIC = {
    "hub_load": "api", "hub_module": "api", "module_apply": "api", "module_signatures": "api",
    "export_savedmodel": "api", "hub_resolve": "resolve", "Module": "module",
    "Signature": "signatures", "TensorInfo": "signatures", "errors": None,
    "pack_module": "pack", "serve_modules": "serve", "make_app": "serve",
    "hub_layer": "keras_layer", "HubLayer": "keras_layer",
    "cache_dir": "cache", "cache_list": "cache", "cache_verify": "cache", "cache_remove": "cache",
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
