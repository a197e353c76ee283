"""mkdocs hooks: the parts of the reference written from the code at build time, so a public function,
error class or command added later appears in the docs without anyone editing them.

A page asks for a generated part with a marker line of its own:

    <!-- hubfn:api -->   one mkdocstrings block per public name of `hubfn` (hubfn._PUBLIC, in its order),
                         except the ones with a page of their own (PAGES_OF_THEIR_OWN)
    <!-- hubfn:cli -->   the help of `hubfn` and of every subcommand, from hubfn.cli.build_parser()
    <!-- hubfn:env -->   a table of the environment variables listed in hubfn.util.env's docstring

mkdocstrings then renders the `::: name` blocks from the docstrings and signatures (read by griffe from the
sources: nothing here imports TensorFlow).
"""

import argparse
import os
import re
import sys

# This checkout's hubfn, whichever Python runs mkdocs (as mkdocstrings reads this checkout's sources).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Public names documented on a page of their own (docs/reference/settings.md, errors.md).
PAGES_OF_THEIR_OWN = {"Settings", "errors"}


def api_markdown() -> str:
    import hubfn

    blocks = []
    for name, where in hubfn._PUBLIC.items():
        if name in PAGES_OF_THEIR_OWN or where is None:
            continue
        blocks.append(f"::: hubfn.{where}.{name}\n")
    return "\n".join(blocks)


def _commands(parser: argparse.ArgumentParser, path: str):
    """(command line, parser) for `parser` and every subcommand below it, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def cli_markdown() -> str:
    from hubfn.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width: fix it
    try:
        parts = []
        for path, parser in _commands(build_parser(), "hubfn"):
            parser.prog = path
            level = "#" * min(2 + path.count(" "), 4)
            parts.append(f"{level} `{path}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
        return "\n".join(parts)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def env_rows(doc: str):
    """[(names, description)] from a docstring's indented list: an entry starts at the list's indent with
    the variable names, then two or more blanks and the description; deeper lines continue it."""
    lines = [line for line in doc.splitlines() if line.strip()]
    indented = [line for line in lines if line.startswith(" ")]
    if not indented:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in indented)
    rows = []
    for line in indented:
        depth = len(line) - len(line.lstrip())
        text = line.strip()
        if depth == indent and re.match(r"[A-Z][A-Z0-9_]*\b", text):
            m = re.match(r"(.+?)\s{2,}(.*)", text)
            names, description = (m.group(1), m.group(2)) if m else (text, "")
            rows.append([names, description.strip()])
        elif rows:
            rows[-1][1] = f"{rows[-1][1]} {text}".strip()
    return [(names, description) for names, description in rows]


def env_markdown() -> str:
    from hubfn.util import env

    out = ["| variable | what it does |", "|---|---|"]
    for names, description in env_rows(env.__doc__):
        shown = ", ".join(f"`{n.strip()}`" for n in names.split(","))
        out.append(f"| {shown} | {description.replace('|', '&#124;')} |")
    return "\n".join(out) + "\n"


MARKERS = {"<!-- hubfn:api -->": api_markdown, "<!-- hubfn:cli -->": cli_markdown, "<!-- hubfn:env -->": env_markdown}


def on_page_markdown(markdown, page, config, files):
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
