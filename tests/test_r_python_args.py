"""The R package's man pages stay in step with the Python functions they mirror (issue 27, item 5).

Each R function documented in r-bindings/man/*.Rd that stands for a Python public function (same name in
`hubfn.__all__`, or another name in R_NAMES) takes and documents the same arguments as that function's
signature, but for the few differences listed below, each with its reason. The lists are read from the
files and the code at test time: an argument added to one side (a `safe_mode=` in Python, say) fails this
test until the other side has it too, or until it is listed here as one-sided on purpose.

R CMD check (scripts/test.sh runs it) checks the other link: each Rd \\usage matches the R code.
"""

import inspect
import os
import re

import pytest

import hubfn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN = os.path.join(ROOT, "r-bindings", "man")

# R functions named otherwise than the Python function they call.
R_NAMES = {
    "hub_signatures": "module_signatures",
    "hub_pack": "pack_module",
    "layer_hub": "hub_layer",      # R tfhub's name; it builds the layer with hub_layer()
    "hub_settings": "Settings.make",
    "hub_hub": "Hub.make",
}
# R functions that mirror no Python function.
R_ONLY_FUNCTIONS = {
    "install_hubfn": "makes R's virtualenv",
    "hubfn_available": "whether R finds hubfn's Python",
    "hubfn_has": "whether hubfn's Python has a name",
    "hub_serve": "starts the `hubfn serve` command in a process of its own",
    "hub_serve_stop": "stops it",
    "step_pretrained_text_embedding": "a recipes step",
    "%>%": "magrittr's pipe, re-exported",
}
# Arguments one side has for every function: Python objects R cannot make, and R's own switches.
PYTHON_ONLY_ARGS = {"resolvers": "resolver objects", "load_options": "a tf.saved_model.LoadOptions"}
R_ONLY_ARGS = {"convert": "whether outputs become R values"}
# Per R function: (R-only arguments, Python-only arguments), beyond the ones above.
ONE_SIDED = {
    "layer_hub": ({"object"}, {"signature", "output_key", "tags", "as_dict", "output_shape"}),  # R tfhub's
    # arguments; the rest reach hub_layer() through `...`
    "hub_layer": (set(), {"as_dict", "output_shape"}),  # reach the Python hub_layer through `...`
    "hub_settings": (set(), {"settings"}),  # R starts from the environment, never from another Settings
    "pack_module": (set(), {"level"}),  # the gzip level: a Python tuning knob
    "hub_pack": (set(), {"level"}),
    "module_apply": (set(), {"policy"}),  # R's calls always use the "r" input policy (hubfn.input_policies)
    "hub_hub": (set(), {"hub"}),  # R starts from the environment (or a hub_settings()), not another Hub
}


def _split_top_level(text):
    """Split an R argument list at the commas outside parentheses and strings."""
    parts, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def _block(text, command):
    """The body of `\\command{...}` (braces balanced), or ''."""
    start = text.find("\\" + command + "{")
    if start < 0:
        return ""
    i, depth = start + len(command) + 2, 1
    for j in range(i, len(text)):
        if text[j] == "{" and text[j - 1] != "\\":
            depth += 1
        elif text[j] == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[i:j]
    raise ValueError(f"unbalanced \\{command}")


def _usages(usage):
    """{R function: [argument names]} from an Rd \\usage block; an S3 generic's default method stands for it."""
    found = {}
    pattern = re.compile(r"(?m)^\s*(?:\\method\{([^}]+)\}\{([^}]+)\}|([A-Za-z_.][A-Za-z0-9_.]*))\(")
    for m in pattern.finditer(usage):
        name = m.group(1) or m.group(3)
        if m.group(2) not in (None, "default"):
            continue  # a method for one class (print, summary, $): not a function of its own
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(usage[i], 0)
            i += 1
        args = [a.split("=", 1)[0].strip() for a in _split_top_level(usage[m.end():i - 1])]
        if m.group(2) == "default" or name not in found:
            found[name] = [a for a in args if a]
    return found


