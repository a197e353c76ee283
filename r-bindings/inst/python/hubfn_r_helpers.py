"""The Python side of hubfn's R bindings: what R cannot do cheaply or at all through reticulate alone.

R calls hubfn's own functions for everything else. The hot path is `runner`: R asks it once per
(module, signature, training) for a function that runs hubfn's public call plan (hubfn.call_plan, with
the "r" input policy) on R's values, so an R call costs one reticulate call each way.
"""

import sys

import numpy as np


def runner(module, signature=None, training=False):
    """(the Way's data, run) for R, made once per (module, signature, training): R's plan for a function.

    The plan is hubfn's call plan for R's values, hubfn.call_plan(..., policy="r"): hubfn.input_policies' "r"
    policy converts them (R vectors, whole doubles, integer NA, unnamed lists, errors in R's words).
    run(values, r_list, as_dict, convert) applies it: values one value, or with r_list an R list (reticulate
    passes a named one as a dict, another as a list). With convert, the outputs come back as NumPy (see
    `_out`) in a one-element list, which reticulate's C code converts whole (a dict of them, with as_dict,
    to a named list); a bare array would go through R code. An error comes back as the exception itself,
    so R needs no error handler around the call.
    """
    from hubfn import call_plan

    plan = call_plan(module, signature, bool(training), policy="r")

    def run(values, r_list, as_dict, convert):
        try:
            out = plan(_pack(values, r_list, lambda: plan.way.input_names), as_dict)
            return [_out(out)] if convert else out
        except Exception as e:  # noqa: BLE001 (R makes its condition from it)
            return e

    return plan.way.as_data(), run


def _pack(values, r_list, input_names=tuple):
    """R's values as hubfn takes them (as runner's run takes them); an R list with some elements named and
    others not (a dict with the key "") is an InputError naming the inputs (`input_names()`)."""
    if not r_list:
        return values
    if type(values) is not dict:
        return list(values) if isinstance(values, (list, tuple)) else [values]
    if "" in values:
        from hubfn import errors

        names = ", ".join(input_names() or ())
        raise errors.InputError("Inputs given as a list must all be named, or none"
                                + (f" (inputs: {names})." if names else "."))
    return values


def apply(module, values, r_list, convert=True, **kw):
    """hubfn.module_apply for R's values (as runner's run takes them, with the "r" policy), with R's output
    conversion, an error returned as the exception: the path for batch_size= and arguments= (a whole R
    double is a batch size there; a bad one is its InputError)."""
    from hubfn import call_plan, module_apply

    try:
        def names():
            return call_plan(module, kw.get("signature"), bool(kw.get("training")), policy="r").way.input_names

        out = module_apply(module, _pack(values, r_list, names), policy="r", **kw)
        return [_out(out)] if convert else out
    except Exception as e:  # noqa: BLE001 (as runner's run)
        return e


def take_input_dtype(layer):
    """Give a hub_layer the dtype of its function's one dense input when that is not a float (a text
    embedding's strings), so a Keras Sequential model built on its first batch makes its input of that dtype."""
    inputs = layer.way.inputs or ()
    dtype = inputs[0].dtype if len(inputs) == 1 and inputs[0].kind == "dense" else "float32"
    if not dtype.startswith(("float", "bfloat", "half")):
        layer.dtype_policy = dtype


def to_numpy(t):
    """A tensor (or array-like) as a NumPy array; byte strings decoded to str."""
    a = np.asarray(t.numpy() if hasattr(t, "numpy") else t)
    if a.dtype.kind in "OS":
        if a.size:
            a = np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b),
                             otypes=[str])(a)
        else:
            a = a.astype(str)
    return a


