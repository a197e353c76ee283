"""The architecture's rules, checked: the fetch and publish stages never import TensorFlow, the core
never imports the layers built on it (tune/, spark/, publish/), and the package has no import cycles.
Imports inside functions (lazy ones) count like those at the top of a file."""

import ast
import os
import subprocess
import sys
import textwrap


HUBFN = os.path.join(os.path.dirname(__file__), "..", "hubfn")


def _run(code, **env):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_fetch_and_publish_never_import_tensorflow(fruit_dir, tmp_path):
    # A fresh process: import both stages, list the cache and pack a module through the real CLI.
    out = _run(f"""
        import sys
        import hubfn, hubfn.fetch.cache, hubfn.fetch.cli, hubfn.publish.pack, hubfn.publish.serve
        import hubfn.publish.store, hubfn.resolve
        from hubfn.cli import main
        assert main(["cache", "list"]) == 0
        assert main(["pack", {str(fruit_dir)!r}, "-o", {str(tmp_path / "fruit.tar.gz")!r}]) == 0
        print("TF-LOADED" if "tensorflow" in sys.modules else "TF-ABSENT")
    """, TFHUB_CACHE_DIR=str(tmp_path / "cache"))
    assert out.strip().splitlines()[-1] == "TF-ABSENT"
    assert (tmp_path / "fruit.tar.gz").stat().st_size > 0


def test_the_check_can_fail(fruit_dir):
    # The same probe sees TensorFlow when something does import it, so the test above means something.
    out = _run(f"""
        import sys
        import hubfn
        hubfn.hub_load({str(fruit_dir)!r})  # loading a module needs TensorFlow
        print("TF-LOADED" if "tensorflow" in sys.modules else "TF-ABSENT")
    """)
    assert out.strip().splitlines()[-1] == "TF-LOADED"


def _module_imports(lazy=True):
    """{module: set of hubfn modules it imports}, from the source (no import): every import statement,
    in functions too (lazy imports), unless lazy=False (the top level only)."""
    graph = {}
    root = os.path.abspath(HUBFN)
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, ".")
            mod = rel[: -len(".__init__")] if rel.endswith(".__init__") else rel
            package = mod if name == "__init__.py" else mod.rsplit(".", 1)[0]
            tree = ast.parse(open(path).read())
            deps = set()
            for node in (ast.walk(tree) if lazy else tree.body):
                if isinstance(node, ast.ImportFrom) and node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    target = f"{base}.{node.module}" if node.module else base
                    for alias in node.names:
                        deps.add(target if node.module else f"{base}.{alias.name}")
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hubfn"):
                    deps.add(node.module)
                elif isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names if a.name.startswith("hubfn"))
            graph[mod] = {d for d in deps if d != mod}
    return graph


def _first_cycle(graph):
    """One import cycle of `graph` as a list of modules (first = last), or None."""
    seen, stack = set(), []

    def visit(mod):
        if mod in stack:
            return stack[stack.index(mod):] + [mod]
        if mod in seen or mod not in graph:
            return None
        stack.append(mod)
        for dep in sorted(graph[mod]):
            found = visit(dep)
            if found:
                return found
        stack.pop()
        seen.add(mod)
        return None

    for mod in sorted(graph):
        found = visit(mod)
        if found:
            return found
    return None


def test_no_import_cycles():
    # Lazy imports count: a circle through a function-level import is a circle all the same (it only
    # moves the failure to the first call) and makes the two modules one concern.
    graph = _module_imports()
    assert "hubfn.fetch.cache" in graph and "hubfn.publish.pack" in graph
    cycle = _first_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_lazy_imports():
    # The check itself: a circle closed by a function-level import is found, one at the top level too.
    graph = {"hubfn.a": {"hubfn.b"}, "hubfn.b": set()}
    assert _first_cycle(graph) is None
    graph["hubfn.b"].add("hubfn.a")
    assert _first_cycle(graph) == ["hubfn.a", "hubfn.b", "hubfn.a"]
    source = "def f():\n    from .apply import module_apply\n"
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found.add(node.module)
    assert found == {"apply"}  # ast.walk reaches inside functions, as _module_imports reads them


# The core: the modules at the top of hubfn/ (handle -> resolve -> load -> apply, export, api). Two of
# them are front ends, not core: hubfn/__init__.py (the lazy public-name table and the Keras registration
# point at tune/, publish/ and spark/ because they are the package's public face) and cli.py (the
# `hubfn` command, whose pack and serve subcommands are hubfn.publish).
FRONT_ENDS = {"hubfn", "hubfn.cli"}
LAYERS_ON_TOP = ("hubfn.tune", "hubfn.spark", "hubfn.publish")


# Packages of the core, grouped below the top: what a module directory holds (read without loading), the
# loaded object, and the safety check before a load.
CORE_PACKAGES = ("hubfn.savedmodel", "hubfn.loading", "hubfn.safety")
MAX_TOP_LEVEL_FILES = 18  # what belongs together goes into a package of its own


