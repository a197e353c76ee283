"""The module tree behind the server: which URL path names which module, what it holds, its archive.

Three rules keep the server from handing out anything but modules:
- a request path is split into segments; "", ".", "..", hidden names (".git", the pack cache) and
  segments with a backslash or NUL are refused before any file is touched;
- the joined path is resolved with realpath and must stay inside ROOT's realpath, so a symlink under
  ROOT that points elsewhere (to /etc, say) is not followed out;
- only module directories (holding saved_model.pb) and .tar.gz files are ever served, never raw files;
  a module directory that cannot be packed as it is (a symlink leading out of it, a FIFO) is refused:
  neither listed nor served, and the reason is logged once (again only if it changes).

Archives of module directories are packed once into a cache directory outside ROOT (a content
fingerprint in the name), repacked when the module changes, and only ever renamed into place whole.
"""

import hashlib
import logging
import os
import tempfile
import threading

import attrs

from .. import errors
from ..util import fs
from ..util.locks import FileLock
from . import pack

log = logging.getLogger("hubfn")

ARCHIVE_SUFFIX = ".tar.gz"
SUPPORTED_FORMATS = ("compressed",)


@attrs.frozen
class Target:
    """What a URL path names: a module directory, a packed .tar.gz, or a directory listing."""

    kind: str  # "module_dir", "module_archive" (a .tar.gz standing for the module), "archive_file", "listing",
    #            or "refused" (a module directory that is not served: see ModuleStore.refusal)
    rel: str  # the path relative to ROOT, "/"-separated, without the .tar.gz of an archive_file request
    path: str  # absolute path on disk (the directory or the .tar.gz file)


