"""What a body's first bytes are: a gzip stream, a tar archive, or (for messages) an HTML page, JSON, XML,
text. The archive reader (hubfn.fetch.store.archive) judges a body by them, and the download
(hubfn.fetch.transport.ranged) refuses a web page with them before any byte is cached.
"""

from .tarblock import BLOCK, checksum_ok


def looks_like(data: bytes):
    """'gzip', 'tar', or a description of what the bytes are instead ('an HTML page', ...)."""
    if data[:2] == b"\x1f\x8b" or data == b"\x1f":
        return "gzip"  # (a lone first byte: a truncated gzip, reported as such by the decoder)
    if not data:
        return "an empty body"
    if len(data) >= BLOCK and (data[257:262] == b"ustar" or checksum_ok(data[:BLOCK])):
        return "tar"
    head = data[:1024].lstrip()
    low = head[:256].lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low:
        return "an HTML page"
    if head[:1] in (b"{", b"["):
        return "JSON"
    if head[:1] == b"<":
        return "XML"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if head and printable >= 0.95 * len(head[:512]):
        return "text"
    return "not a gzip or tar archive"


def quote_start(data):
    text = " ".join(data[:300].decode("utf-8", "replace").split())
    return repr(text[:160] + ("…" if len(text) > 160 else ""))
