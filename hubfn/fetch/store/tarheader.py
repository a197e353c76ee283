"""Tar headers, parsed strictly: every numeric field and every name is checked before it is used.

A module archive comes from the network, so its headers are untrusted input. The rules, from POSIX
ustar/pax and GNU tar's documented format:
  - numeric fields are octal digits (leading blanks, then NUL or blank to end the field), or GNU
    base-256 (first byte 0x80; 0xff marks a negative number, which no field of a file may hold);
    Python's int() is not used on raw fields: it also takes "-1", "+7", "0o17" and "1_0";
  - pax records are "<decimal length> <key>=<value>\\n", the length counting the whole record; a length
    that does not move forward, overruns the header or misses its newline is damage, not a loop;
  - pax `size`, `uid`, `gid` are decimal digits, `mtime` (and atime, ctime) decimal with an optional
    fraction; GNU sparse files are refused (their data is not the file);
  - names (ustar name+prefix, GNU long names, pax path/linkpath) must be UTF-8, hold no NUL, be at most
    PATH_MAX bytes with components of at most NAME_MAX bytes.
Anything else is an ArchiveError naming the member, so a damaged archive costs one pass over its bytes.
"""

import re

import attrs

from ... import errors
from ...util.tarblock import BLOCK, ZERO_BLOCK, checksum_ok, octal

MAX_META = 1 << 20  # pax / GNU long-name headers larger than this are not real module archives
PATH_MAX, NAME_MAX = 4096, 255
# Member type flags (ustar typeflag), as hubfn.fetch.store.extract tells them apart.
REGULAR, HARDLINK, SYMLINK, CHARDEV, BLOCKDEV, DIRECTORY, FIFO = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
META_TYPES = (b"x", b"g", b"L", b"K")

_DECIMAL = re.compile(rb"[0-9]{1,20}")
_TIME = re.compile(rb"-?[0-9]{1,20}(\.[0-9]{1,20})?")
# (offset, length) of the numeric ustar fields we check; all but size and mode are read only to check them.
NUMERIC = {"mode": (100, 8), "uid": (108, 8), "gid": (116, 8), "size": (124, 12), "mtime": (136, 12),
           "devmajor": (329, 8), "devminor": (337, 8)}


@attrs.frozen
class Member:
    name: str
    type: bytes
    size: int
    mode: int
    linkname: str


def number(field, what, member, url):
    """A numeric header field (octal or GNU base-256), or an ArchiveError naming the member."""
    if field[:1] and field[0] & 0x80:
        if field[0] == 0xFF:
            raise _bad(url, member, f"its {what} field is a negative base-256 number")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    value = octal(field)
    if value is None:
        shown = field.split(b"\0", 1)[0]
        raise _bad(url, member, f"its {what} field {shown!r} is not an octal number")
    return value


def name(raw, what, member, url):
    """A member name as text: UTF-8, no NUL, not overlong."""
    if b"\0" in raw:
        raise _bad(url, member, f"its {what} holds a NUL byte")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(url, member, f"its {what} is not UTF-8") from None
    if len(raw) > PATH_MAX or any(len(part.encode()) > NAME_MAX for part in text.split("/")):
        raise _bad(url, member, f"its {what} is overlong (more than {PATH_MAX} bytes, or a part over "
                                f"{NAME_MAX})")
    return text


def pax_records(data, member, url):
    """The records of a pax header as {key: value bytes}; damage is an ArchiveError, never a loop."""
    out, pos = {}, 0
    while pos < len(data):
        if not data[pos:].strip(b"\0"):
            break  # NUL padding after the last record
        sp = data.find(b" ", pos, pos + 21)
        digits = data[pos:sp] if sp > pos else b""
        if not _DECIMAL.fullmatch(digits):
            raise _bad(url, member, f"a pax record at byte {pos} has no length")
        end = pos + int(digits)
        if end <= sp + 1 or end > len(data) or data[end - 1:end] != b"\n":
            raise _bad(url, member, f"a pax record at byte {pos} has a wrong length {digits.decode()}")
        key, eq, value = data[sp + 1:end - 1].partition(b"=")
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            key = ""
        if not eq or not key:
            raise _bad(url, member, f"a pax record at byte {pos} is not key=value")
        out[key] = value
        pos = end
    return out


