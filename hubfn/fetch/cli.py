"""`hubfn cache`: list, verify and remove cached modules (hubfn's and tensorflow_hub's).

    hubfn cache list               handle, size, date and check result of every entry
    hubfn cache verify [HANDLE]    check entries (files and sizes); exit status 1 if any is damaged
    hubfn cache verify --deep      also read every file against its content hash, report extra files
    hubfn cache remove HANDLE      remove one entry (HANDLE may be the 40-hex directory name)
    hubfn cache remove --all       empty the cache
"""

from .. import errors
from ..util import fs
from . import manage


def _row(e):
    state = "ok" if e.verified else f"DAMAGED: {e.problem}"
    return (f"{e.path.rsplit('/', 1)[-1]}  {fs.size_text(e.size):>10}  {e.date:%Y-%m-%d %H:%M}  "
            f"{state} ({e.check})  {e.handle or '(unknown handle)'}")


def cmd_cache(args):
    if args.action == "list":
        entries = manage.cache_list()
        print(f"cache: {manage.cache_dir()}  ({len(entries)} entries)")
        for e in entries:
            print(_row(e))
        return 0
    if args.action == "verify":
        entries = manage.cache_verify(args.handle, deep=args.deep)
        if args.handle and not entries:
            raise errors.CacheError(f"{args.handle!r} is not in the cache {manage.cache_dir()}.")
        for e in entries:
            print(_row(e))
        bad = [e for e in entries if not e.verified]
        print(f"{len(entries) - len(bad)} ok, {len(bad)} damaged" +
              ("; the next load of a damaged entry downloads it again." if bad else "."))
        return 1 if bad else 0
    if args.all and args.handle:
        raise errors.CacheError("hubfn cache remove: HANDLE and --all are exclusive; give a HANDLE to remove "
                                "one entry, or --all alone to empty the cache.")
    if not args.all and not args.handle:
        raise errors.CacheError("hubfn cache remove: give a HANDLE, or --all to empty the cache.")
    removed = manage.cache_remove(args.handle, all=args.all)
    if args.handle and not removed:
        print(f"{args.handle} was not in the cache {manage.cache_dir()}.")
    for path in removed:
        print(f"removed {path}")
    return 0


def add_parser(sub):
    p = sub.add_parser("cache", help="list, verify or remove cached modules")
    # One sub-parser per action, so options may come before or after HANDLE (`verify --deep URL`).
    actions = p.add_subparsers(dest="action", required=True, metavar="{list,verify,remove}")
    actions.add_parser("list", help="every entry: handle, size, date, check result")
    verify = actions.add_parser("verify", help="check entries; exit status 1 if any is damaged")
    verify.add_argument("handle", nargs="?", help="module URL (or its 40-hex cache directory name)")
    verify.add_argument("--deep", action="store_true",
                        help="read every file against the content hash recorded when it was extracted, "
                             "and report files that did not come from the archive")
    remove = actions.add_parser("remove", help="remove one entry, or all with --all")
    remove.add_argument("handle", nargs="?", help="module URL (or its 40-hex cache directory name)")
    remove.add_argument("--all", action="store_true", help="remove every entry")
    p.set_defaults(func=cmd_cache, handle=None, all=False, deep=False)
    return p
