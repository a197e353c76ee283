"""The architecture's rules, checked: the fetch and publish stages never import TensorFlow, and the
package has no import cycles."""

import ast
import os
import subprocess
import sys
import textwrap

import pytest

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


def _module_imports():
    """{module: set of hubfn modules it imports at module level}, from the source (no import)."""
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
            deps = set()
            for node in ast.parse(open(path).read()).body:  # top level only: lazy imports may cycle
                if isinstance(node, ast.ImportFrom) and node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    target = f"{base}.{node.module}" if node.module else base
                    for alias in node.names:
                        deps.add(target if node.module else f"{base}.{alias.name}")
                elif isinstance(node, ast.Import):
                    deps.update(a.name for a in node.names if a.name.startswith("hubfn"))
            graph[mod] = {d for d in deps if d != mod}
    return graph


def test_no_import_cycles():
    graph = _module_imports()
    assert "hubfn.fetch.cache" in graph and "hubfn.publish.pack" in graph
    seen, stack = set(), []

    def visit(mod):
        if mod in stack:
            pytest.fail("import cycle: " + " -> ".join(stack[stack.index(mod):] + [mod]))
        if mod in seen or mod not in graph:
            return
        stack.append(mod)
        for dep in sorted(graph[mod]):
            visit(dep)
        stack.pop()
        seen.add(mod)

    for mod in sorted(graph):
        visit(mod)


def test_fetch_and_publish_do_not_import_the_core_loaders():
    # The stages below the core may use errors, handles, moduledir, settings (a plain value of one call's
    # fetch settings) and util only (plus each other).
    allowed = ("hubfn.errors", "hubfn.handles", "hubfn.moduledir", "hubfn.settings", "hubfn.util", "hubfn.fetch",
               "hubfn.publish", "hubfn.signatures")
    for mod, deps in _module_imports().items():
        if mod.startswith(("hubfn.fetch", "hubfn.publish")):
            bad = [d for d in deps if not d.startswith(allowed)]
            assert not bad, f"{mod} imports {bad}"
