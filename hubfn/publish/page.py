"""What the server says about a module: its facts as plain data, as an HTML page, and as JSON.

The facts come from `saved_model.pb` through hubfn.savedmodel.signatures (no TensorFlow load): the SignatureDefs and,
for TF2 modules, the object graph's `__call__` and callable sub-objects with their saved input specs. For a packed
.tar.gz the few small files needed (saved_model.pb, tfhub_module.pb, README.md) are read out of the
archive into a temporary directory. HTML and JSON are rendered from the same dict, so they cannot
disagree. Every value put into HTML is escaped: module names, README text and the Host header are not
trusted.
"""

import html
import json
import os
import shutil
import tarfile
import tempfile

from .. import errors
from ..safety.scan import scan
from ..savedmodel.signatures import format_shape, parse_saved_model, read_saved_model
from ..util import fs

README_LIMIT = 256 << 10  # a README larger than this is cut: the page is documentation, not storage
_SMALL_MEMBERS = ("saved_model.pb", "tfhub_module.pb", "README.md")


def _read_readme(path):
    try:
        with open(path, "rb") as f:
            data = f.read(README_LIMIT + 1)
    except (FileNotFoundError, IsADirectoryError):
        return None
    cut = len(data) > README_LIMIT
    text = data[:README_LIMIT].decode("utf-8", "replace")
    return text + ("\n[README cut at 256 KiB]" if cut else "")


def module_facts(module_dir: str, size_bytes: int) -> dict:
    """Format, graph variants with their signatures, README, size and safety findings of a module directory."""
    proto = parse_saved_model(module_dir)
    info = read_saved_model(module_dir, proto=proto)
    return {
        "safety": [f.as_dict() for f in scan(proto, module_dir)],
        "format": info.format,
        "size_bytes": size_bytes,
        "variants": [{"tags": sorted(v.tags), "signatures": [s.as_dict() for s in v.listing]}
                     for v in info.variants],
        "readme": _read_readme(os.path.join(module_dir, "README.md")),
    }


def archive_facts(archive: str) -> dict:
    """module_facts for a packed .tar.gz, reading only its small top-level files."""
    tmp = tempfile.mkdtemp(prefix="hubfn-facts-")
    try:
        total = 0
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    total += member.size if member.isfile() else 0
                    name = member.name[2:] if member.name.startswith("./") else member.name
                    if name in _SMALL_MEMBERS and member.isfile():
                        src = tar.extractfile(member)
                        with open(os.path.join(tmp, name), "wb") as out:
                            shutil.copyfileobj(src, out)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise errors.NotAModuleError(
                f"{archive!r} is not a readable module archive ({e}); pack the module again with `hubfn pack`."
            ) from None
        facts = module_facts(tmp, total)
        facts["archive_bytes"] = os.path.getsize(archive)
        return facts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def with_urls(facts: dict, name: str, url: str) -> dict:
    """The facts plus where they are: the module URL, its archive URL and the lines that load it."""
    out = {"name": name, "url": url, **facts}
    out.setdefault("archive_bytes", None)
    out["download"] = url + "?tf-hub-format=compressed"
    out["load"] = {
        "python": f"import hubfn\nmodule = hubfn.hub_load({json.dumps(url)})",
        "r": f"library(hubfn)\nmodule <- hub_load({json.dumps(url)})",
        "tensorflow_hub": f"import tensorflow_hub as hub\nmodule = hub.load({json.dumps(url)})",
    }
    return out


