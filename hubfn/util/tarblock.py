"""The 512-byte tar header block: its size, the end-of-archive block, octal fields and the header checksum.

Shared by the strict tar header parser (hubfn.fetch.store.tarheader) and by the sniffing of a body's first
bytes (hubfn.util.sniff), which tells a tar header from anything else.
"""

import re

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

_OCTAL = re.compile(rb"[0-7]+")


def octal(field):
    """The octal number in a ustar field, 0 for an empty one, None if it is not one."""
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    return int(text, 8) if _OCTAL.fullmatch(text) else None


def checksum_ok(block):
    want = octal(block[148:156])
    if want is None:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if want == unsigned:
        return True
    # Some old tar writers summed signed chars; accept that variant too.
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return want == signed