def default_pack_dir(root: str) -> str:
    """A per-ROOT cache of packed archives under the system temp dir, outside ROOT."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"hubfn-packs-{uid}", _dir_key(os.path.realpath(root)))


def is_module_dir(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def _safe_segments(path_info: str):
    """The segments of a request path, or None if any of them could step outside or into hidden files."""
    # WSGI hands PATH_INFO over as latin-1 code points of the percent-decoded bytes.
    try:
        path = path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    if not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash: "/acme/fruit/1/" is "/acme/fruit/1"
    for seg in segments:
        if seg in ("", ".", "..") or seg.startswith(".") or "\\" in seg or "\x00" in seg:
            return None
    return segments


def _dir_key(module_dir: str) -> str:
    return hashlib.sha1(module_dir.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class ModuleStore:
    """Finds modules under ROOT and keeps their packed archives."""

    def __init__(self, root, pack_dir=None):
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise errors.ModuleNotFound(f"Cannot serve {root!r}: it is not a directory. Pass the directory of modules.")
        self.pack_dir = os.path.abspath(pack_dir or default_pack_dir(self.root))
        if fs.is_inside(self.root, self.pack_dir):
            parts = os.path.relpath(self.pack_dir, self.root).split(os.sep)
            if not any(p.startswith(".") for p in parts):
                raise errors.HubError(
                    f"The pack cache {self.pack_dir!r} is inside ROOT {self.root!r} and not hidden, so its "
                    "archives would be served as modules. Put it outside ROOT or in a directory named .something."
                )
        self._locks = {}
        self._locks_guard = threading.Lock()
        self._refused = {}  # absolute path -> the reason last logged for not serving it

    # --- URL path -> target -----------------------------------------------------------------------
    def _inside(self, path: str) -> str | None:
        real = os.path.realpath(path)
        return real if fs.is_inside(self.root, real) else None

    def locate(self, path_info: str) -> Target | None:
        """The target a request path names, or None (404) if it names nothing servable."""
        segments = _safe_segments(path_info)
        if segments is None:
            return None
        rel = "/".join(segments)
        disk = os.path.join(self.root, *segments)
        if not segments:
            return Target("listing", "", self.root)
        real = self._inside(disk)
        if real is not None and is_module_dir(real):
            return Target("refused" if self.refusal(real, rel) else "module_dir", rel, real)
        if rel.endswith(ARCHIVE_SUFFIX):
            if real is not None and os.path.isfile(real):
                return Target("archive_file", rel[: -len(ARCHIVE_SUFFIX)], real)
            base = self._inside(disk[: -len(ARCHIVE_SUFFIX)])
            if base is not None and is_module_dir(base):  # /acme/fruit/1.tar.gz: the packed module dir
                rel = rel[: -len(ARCHIVE_SUFFIX)]
                return Target("refused" if self.refusal(base, rel) else "archive_file", rel, base)
            return None
        packed = self._inside(disk + ARCHIVE_SUFFIX)
        if packed is not None and os.path.isfile(packed):
            return Target("module_archive", rel, packed)
        if real is not None and os.path.isdir(real) and self.list_modules(rel):
            return Target("listing", rel, real)
        return None

    # --- refusals ---------------------------------------------------------------------------------
    def refusal(self, module_dir: str, rel: str) -> str | None:
        """Why the module directory is not served (it cannot be packed as it is), or None.

        One stat() walk (as for its fingerprint). The reason is logged the first time it is seen, not
        on every request or listing.
        """
        try:
            pack.module_entries(module_dir)
        except (errors.ExportError, errors.NotAModuleError, FileNotFoundError) as e:
            self.note_refusal(module_dir, rel, str(e))
            return str(e)
        with self._locks_guard:
            self._refused.pop(module_dir, None)
        return None

    def note_refusal(self, path: str, rel: str, reason: str):
        """Log that `path` (at URL path `rel`) is not served, once per module and reason."""
        with self._locks_guard:
            if self._refused.get(path) == reason:
                return
            self._refused[path] = reason
        log.warning("hubfn serve: /%s is not served (nor listed): %s", rel, reason)

    # --- listing ----------------------------------------------------------------------------------
    def list_modules(self, under: str = "") -> list:
        """Relative paths of the modules below `under` that are served: module dirs and .tar.gz files.

        Exactly what `locate` serves: module dirs it would refuse and .tar.gz symlinks leading out of
        ROOT are left out.
        """
        top = os.path.join(self.root, *[s for s in under.split("/") if s])
        found = []
        for dirpath, dirnames, filenames in os.walk(top):  # symlinked dirs are not walked into
            rel_dir = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            if "saved_model.pb" in filenames and dirpath != self.root:
                real = self._inside(dirpath)
                if real is not None and is_module_dir(real) and not self.refusal(real, rel_dir.rstrip("/")):
                    found.append(rel_dir.rstrip("/"))
                dirnames[:] = []  # a module's variables/ and assets/ hold no modules
                continue
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.endswith(ARCHIVE_SUFFIX) and not name.startswith("."):
                    real = self._inside(os.path.join(dirpath, name))
                    if real is not None and os.path.isfile(real):
                        found.append(rel_dir + name[: -len(ARCHIVE_SUFFIX)])
        return sorted(set(found))

    # --- fingerprints and packed archives ---------------------------------------------------------
    def fingerprint(self, module_dir: str):
        """(hex digest, total bytes, newest mtime) of a module directory's files, from stat alone."""
        h = hashlib.sha1()
        total, newest = 0, 0
        for e in pack.module_entries(module_dir):
            h.update(f"{e.arcname}\0{e.size}\0{e.mtime_ns}\0{e.mode}\n".encode("utf-8", "surrogateescape"))
            total += e.size
            newest = max(newest, e.mtime_ns)
        return h.hexdigest(), total, newest / 1e9

    def archive_path(self, module_dir: str, fp: str) -> str:
        """Where the archive of this version of the module is (or will be) in the pack cache."""
        return os.path.join(self.pack_dir, f"{_dir_key(module_dir)}-{fp[:24]}{ARCHIVE_SUFFIX}")

    def _lock(self, key):
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def archive_of(self, module_dir: str):
        """(path of the packed archive, fingerprint, module mtime), packing it first if needed.

        Packing is done once per module version: concurrent requests wait on one lock per module (a
        file lock too, for several server processes sharing the cache) and then find the archive there.
        """
        key = _dir_key(module_dir)
        os.makedirs(self.pack_dir, mode=0o700, exist_ok=True)  # under a shared /tmp: ours alone
        for _ in range(3):
            fp, _total, mtime = self.fingerprint(module_dir)
            archive = self.archive_path(module_dir, fp)
            if os.path.isfile(archive):
                return archive, fp, mtime
            with self._lock(key), FileLock(os.path.join(self.pack_dir, key + ".lock")):
                if not os.path.isfile(archive):
                    tmp = archive + ".partial"  # renamed to `archive` only if the module held still
                    pack.pack_module(module_dir, tmp)
                    if self.fingerprint(module_dir)[0] != fp:
                        fs.unlink_if_present(tmp)
                        continue  # changed while packing: start over with the new version
                    os.replace(tmp, archive)
                    self._drop_old(key, archive)
            return archive, fp, mtime
        raise errors.ExportError(
            f"Module {module_dir!r} kept changing while it was packed; try again once it is written."
        )

    def _drop_old(self, key, keep):
        for name in os.listdir(self.pack_dir):
            path = os.path.join(self.pack_dir, name)
            if name.startswith(key + "-") and name.endswith(ARCHIVE_SUFFIX) and path != keep:
                fs.unlink_if_present(path)  # a download still reading it keeps its open file
