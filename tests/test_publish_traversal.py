"""Issue 4, acceptance 5: no request path leaves ROOT or reaches a file that is not a module.

Paths are sent raw (http.client's putrequest, or bytes on a socket) so no client normalises them first.
"""

import os
import shutil

import pytest
from publish_helpers import build_root, raw_get, socket_get

from hubfn.publish.serve import serve_modules

ATTACKS = [
    "/../etc/passwd", "/../../../../etc/passwd", "/acme/../../etc/passwd", "/acme/fruit/1/../../../../etc/passwd",
    "/%2e%2e/etc/passwd", "/%2E%2E/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/..%2f..%2fetc%2fpasswd",
    "/.%2e/etc/passwd", "/%252e%252e/etc/passwd", "//etc/passwd", "///etc/passwd", "/etc/passwd", "/etc/",
    "/etc", "/etc/passwd.tar.gz", "/outside", "/outside?tf-hub-format=compressed", "/outside.tar.gz",
    "/..\\..\\etc\\passwd", "/acme/fruit/1/saved_model.pb", "/acme/fruit/1/variables/variables.index",
    "/acme/fruit/1/README.md", "/acme/fruit/1/variables", "/.hidden", "/.hidden/1", "/.hidden/1.tar.gz",
    "/acme/leaky/1?tf-hub-format=compressed", "/acme/leaky/1.tar.gz", "/%00/etc/passwd", "/acme/%2e/fruit/1/../1",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory, fruit_dir, tf1_dir):
    base = tmp_path_factory.mktemp("traversal")
    root = build_root(base, fruit_dir, tf1_dir)
    os.symlink(fruit_dir, root / "outside")  # a module, but outside ROOT
    shutil.copytree(fruit_dir, root / ".hidden" / "1")
    leaky = root / "acme" / "leaky" / "1"
    shutil.copytree(fruit_dir, leaky)
    os.symlink("/etc/passwd", leaky / "passwd")  # a module dir with a link out: never packed
    with serve_modules(root, pack_dir=base / "packs") as server:
        yield server


@pytest.mark.parametrize("path", ATTACKS)
@pytest.mark.parametrize("query", ["", "?tf-hub-format=compressed"])
def test_traversal_is_404(served, path, query):
    full = path + (query if "?" not in path else "")
    for method in ("GET", "HEAD"):
        status, _, body = raw_get(served.url, full, method=method)
        assert status == 404, (method, full, status)
        assert b"root:" not in body and b"passwd" not in body and b"/tmp" not in body  # no paths leak
    line, body = socket_get(served.url, full)
    assert " 404 " in line, (full, line)
    assert b"root:" not in body and b"\x1f\x8b" not in body[:2]


def test_the_same_server_serves_the_real_module(served):
    """The 404s above are not because nothing is served at all."""
    status, headers, body = raw_get(served.url, "/acme/fruit/1?tf-hub-format=compressed")
    assert status == 200 and body[:2] == b"\x1f\x8b" and int(headers["Content-Length"]) == len(body)
    status, _, _ = raw_get(served.url, "/acme/fruit/1/")
    assert status == 200
