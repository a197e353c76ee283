"""Helpers shared by the test_publish*.py files: a served tree of modules and raw HTTP requests."""

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys

HUBFN_EXE = os.path.join(os.path.dirname(sys.executable), "hubfn")


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


def start_process(cmd, pattern, cwd=None, timeout=60, preexec_fn=None):
    """A subprocess and the first match of `pattern` in its output, which it must print within `timeout`.

    The output goes to a file (`proc.log_path`), not a pipe: a server that logs a lot must never block
    on a pipe nobody reads, and the log can be shown when a test fails.
    """
    import tempfile
    import time

    fd, log_path = tempfile.mkstemp(prefix="hubfn-test-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=preexec_fn)
    proc.log_path = log_path
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.search(pattern, read_log(proc))
        if m:
            return proc, m
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError(f"{cmd} did not print its address: {read_log(proc)!r}")


def read_log(proc) -> str:
    with open(proc.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def start_hubfn_serve(root, pack_dir, *flags, preexec_fn=None):
    """A real `hubfn serve ROOT` subprocess on a free port and its URL; stop it with stop_process."""
    proc, m = start_process([HUBFN_EXE, "serve", str(root), "--port", "0", "--pack-dir", str(pack_dir), *flags],
                            r"(http://127\.0\.0\.1:\d+/)", preexec_fn=preexec_fn)
    return proc, m.group(1)


def stop_process(proc, timeout=15):
    """SIGTERM, then SIGKILL if it does not stop in time; returns the exit status (the log is removed;
    a non-zero status prints it, for the test report)."""
    proc.terminate()
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = proc.wait()
    if status not in (0, -15):  # -15: stopped by SIGTERM without handling it (python -m http.server)
        print(f"--- output of {proc.args[:2]} (exit {status}) ---\n{read_log(proc)[-4000:]}")
    os.unlink(proc.log_path)
    return status
