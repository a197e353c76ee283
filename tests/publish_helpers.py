"""Helpers shared by the test_publish*.py files: a served tree of modules and raw HTTP requests."""

import http.client
import os
import shutil
import socket



def build_root(base, fruit_dir, tf1_dir):
    """ROOT with a module dir, a TF1 module dir, a packed .tar.gz and a symlink to /etc.

        acme/fruit/1/          the fruit module (+ README.md)
        acme/fruit/2.tar.gz    the fruit module, packed
        acme/tf1/1/            the TF1 hub-format module
        etc -> /etc            must never be followed
    """
    from hubfn.publish.pack import pack_module

    root = base / "root"
    shutil.copytree(fruit_dir, root / "acme" / "fruit" / "1")
    (root / "acme" / "fruit" / "1" / "README.md").write_text("# Fruit\n\nApples <and> oranges.\n")
    pack_module(fruit_dir, root / "acme" / "fruit" / "2.tar.gz")
    shutil.copytree(tf1_dir, root / "acme" / "tf1" / "1")
    os.symlink("/etc", root / "etc")
    return root


def raw_get(url, path, method="GET", headers=None):
    """(status, headers, body) for `path` sent exactly as given: http.client does not normalise it."""
    parts = http.client.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def socket_get(url, path):
    """The raw status line and body for a request line written byte for byte on a socket."""
    parts = http.client.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), body