def r_functions():
    """{R function: (its arguments from \\usage, the arguments its Rd documents)} over r-bindings/man."""
    out = {}
    for fn in sorted(os.listdir(MAN)):
        if not fn.endswith(".Rd"):
            continue
        with open(os.path.join(MAN, fn), encoding="utf-8") as f:
            rd = f.read()
        documented = set()
        for item in re.findall(r"\\item\{([^}]*)\}\{", _block(rd, "arguments")):
            documented.update(n.strip().replace("\\dots", "...") for n in item.split(","))
        for name, args in _usages(_block(rd, "usage")).items():
            out[name] = (args, documented)
    return out


def python_function(name):
    obj = hubfn
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def python_args(name):
    params = inspect.signature(python_function(name)).parameters.values()
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in ("self", "cls")]


def _exported():
    with open(os.path.join(ROOT, "r-bindings", "NAMESPACE"), encoding="utf-8") as f:
        return set(re.findall(r'^export\("?([^")]+)"?\)', f.read(), re.M))


def _mirrors():
    """[(R function, Python function)] for every exported R function that stands for a Python one."""
    pairs = []
    for r_name in sorted(_exported()):
        if r_name in R_ONLY_FUNCTIONS:
            continue
        pairs.append((r_name, R_NAMES.get(r_name, r_name)))
    return pairs


def test_every_exported_r_function_is_documented_and_classified():
    documented = r_functions()
    exported = _exported()
    assert {"hub_load", "module_apply", "install_hubfn"} <= exported
    for name in exported - {"%>%"}:
        assert name in documented, f"{name} is exported but has no \\usage in r-bindings/man"
    for r_name, py_name in _mirrors():
        head = py_name.split(".")[0]
        assert head in hubfn.__all__, (
            f"R's {r_name}() has no Python public function of that name: add it to R_NAMES (the Python function "
            f"it calls) or R_ONLY_FUNCTIONS in {os.path.basename(__file__)}")
    for listed in (set(R_NAMES) | set(R_ONLY_FUNCTIONS)) - exported:
        pytest.fail(f"{listed} is listed here but R no longer exports it")


@pytest.mark.parametrize("r_name,py_name", _mirrors())
def test_r_function_takes_and_documents_the_python_arguments(r_name, py_name):
    r_args, documented = r_functions()[r_name]
    r_args = [a for a in r_args if a != "..."]
    undocumented = [a for a in r_args if a not in documented]
    assert not undocumented, f"{r_name}(): arguments without an \\item in its Rd: {undocumented}"

    r_only, py_only = ONE_SIDED.get(r_name, (set(), set()))
    # Arguments Python has for every function (PYTHON_ONLY_ARGS) count where R takes them too (hub_hub's resolvers).
    py = [a for a in python_args(py_name) if (a not in PYTHON_ONLY_ARGS or a in r_args) and a not in py_only]
    r = [a for a in r_args if a not in R_ONLY_ARGS and a not in r_only]
    assert sorted(r) == sorted(py), (
        f"R {r_name}() and Python {py_name}() differ: only in Python {sorted(set(py) - set(r))}, "
        f"only in R {sorted(set(r) - set(py))}. Add the argument to the other side (R: its roxygen @param, then "
        f"roxygen2::roxygenise('r-bindings')), or list it in ONE_SIDED with the reason.")
    # the exceptions stay true: each one-sided argument really is on one side only
    assert not (r_only & set(python_args(py_name))), f"{r_name}: {r_only} is in Python too now: drop it from ONE_SIDED"
    assert not (py_only & set(r_args)), f"{r_name}: {py_only & set(r_args)} is in R too now: drop it from ONE_SIDED"


def test_the_rd_parser_reads_what_the_files_say():
    """The parser itself, on the real files: multi-line usages, S3 default methods, several per file."""
    got = r_functions()
    assert got["hub_load"][0][:2] == ["handle", "tags"]
    assert got["export_savedmodel"][0][:3] == ["obj", "export_dir", "signatures"]  # the default method
    assert got["cache_verify"][0] == ["handle", "deep", "cache_dir"]
    assert got["cache_dir"][0] == []
    assert "id" in got["step_pretrained_text_embedding"][0]  # a default with parentheses and a string
