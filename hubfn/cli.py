"""The `hubfn` command: one subcommand per job, each a short function over the public API.

    hubfn info HANDLE        format, tags and signatures of a module, and what its safety scan found
    hubfn scan HANDLE...     the ops of each module that reach outside it (exit 1 on any); --json
    hubfn pack DIR -o F      pack a module into a deterministic .tar.gz
    hubfn serve ROOT         serve a directory of modules over HTTP (TF Hub protocol)
    hubfn cache list|verify|remove   the download cache shared with tensorflow_hub
"""

import argparse
import sys

from . import errors


def _hub(args):
    """The Hub of this command: the environment's, with the options it was given."""
    from .resolve import Hub

    return Hub.make(cache_dir=args.cache_dir, offline=True if args.offline else None,
                    safe_mode=False if getattr(args, "unsafe", False) else None)


def cmd_info(args):
    from .savedmodel import oplibs
    from .api import hub_load

    tags = args.tags.split(",") if args.tags is not None else None
    hub = _hub(args)
    try:
        m = hub_load(args.handle, tags=tags, hub=hub)
    except (errors.MissingOpsError, errors.UnsafeModuleError) as e:
        # The module is not loaded here, but saved_model.pb still tells what it is, needs and does.
        return _info_unloadable(args.handle, tags, e, hub)
    _print_info(m.handle, m.path, m.format, m.tags, m.tag_sets, bool(m.functions), m.listing_lines())
    print(f"op libraries: {oplibs.describe(m.path)}")
    _print_findings(m.path)
    return 0


def _info_unloadable(handle, tags, error, hub):
    """`hubfn info` for a module whose op libraries are missing: what saved_model.pb says, then exit 1."""
    from .savedmodel import oplibs
    from .savedmodel.signatures import TF1_HUB, read_saved_model

    path = hub.resolve(handle)
    info = read_saved_model(path)
    variant = info.variant(tags)
    # As hub_load names them: a TF2 module's default variant is "default", a TF1 variant its tag set.
    shown = None if info.format != TF1_HUB and variant is info.variant(None) else variant.tags
    _print_info(handle, path, info.format, shown, info.tag_sets, bool(variant.functions),
                [line for s in variant.listing for line in s.describe_lines()])
    print(f"op libraries: {oplibs.describe(path)}")
    _print_findings(path)
    print(f"hubfn: error: {error}", file=sys.stderr)
    return 1


def _print_findings(path):
    from .safety.guard import findings_of

    found, _ = findings_of(path)
    print(f"safety:    {len(found)} op(s) reaching outside the module" if found
          else "safety:    no op reaches outside the module")
    for f in found:
        print(f"  {f.describe()}")


def cmd_scan(args):
    """Scan each handle's module (fetching it if needed, never loading it); exit 1 if any has findings."""
    import json

    from .safety.guard import findings_of

    hub = _hub(args)
    reports, status = [], 0
    for handle in args.handles:
        path = hub.resolve(handle)
        found, _ = findings_of(path)
        status = 1 if found else status
        reports.append({"handle": handle, "path": path, "findings": [f.as_dict() for f in found]})
        if not args.json:
            print(f"{handle}: {len(found)} finding(s)" if found else f"{handle}: no op reaches outside the module")
            for f in found:
                print(f"  {f.op} [{f.category}] in {f.where()}\n      {f.why}")
    if args.json:
        print(json.dumps(reports, indent=2))
    return status


def _print_info(handle, path, fmt, tags, tag_sets, has_functions, lines):
    from .savedmodel.signatures import format_tags

    print(f"handle:    {handle}")
    print(f"path:      {path}")
    print(f"format:    {fmt}")
    print(f"tags:      {'default' if tags is None else format_tags(tags)}")
    print(f"variants:  {', '.join(format_tags(t) for t in tag_sets)}")
    print("signatures and functions:" if has_functions else "signatures:")
    for line in lines:
        print(f"  {line}")


def cmd_pack(args):
    import os

    from .publish.pack import pack_module

    path = pack_module(args.module_dir, args.output)
    print(f"{path} ({os.path.getsize(path)} bytes)")
    return 0


def cmd_serve(args):
    from .publish.serve import run_forever

    return run_forever(args.root, host=args.host, port=args.port, pack_dir=args.pack_dir, threads=args.threads,
                       idle_timeout=args.idle_timeout, connection_limit=args.connection_limit,
                       token_file=args.token_file, refuse_unsafe=args.refuse_unsafe)


def _hub_options(p):
    p.add_argument("--cache-dir", help="the cache directory (default: TFHUB_CACHE_DIR, else <temp>/tfhub_modules)")
    p.add_argument("--offline", action="store_true", help="use the cache only (as HUBFN_OFFLINE=1)")


def build_parser():
    parser = argparse.ArgumentParser(prog="hubfn", description="Publish, fetch, cache and apply TF Hub modules.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="show a module's format, tags and signatures")
    p.add_argument("handle", help="module directory, file:// or http(s):// URL")
    p.add_argument("--tags", help="comma-separated tag set of the graph variant (TF1 hub modules)")
    p.add_argument("--unsafe", action="store_true",
                   help="load the module even if it holds ops reaching outside it (safe_mode=False)")
    _hub_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("scan", help="list the ops of modules that reach outside them (files, network); exit 1 on any")
    p.add_argument("handles", nargs="+", metavar="HANDLE", help="module directory, file://, http(s):// or kaggle: handle")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    _hub_options(p)
    p.set_defaults(func=cmd_scan)

    # Further subcommands (pack, serve, cache) register themselves here, one add_parser block each.
    p = sub.add_parser("pack", help="pack a module directory into a deterministic .tar.gz")
    p.add_argument("module_dir", help="the module directory (holding saved_model.pb)")
    p.add_argument("-o", "--output", required=True, help="the archive to write, e.g. module.tar.gz")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("serve", help="serve a directory of modules over HTTP (TF Hub protocol)")
    p.add_argument("root", help="directory whose module dirs and .tar.gz files are served at their paths")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--pack-dir", help="where packed archives are kept (default: under the system temp dir)")
    p.add_argument("--idle-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="close connections silent, or slower to send a request head, for this long (default 10)")
    p.add_argument("--connection-limit", type=int, default=1000, metavar="N",
                   help="client connections open at once (default 1000)")
    p.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    p.add_argument("--token-file", metavar="FILE",
                   help="make the hub private: every request must send a token from FILE (one per line)")
    p.add_argument("--refuse-unsafe", action="store_true",
                   help="do not publish modules holding ops that reach outside them (answer 403 with the findings)")
    p.set_defaults(func=cmd_serve)

    from .fetch.cli import add_parser as add_cache_parser  # list / verify / remove cached modules

    add_cache_parser(sub)
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
