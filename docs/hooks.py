"""mkdocs hooks: the parts of the reference written from the code at build time, so a public function,
error class or command added later appears in the docs without anyone editing them.

A page asks for a generated part with a marker line of its own:

    <!-- hubfn:api -->   one mkdocstrings block per public name of `hubfn` (hubfn._PUBLIC, in its order),
                         except the ones with a page of their own (PAGES_OF_THEIR_OWN)
    <!-- hubfn:cli -->   the help of `hubfn` and of every subcommand, from hubfn.cli.build_parser()
    <!-- hubfn:env -->   a table of the environment variables: hubfn.settings.TABLE, one row per setting

mkdocstrings then renders the `::: name` blocks from the docstrings and signatures (read by griffe from the
sources: nothing here imports TensorFlow).
"""

import argparse
import os
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


def env_markdown() -> str:
    """The environment variables' table, one row per row of hubfn.settings.TABLE (and those requests reads)."""
    from hubfn import settings

    out = ["| variable | default | per call | what it does |", "|---|---|---|---|"]
    for row in settings.TABLE:
        default = "" if row.default is None or row.default in ((), frozenset()) else f"`{row.default!r}`"
        per_call = f"`{row.per_call}`" if row.per_call else ("process-wide" if row.per_call is None else "")
        out.append(f"| `{row.env}` | {default} | {per_call} | {row.doc.replace('|', '&#124;')} |")
    shown = ", ".join(f"`{n}`" for n in settings.REQUESTS_VARIABLES)
    out.append(f"| {shown} | | | read by requests on hubfn's behalf (proxies, the netrc file) |")
    return "\n".join(out) + "\n"


MARKERS = {"<!-- hubfn:api -->": api_markdown, "<!-- hubfn:cli -->": cli_markdown, "<!-- hubfn:env -->": env_markdown}


def on_page_markdown(markdown, page, config, files):
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