def _out(value):
    """Outputs for R: tensors and arrays as NumPy (strings decoded), lists and dicts of them too (a BERT
    encoder's `encoder_outputs` is a list of tensors: R gets a list of R arrays); a ragged tensor as a
    list of its rows, a sparse one dense."""
    if type(value) is dict:  # as_dict's outputs
        return {k: _out(value[k]) for k in sorted(value)}
    tf = sys.modules.get("tensorflow")
    if isinstance(value, np.ndarray) or tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
        return to_numpy(value)
    if isinstance(value, dict):
        return {k: _out(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_out(v) for v in value]
    if tf is not None and isinstance(value, tf.RaggedTensor):
        return [_out(row) for row in value]
    if tf is not None and isinstance(value, tf.SparseTensor):
        return to_numpy(tf.sparse.to_dense(value))
    return value


def error_data(e):
    """What R makes its condition of: {type, message: in R's words, classes: R's condition classes, fields}.

    A hubfn error (hubfn.errors) gets one class per class of its chain, RemoteNotFoundError ->
    ["hubfn_remote_not_found_error", "hubfn_fetch_error", "hubfn_module_not_found", "hubfn_error"], its
    message with the keyword arguments it spells (its `keywords` field) spelled the R way (`as_dict = TRUE`),
    and hubfn's structured fields (HubError.fields), integers beyond R's 32 bits as floats (which R holds
    exactly to 2**53). Any other exception is "hubfn_python_error", "<Type>: <message>", at most 8 lines
    (the whole text stays in the condition's python_exception)."""
    import re

    def r(v):
        if isinstance(v, int) and not isinstance(v, bool) and not -2**31 < v < 2**31:
            return float(v)
        return [r(x) for x in v] if isinstance(v, (list, tuple)) else v

    def spelled(v, r_way):
        if v is None or isinstance(v, bool):
            return {None: "NULL" if r_way else "None", True: "TRUE" if r_way else "True",
                    False: "FALSE" if r_way else "False"}[v]
        return f'"{v}"' if r_way and isinstance(v, str) else str(v)

    names = [c.__name__ for c in type(e).__mro__ if c.__module__ == "hubfn.errors"]
    fields = getattr(e, "fields", {}) if names else {}
    message = str(e)
    if not names:
        lines = message.rstrip("\n").split("\n")
        if len(lines) > 8:  # e.g. TensorFlow's op tracebacks
            lines = lines[:8] + [f"[... {len(lines) - 8} more lines in the condition's python_exception]"]
        return {"type": type(e).__name__, "message": f"{type(e).__name__}: " + "\n".join(lines),
                "classes": ["hubfn_python_error"], "fields": {}}
    for k, v in fields.get("keywords") or ():
        message = message.replace(f"{k}={spelled(v, False)}", f"{k} = {spelled(v, True)}")
    snake = [re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", n)).lower()
             for n in names if n != "HubError"]
    return {"type": type(e).__name__, "message": message, "fields": {k: r(v) for k, v in fields.items()},
            "classes": list(dict.fromkeys(f"hubfn_{n}" for n in snake)) + ["hubfn_error"]}


def records(x):
    """`plain(x)`, with a list of records having the same scalar fields as {"columns": {field: values}}
    (R makes a data frame of it; a missing value is None, R's NA)."""
    x = plain(x)
    if not isinstance(x, list) or not x or not all(isinstance(r, dict) for r in x):
        return x
    fields = list(x[0])
    scalar = all(list(r) == fields and all(v is None or isinstance(v, (bool, int, float, str)) for v in r.values())
                 for r in x)
    return {"columns": {f: [r[f] for r in x] for f in fields}} if fields and scalar else x


def settings_text(s):
    """What R prints for a hubfn.Settings, R's way (TRUE/FALSE); tokens never shown, only whether set."""
    r = {True: "TRUE", False: "FALSE"}.get
    hosts = [host for host, _ in s.tokens]
    ops = sorted(s.allow_ops)
    return "".join([
        "<hubfn settings>\n", f"  cache_dir:       {s.cache_dir}\n", f"  offline:         {r(s.offline)}\n",
        f"  timeout:         connect {s.connect_timeout:g} s, read {s.read_timeout:g} s\n",
        f"  retries:         {s.retry.retries}\n",
        f"  token:           {'none' if s.handle_token is None else 'set, for the handle' + chr(39) + 's host (not shown)'}\n",
        f"  tokens by host:  {', '.join(hosts) + ' (not shown)' if hosts else 'none'}\n",
        f"  token_over_http: {r(s.token_over_http)}\n",
        f"  safe_mode:       {r(s.safe_mode)}{' (allowing ' + ', '.join(ops) + ')' if ops else ''}\n"])


def module_text(module, what):
    """What R shows for a hubfn.Module: print() ("print"), summary()'s print ("summary") or str() ("str"),
    from hubfn.module_signatures, R's way (TRUE/FALSE, "?" for unknown dimensions)."""
    from hubfn import module_signatures

    sigs = module_signatures(module)
    r = {True: "TRUE", False: "FALSE"}
    tags = "default" if module.tags is None else "{" + ", ".join(f'"{t}"' for t in sorted(module.tags)) + "}"

    def shape(s):
        return "[<unknown rank>]" if s is None else "[" + ", ".join("?" if d is None else str(d) for d in s) + "]"

    def tensors(ts):
        return ", ".join(f"{t['name']}: {'' if t.get('kind', 'dense') == 'dense' else t['kind'] + ' '}{t['dtype']}"
                         f"{shape(t['shape'])}" for t in ts)

    fns = function_names(module, sigs)
    call_unseen = len(fns) > len(sigs)  # a __call__ whose specs were not saved
    if what == "str":
        return ("hubfn_module function(inputs, signature = NULL, as_dict = FALSE, training = FALSE, convert = TRUE, ...)\n"
                + "".join(f' $ {k:<10}: chr "{getattr(module, k)}"\n' for k in ("handle", "path", "format"))
                + f" $ tags      : {tags}\n $ trainable : logi {r[module.trainable]}\n"
                + f" $ signatures: List of {len(fns)} functions: {', '.join(fns)}\n")
    if what == "summary":
        out = [f"hubfn module {module.handle}\n  path:      {module.path}\n  format:    {module.format}, tags: {tags}, "
               f"trainable: {r[module.trainable]}, variables: {len(module.variables)}\n"]
        for s in sigs:
            out.append(f"  signature {s['name']}\n    inputs:  {tensors(s['inputs'])}\n")
            out += [f"     or:     {tensors(a['inputs'])}\n" for a in s.get("alternatives", ())]
            out.append(f"    outputs: {tensors(s['outputs'])}\n")
        return "".join(out)
    fields = {"handle": module.handle, "path": module.path, "format": module.format, "tags": tags,
              "trainable": r[module.trainable]}
    out = ["<hubfn module>\n"] + [f"  {k + ':':<11} {v}\n" for k, v in fields.items()] + ["  signatures:\n"]
    for s in sigs:
        out.append(f"    {s['name']}({tensors(s['inputs'])}) -> {{{tensors(s['outputs'])}}}\n")
        # a function saved for other forms of inputs too (hubfn takes any of them, as TensorFlow does)
        out += [f"      or {s['name']}({tensors(a['inputs'])})\n" for a in s.get("alternatives", ())]
    if call_unseen:
        out.append("    __call__ (input specs not saved)\n")
    return "".join(out)


def signatures_for_r(sigs):
    """hubfn.module_signatures' list as R's module_signatures() gives it: a dict by function name of {name,
    inputs, outputs} and, for a function saved for other forms of inputs too, alternatives (a list of
    {inputs}). A known shape is an int32 array with -2**31 (R's integer NA, as reticulate passes it) for an
    unknown dimension; a tensor of unknown rank has no shape."""
    def tensors(ts):
        return [{k: np.array([-2 ** 31 if d is None else d for d in v], dtype=np.int32) if k == "shape" else v
                 for k, v in t.items() if k != "shape" or v is not None} for t in ts]

    out = {}
    for s in sigs:
        out[s["name"]] = {"name": s["name"], "inputs": tensors(s["inputs"]), "outputs": tensors(s["outputs"])}
        if s.get("alternatives"):
            out[s["name"]]["alternatives"] = [{"inputs": tensors(a["inputs"])} for a in s["alternatives"]]
    return out


def function_names(module, sigs=None):
    """The module's functions by name (R's m$signatures): module_signatures' list, then a __call__ whose
    specs were not saved."""
    from hubfn import module_signatures

    names = [s["name"] for s in (module_signatures(module) if sigs is None else sigs)]
    return names + ["__call__"] * (module.has_call and "__call__" not in names)


def sorted_keys(d):
    return sorted(d)


def plain(x):
    """Python values as plain data: attrs/dataclass records -> dicts, paths -> str, sets -> sorted lists."""
    import dataclasses
    import datetime
    import os

    import attrs

    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if isinstance(x, (datetime.datetime, datetime.date)):
        return x.isoformat()
    if attrs.has(type(x)):
        return {k: plain(v) for k, v in attrs.asdict(x, recurse=False).items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if hasattr(x, "_asdict"):
        return {k: plain(v) for k, v in x._asdict().items()}
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (set, frozenset)):
        return sorted(plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return str(x)


def sync_environ(env, prefixes=("HUBFN_",)):
    """Make os.environ agree with R's environment (`env`, {name: value}: R's whole Sys.getenv()) for the
    variables hubfn reads: hubfn.settings' table of them and every one starting with one of `prefixes`.

    Python copies the process environment into os.environ once, when it starts; R's Sys.setenv() and
    Sys.unsetenv() after that are not seen. Those of R's values are set; those R lacks are deleted.
    """
    import os

    from hubfn.settings import environment_names

    names = set(environment_names())
    values = {k: v for k, v in dict(env or {}).items() if k in names or k.startswith(tuple(prefixes))}
    for name, value in values.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    gone = names - set(values)
    gone.update(k for k in os.environ if k.startswith(tuple(prefixes)) and k not in values)
    for name in gone:
        if name in os.environ:
            del os.environ[name]


def time_calls(fn, n):
    """Seconds per call of fn() over n calls (for the benchmark)."""
    import time

    fn()
    t0 = time.perf_counter()
    for _ in range(int(n)):
        fn()
    return (time.perf_counter() - t0) / int(n)