def to_json(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _size(n):
    return "not packed yet" if n is None else fs.size_text(n, bytes_unit="bytes")


def _shape(shape):
    return format_shape(shape, unknown="unknown rank")


def _dtype(t):
    kind = t.get("kind", "dense")
    if kind == "list":
        return f'list of {t.get("length")} {t["dtype"]}'
    return t["dtype"] if kind == "dense" else f'{kind} {t["dtype"]}'


def _how_called(s):
    """A function's calling convention in words: how its inputs go in and its saved Python arguments."""
    ins = {"tensor": "one tensor", "dict": "a dict of the inputs below", "list": "a list of tensors",
           "args": "the inputs below as arguments"}.get(s.get("structure"), "its inputs")
    opts = ", ".join(f"{k}={v!r}" for k, v in sorted((s.get("options") or {}).items()))
    return f"Function (object graph), called with {ins}" + (f"; options: {opts}" if opts else "") + "."


def _tensor_table(cls, tensors):
    e = html.escape
    rows = "".join(
        f'<tr><td class="name">{e(t["name"])}</td><td class="dtype">{e(_dtype(t))}</td>'
        f'<td class="shape">{e(_shape(t["shape"]))}</td></tr>' for t in tensors)
    return (f'<table class="{cls}"><caption>{cls}</caption>'
            f"<tr><th>name</th><th>dtype</th><th>shape</th></tr>{rows}</table>")


_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:.3em 1em .8em 0;display:inline-table;vertical-align:top}"
          "td,th{border:1px solid #ccc;padding:.2em .6em}caption{text-align:left;font-weight:bold}"
          "pre{background:#f4f4f4;padding:.6em;overflow-x:auto}")


def _page(title, body) -> bytes:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n").encode("utf-8")


def module_html(f: dict) -> bytes:
    """The module page: how to load it, its variants and signatures, its size and README."""
    e = html.escape
    parts = [f'<h1 class="module">{e(f["name"])}</h1>',
             f'<p>Format: <span class="format">{e(f["format"])}</span>. '
             f'Size: <span class="size">{e(_size(f["size_bytes"]))}</span>; '
             f'archive: <span class="archive-size">{e(_size(f["archive_bytes"]))}</span> '
             f'(<a class="download" href="{e(f["download"])}">download</a>).</p>',
             "<h2>Load it</h2>",
             f'<p>Python</p><pre class="load-python">{e(f["load"]["python"])}</pre>',
             f'<p>R</p><pre class="load-r">{e(f["load"]["r"])}</pre>',
             f'<p>tensorflow_hub</p><pre class="load-tensorflow-hub">{e(f["load"]["tensorflow_hub"])}</pre>',
             "<h2>Graph variants and signatures</h2>"]
    for v in f["variants"]:
        tags = "{" + ", ".join(f'"{t}"' for t in v["tags"]) + "}"
        parts.append(f'<section class="variant" data-tags="{e(",".join(v["tags"]))}">'
                     f"<h3>Tags {e(tags)}</h3>")
        if not v["signatures"]:
            parts.append("<p>No signatures.</p>")
        for s in v["signatures"]:
            how = (f'<p class="function">{e(_how_called(s))}</p>' if s.get("kind") == "function" else "")
            parts.append(f'<div class="signature" data-name="{e(s["name"])}"><h4>{e(s["name"])}</h4>{how}'
                         f'{_tensor_table("inputs", s["inputs"])}{_tensor_table("outputs", s["outputs"])}</div>')
        parts.append("</section>")
    parts.append(_safety_html(f.get("safety", [])))
    if f.get("readme"):
        parts.append(f'<h2>README</h2><pre class="readme">{e(f["readme"])}</pre>')
    return _page(f["name"], "\n".join(parts))


def _safety_html(findings) -> str:
    """What hubfn's scan found: the ops that reach outside the module, which hubfn.hub_load refuses."""
    e = html.escape
    if not findings:
        return ('<h2>Safety</h2><p class="safety-ok">No op of this module reaches outside it (files, the network, '
                "other processes): hubfn loads it with its default safe_mode.</p>")
    items = "".join(
        f'<li><span class="op">{e(x["op"])}</span> ({e(x["category"])}) in {e(", ".join(x["reached_from"]))}'
        f'{" &mdash; runs while the module loads" if x["at_load"] else ""}: {e(x["why"])}</li>' for x in findings)
    ops = sorted({x["op"] for x in findings})
    return ('<h2>Safety</h2><p class="safety-unsafe">This module holds ops that reach outside it. hubfn refuses to '
            f'load it unless told to: <code>safe_mode=False</code> or <code>allow_ops={e(repr(ops))}</code>.</p>'
            f'<ul class="safety-findings">{items}</ul>')


def listing_html(title: str, modules) -> bytes:
    """`modules`: (name, url) pairs."""
    e = html.escape
    items = "".join(f'<li><a class="module" href="{e(url)}">{e(name)}</a></li>' for name, url in modules)
    body = f"<h1>{e(title)}</h1>" + (f"<ul>{items}</ul>" if items else "<p>No modules here yet.</p>")
    return _page(title, body)