def apply_pax(records, into, member, url):
    """Check the pax records we act on and merge them into `into` (an empty value removes a key)."""
    for key, value in records.items():
        if key.startswith("GNU.sparse."):
            raise _bad(url, member, "it is a GNU sparse file, which hubfn does not extract")
        if not value:
            into.pop(key, None)
        elif key in ("path", "linkpath"):
            into[key] = name(value, f"pax {key}", member, url)
        elif key in ("size", "uid", "gid"):
            if not _DECIMAL.fullmatch(value):
                raise _bad(url, member, f"its pax {key} {value[:40]!r} is not a decimal number")
            into[key] = int(value)
        elif key in ("mtime", "atime", "ctime"):
            if not _TIME.fullmatch(value):
                raise _bad(url, member, f"its pax {key} {value[:40]!r} is not a time")


def members(stream, url):
    """Tar members in order; stops after the end-of-archive marker, raising if it never comes.

    `stream` is an archive.Stream: read(n, what) returns exactly n bytes or raises "truncated".
    """
    globals_, overrides = {}, {}
    while True:
        block = stream.read(BLOCK, "a tar header")
        if block == ZERO_BLOCK:
            # The end marker is two zero blocks; one alone is what a cut archive can look like.
            if stream.read(BLOCK, "the tar end marker (two zero blocks)") != ZERO_BLOCK:
                raise errors.ArchiveError(f"Module URL {url}: a lone zero block inside the tar "
                                          "archive (its end marker is two); the archive is damaged.")
            return
        if not checksum_ok(block):
            raise errors.ArchiveError(f"Module URL {url}: a tar header is damaged (bad checksum).")
        posix = block[257:263] == b"ustar\0"  # GNU's "ustar  \0" keeps other data where POSIX has prefix
        raw_name = block[0:100].split(b"\0", 1)[0]
        if posix and block[345:500].strip(b"\0"):
            raw_name = block[345:500].split(b"\0", 1)[0] + b"/" + raw_name
        member = overrides.get("path") or raw_name.decode("utf-8", "replace")  # for messages only
        fields = {k: number(block[o:o + n], k, member, url) for k, (o, n) in NUMERIC.items()}
        type_ = block[156:157]
        if type_ in META_TYPES:
            size = fields["size"]
            if size > MAX_META:
                raise _bad(url, member, f"a tar metadata header of {size} bytes")
            data = stream.read(size, "a tar header")
            stream.skip(-size % BLOCK, "a tar header")
            if type_ in (b"x", b"g"):
                apply_pax(pax_records(data, member, url), overrides if type_ == b"x" else globals_,
                          member, url)
            else:
                key = "path" if type_ == b"L" else "linkpath"
                overrides[key] = name(data.rstrip(b"\0"), f"GNU long {key}", member, url)
            continue
        info = {**globals_, **overrides}
        overrides = {}
        path = info.get("path") or name(raw_name, "name", member, url)
        linkname = info.get("linkpath") or name(block[157:257].split(b"\0", 1)[0], "link name", member, url)
        if type_ in (b"\0", b""):
            type_ = REGULAR
        if type_ == REGULAR and path.endswith("/"):
            type_ = DIRECTORY  # old (v7) tar writers mark directories only by the trailing slash
        yield Member(name=path, type=type_, size=info.get("size", fields["size"]), mode=fields["mode"],
                     linkname=linkname)


def _bad(url, member, problem):
    shown = member if len(member) <= 120 else member[:120] + "…"
    return errors.ArchiveError(f"Module URL {url}: tar member {shown!r} is damaged: {problem}. "
                               "The archive cannot be used; check it with `tar -tvzf`.")
