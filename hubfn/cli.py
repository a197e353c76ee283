"""The `hubfn` command: one subcommand per job, each a short function over the public API.

    hubfn info HANDLE        format, tags and signatures of a module
"""

import argparse
import sys

from . import errors


def cmd_info(args):
    from .api import hub_load
    from .signatures import format_tags

    m = hub_load(args.handle, tags=args.tags.split(",") if args.tags is not None else None)
    print(f"handle:    {m.handle}")
    print(f"path:      {m.path}")
    print(f"format:    {m.format}")
    print(f"tags:      {'default' if m.tags is None else format_tags(m.tags)}")
    print(f"variants:  {', '.join(format_tags(t) for t in m.tag_sets)}")
    print("signatures:")
    for s in m.signatures:
        print(f"  {s.describe()}")
    if m.has_call and "default" not in m.signature_names:
        print("  __call__ (no declared signature)")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="hubfn", description="Publish, fetch, cache and apply TF Hub modules.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="show a module's format, tags and signatures")
    p.add_argument("handle", help="module directory, file:// or http(s):// URL")
    p.add_argument("--tags", help="comma-separated tag set of the graph variant (TF1 hub modules)")
    p.set_defaults(func=cmd_info)

    # Further subcommands (pack, serve, cache) register themselves here, one add_parser block each.
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except errors.HubError as e:
        print(f"hubfn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