def _core_modules(graph):
    """The files at the top of hubfn/ that are not front ends, and the core's packages."""
    top = {"hubfn." + name[:-3] for name in os.listdir(HUBFN) if name.endswith(".py") and name != "__init__.py"}
    return {m: deps for m, deps in graph.items()
            if (m in top and m not in FRONT_ENDS) or m.startswith(CORE_PACKAGES)}


def test_the_top_of_hubfn_stays_small():
    files = sorted(name for name in os.listdir(HUBFN) if name.endswith(".py"))
    assert len(files) <= MAX_TOP_LEVEL_FILES, f"{len(files)} files at hubfn's top level: {files}"


def test_the_core_never_imports_tune_spark_or_publish():
    core = _core_modules(_module_imports())
    assert {"hubfn.apply", "hubfn.module", "hubfn.export", "hubfn.loading.load", "hubfn.ways",
            "hubfn.savedmodel.signatures", "hubfn.safety.guard"} <= set(core)
    for mod, deps in sorted(core.items()):
        bad = sorted(d for d in deps if d.startswith(LAYERS_ON_TOP))
        assert not bad, f"{mod} (core) imports {bad}, lazily or not; the core must not depend on them"


def test_lazy_imports_into_tune_are_caught(tmp_path):
    # The rule's check on a core file that reaches into tune/ only inside a function.
    (tmp_path / "hubfn").mkdir()
    (tmp_path / "hubfn" / "__init__.py").write_text("")
    (tmp_path / "hubfn" / "apply.py").write_text("def f():\n    from .tune import keras_layer\n")
    global HUBFN
    saved, HUBFN = HUBFN, str(tmp_path / "hubfn")
    try:
        core = _core_modules(_module_imports())
        top_only = _core_modules(_module_imports(lazy=False))
    finally:
        HUBFN = saved
    assert core["hubfn.apply"] == {"hubfn.tune"} and top_only["hubfn.apply"] == set()


def test_fetch_and_publish_do_not_import_the_core_loaders():
    # The stages below the core may use errors, handles, moduledir, settings (a plain value of one call's
    # fetch settings) and util only (plus each other).
    allowed = ("hubfn.errors", "hubfn.handles", "hubfn.savedmodel", "hubfn.settings", "hubfn.util", "hubfn.fetch",
               "hubfn.publish", "hubfn.safety")
    for mod, deps in _module_imports().items():
        if mod.startswith(("hubfn.fetch", "hubfn.publish")):
            bad = [d for d in deps if not d.startswith(allowed)]
            assert not bad, f"{mod} imports {bad}"


# fetch/ in three one-way layers (README, Layout). At the bottom, independent of each other: transport/
# (the one budgeted GET, the resumable download) and store/ (the cache on disk). Above both: sources/, the
# per-source locators, which may use transport and store but not each other (each may use the Location
# they all return, sources/location.py; the sources package itself picks between them). At the top:
# cache.py (the one fetch-to-cache), manage.py and cli.py, which may use everything. Nothing imports
# upward or sideways, lazily or not.
def _fetch_group(mod):
    """The layer of a module of hubfn.fetch: "transport", "store", "sources" (the package), "sources.X" (one
    locator, or the shared location), or "top"."""
    parts = mod.split(".")[2:]
    if parts and parts[0] in ("transport", "store"):
        return parts[0]
    if parts and parts[0] == "sources":
        return "sources" if len(parts) == 1 else "sources." + parts[1]
    return "top"


def _fetch_may_import(src, dst):
    if src == dst or src == "top":
        return True
    if src in ("transport", "store"):
        return False  # each other, or anything above
    if src.startswith("sources"):
        return dst in ("transport", "store", "sources.location") or (src == "sources" and dst.startswith("sources."))
    return False


def _fetch_layer_violations(graph):
    return sorted(f"{mod} ({_fetch_group(mod)}) imports {dep} ({_fetch_group(dep)})"
                  for mod, deps in graph.items() if mod.startswith("hubfn.fetch")
                  for dep in deps if dep.startswith("hubfn.fetch")
                  and not _fetch_may_import(_fetch_group(mod), _fetch_group(dep)))


def test_fetch_layers_import_only_downward():
    graph = _module_imports()
    groups = {_fetch_group(m) for m in graph if m.startswith("hubfn.fetch")}
    assert {"transport", "store", "sources", "sources.kaggle", "sources.tfhub", "sources.archive_url", "top"} <= groups
    assert "hubfn.fetch.transport" in graph["hubfn.fetch.sources.kaggle.api"], "Kaggle's API GETs through the transport"
    bad = _fetch_layer_violations(graph)
    assert not bad, "fetch/ layers import only downward: " + "; ".join(bad)


