"""The public functions of hubfn: thin calls into the layers below.

handle -> resolve (hubfn.resolve; URLs through hubfn.fetch) -> read signatures (hubfn.savedmodel.signatures)
-> load (hubfn.loading.load) -> Module (hubfn.module) -> apply (hubfn.apply).
"""


from . import handles
from .loading import tf1graph
from .safety import guard as safety
from .apply import module_apply
from .callplan import call_plan
from .export import export_savedmodel
from .loading.load import load_object
from .module import Module, new_load_id
from .resolve import Hub, hub_resolve
from .settings import Settings
from .savedmodel.signatures import TF1_HUB, as_tags, choose_tags, read_saved_model


def hub_load(handle, tags=None, resolvers=None, *, hub=None, settings=None, cache_dir=None, offline=None,
             timeout=None, token=None, safe_mode=None, allow_ops=None, load_options=None) -> Module:
    """Load the module named by `handle` (a directory, file://, http(s):// URL or kaggle: handle) for inference.

    hub: a hubfn.Hub (settings and resolvers) for the call; the arguments below replace what it holds.
    resolvers: the resolvers to try in order (default: hubfn.resolve.DEFAULT_RESOLVERS).
    settings, cache_dir, offline, timeout, token: this call's fetch settings (see hubfn.settings);
    the environment gives the rest, and nothing global changes.
    safe_mode, allow_ops: a module is untrusted code. Before anything of it is loaded, its ops are scanned
    (hubfn.safety) and a module holding ops that reach outside it (files, the network, other processes) is an
    UnsafeModuleError. safe_mode=False loads it anyway; allow_ops=["WriteFile"] allows named op types.
    Defaults: HUBFN_SAFE_MODE (on) and HUBFN_ALLOW_OPS.
    load_options: a tf.saved_model.LoadOptions for TensorFlow's loader (e.g. experimental_io_device); a
    load with options is a load of its own, not shared with other users of the module.
    """
    hub = Hub.make(hub, resolvers=resolvers, settings=settings, cache_dir=cache_dir, offline=offline,
                   timeout=timeout, token=token, safe_mode=safe_mode, allow_ops=allow_ops)
    return _make_module(handle, tags=tags, trainable=False, hub=hub, load_options=load_options)


def hub_module(handle_or_module, trainable=False, tags=None, resolvers=None, *, hub=None, settings=None,
               cache_dir=None, offline=None, timeout=None, token=None, safe_mode=None, allow_ops=None,
               load_options=None) -> Module:
    """A Module for `handle_or_module`, trainable or not.

    With trainable=True, a TF1 hub module with a {"train"} graph variant gets that variant unless
    `tags` names another; its TRAINABLE_VARIABLES and REGULARIZATION_LOSSES collections are exposed.
    A Module passed in keeps its graph variant otherwise (it was checked when it was made). hub, the fetch
    settings, safe_mode, allow_ops and load_options are hub_load's.
    """
    if isinstance(handle_or_module, Module):
        m = handle_or_module
        return _make_module(m.handle, tags=tags, trainable=trainable, path=m.path, keep_tags=m.tags,
                            load_options=load_options)
    hub = Hub.make(hub, resolvers=resolvers, settings=settings, cache_dir=cache_dir, offline=offline,
                   timeout=timeout, token=token, safe_mode=safe_mode, allow_ops=allow_ops)
    return _make_module(handle_or_module, tags=tags, trainable=trainable, hub=hub, load_options=load_options)


def module_signatures(module_or_handle, resolvers=None, *, hub=None, settings=None, cache_dir=None, offline=None,
                      timeout=None, token=None) -> list:
    """The module's signatures and functions as plain data: [{"name", "inputs": [{name, dtype, shape}], "outputs"}].

    SignatureDefs come first; then `__call__` and callable sub-objects (TF2), which carry "kind": "function",
    "structure" (how inputs are passed: "tensor", "dict", "list", "args"), "options" and "returns".
    Non-dense tensors add "kind" ("ragged", "sparse", "list" with "length").
    """
    if isinstance(module_or_handle, Module):
        return [s.as_dict() for s in module_or_handle.listing]
    info = read_saved_model(hub_resolve(module_or_handle, resolvers=resolvers, hub=hub, settings=settings,
                                        cache_dir=cache_dir, offline=offline, timeout=timeout, token=token))
    return [s.as_dict() for s in info.variant(None).listing]


def _make_module(handle, tags, trainable, path=None, keep_tags=None, hub=None, load_options=None) -> Module:
    """A new module (`hub` given): resolved, then checked before anything of it is loaded; or, with `path`,
    a Module made anew for a module already resolved and checked."""
    handle = handles.as_handle(handle)
    proto = None
    if path is None:
        path = hub.resolve(handle)
        proto = safety.check(path, handle, hub.settings)
    info = read_saved_model(path, proto=proto)
    tags = choose_tags(info, as_tags(tags), trainable, keep=keep_tags)
    variant = info.variant(tags)
    if info.format == TF1_HUB:
        load_tags = variant.tags
    else:  # TF2: naming the default variant's tags is the same module as naming none (one load)
        # info.variant returns one of its stored Variants, so identity says whether it is the default one.
        load_tags = None if variant is info.variant(None) else variant.tags
    obj = load_object(path, load_tags, info.format, trainable=trainable, ops=info.ops, options=load_options)
    own = trainable or load_options is not None  # an object of its own: a value of its own
    # A trainable TF1 module predicts through its {} graph on the {"train"} graph's weights: made now.
    inference = tf1graph.inference_graph(path, load_tags, info.tag_sets, obj) if trainable and \
        info.format == TF1_HUB else None
    return Module(handle=handle, path=path, format=info.format, tags=load_tags, trainable=bool(trainable),
                  signatures=variant.signatures, tag_sets=info.tag_sets, obj=obj, functions=variant.functions,
                  call_without_specs=variant.call_without_specs, load_id=new_load_id() if own else 0,
                  inference=inference)


__all__ = ["hub_load", "hub_module", "hub_resolve", "module_apply", "module_signatures",
           "export_savedmodel", "call_plan", "Hub", "Module", "Settings"]