def test_the_fetch_layer_check_can_fail():
    # The check itself, on made-up graphs: every kind of wrong import is found, lazy or not (the graph
    # counts imports inside functions, see test_the_cycle_check_sees_lazy_imports).
    ok = {"hubfn.fetch.cache": {"hubfn.fetch.store.layout", "hubfn.fetch.transport.download", "hubfn.fetch.sources.location"},
          "hubfn.fetch.sources.kaggle.api": {"hubfn.fetch.transport", "hubfn.fetch.sources.kaggle.handle"},
          "hubfn.fetch.sources.kaggle.latest": {"hubfn.fetch.store.layout"},
          "hubfn.fetch.sources.tfhub": {"hubfn.fetch.sources.location"},
          "hubfn.fetch.sources": {"hubfn.fetch.sources.tfhub", "hubfn.fetch.sources.archive_url"},
          "hubfn.fetch.transport.download": {"hubfn.fetch.transport.ranged", "hubfn.errors"},
          "hubfn.fetch.store.manifest": {"hubfn.fetch.store.digest", "hubfn.util.fs"}}
    assert _fetch_layer_violations(ok) == []
    wrong = [("hubfn.fetch.transport.download", "hubfn.fetch.store.layout"),  # sideways, bottom
             ("hubfn.fetch.store.manifest", "hubfn.fetch.transport"),  # sideways, bottom
             ("hubfn.fetch.store.extract", "hubfn.fetch.cache"),  # upward
             ("hubfn.fetch.transport.http", "hubfn.fetch.sources.kaggle.api"),  # upward
             ("hubfn.fetch.sources.kaggle.locate", "hubfn.fetch.cache"),  # upward
             ("hubfn.fetch.sources.tfhub", "hubfn.fetch.sources.archive_url"),  # sideways, one locator to another
             ("hubfn.fetch.sources.location", "hubfn.fetch.sources.kaggle.api")]  # the shared value to a locator
    for mod, dep in wrong:
        graph = {m: set(d) for m, d in ok.items()}
        graph.setdefault(mod, set()).add(dep)
        assert _fetch_layer_violations(graph) == [
            f"{mod} ({_fetch_group(mod)}) imports {dep} ({_fetch_group(dep)})"], (mod, dep)


def test_only_the_settings_table_reads_the_environment():
    # Every setting is a row of hubfn.settings.TABLE, read once per call at the public function's door;
    # nothing else in hubfn reads os.environ (os.environ.get, os.getenv, os.environ[...]).
    found = {}
    for dirpath, _, files in os.walk(os.path.abspath(HUBFN)):
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.abspath(HUBFN))
            if not name.endswith(".py") or rel in ("settings.py", "cli.py"):
                continue
            tree = ast.parse(open(path).read())
            lines = [n.lineno for n in ast.walk(tree)
                     if (isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv", "environb")
                         and isinstance(n.value, ast.Name) and n.value.id == "os")]
            if lines:
                found[rel] = lines
    assert not found, f"read the environment through hubfn.settings (its table), not here: {found}"


def test_every_setting_in_the_table_is_documented_and_read():
    from hubfn import settings

    names = [s.env for s in settings.TABLE]
    assert len(names) == len(set(names)) and all(s.doc for s in settings.TABLE)
    fields = {f.name for f in __import__("attrs").fields(settings.Settings)}
    for s in settings.TABLE:
        head = s.name.split(".")[0]
        assert head in fields or s.per_call is None, f"{s.name} is neither a Settings field nor process-wide"
    assert {"KAGGLE_USERNAME", "TFHUB_MODEL_LOAD_FORMAT", "HUBFN_SAFE_MODE"} <= set(settings.environment_names())


# --- no module reaches into another's private names ---------------------------------------------------
R_HELPERS = os.path.join(os.path.dirname(__file__), "..", "r-bindings", "inst", "python")


def _private_uses(source):
    """[(line, what)] where `source` imports or uses another hubfn module's private name (one starting with
    one underscore): `from .api import _as_tags`, `from hubfn.apply import _x`, or `apply._x` / `hubfn.apply._x`
    where the name is bound to a hubfn module by an import."""
    tree = ast.parse(source)
    modules, found = set(), []
    private = lambda name: name.startswith("_") and not name.startswith("__")  # noqa: E731
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "hubfn"):
            for a in node.names:
                if private(a.name):
                    found.append((node.lineno, f"from {'.' * node.level}{node.module or ''} import {a.name}"))
                else:  # `from . import apply`, `from hubfn import apply`: may bind a module
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "hubfn":
                    modules.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append((node.lineno, f"{ast.unparse(node)}"))
    return found


def test_no_module_uses_another_modules_private_names():
    found = {}
    for root in (os.path.abspath(HUBFN), os.path.abspath(R_HELPERS)):
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    uses = _private_uses(open(path).read())
                    if uses:
                        found[os.path.relpath(path, os.path.dirname(root))] = uses
    assert not found, f"private names of other modules used (make them public, or move the code): {found}"


def test_the_private_name_check_can_fail():
    assert _private_uses("from ..api import _as_tags\n") == [(1, "from ..api import _as_tags")]
    assert _private_uses("from hubfn.apply import _default_converter\n")
    assert _private_uses("from . import apply\ndef f():\n    return apply._default_converter()\n") == \
        [(3, "apply._default_converter")]
    assert _private_uses("import hubfn.apply\nhubfn.apply._plan\n") == [(2, "hubfn.apply._plan")]
    # A module's own private names, dunders, and private attributes of values are not another module's.
    assert not _private_uses("from . import trainable as _trainable\n_trainable.all_variables\n"
                             "def _own():\n    pass\nx = obj._value\nfrom . import api\napi.__doc__\n")
