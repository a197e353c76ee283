"""Issue 12, item 5: `hubfn serve` behind a real nginx on 127.0.0.1, with the README's config (docs/nginx.conf).

nginx sends packed archives from disk (also for `?tf-hub-format=compressed`, what TF Hub clients ask),
hubfn answers the pages through the proxy and packs module directories nginx finds no archive for.
nginx's access log (with $upstream_addr) shows which of the two answered each request. hubfn and the
tensorflow_hub package load modules through nginx and compute what they compute from the local copy.

nginx must be installed (scripts/setup.sh --r installs Debian's nginx-light): without it these tests
fail, they are never skipped.
"""

import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest
import requests
import servers
from publish_helpers import build_root, start_hubfn_serve, stop_process

import hubfn
from hubfn.publish.pack import pack_module

DOCS_CONF = os.path.join(os.path.dirname(__file__), "..", "docs", "nginx.conf")
X = np.array([[1.0, 2.0], [-3.0, 0.5]], np.float32)

WRAPPER = """\
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format hubfn_test '$request_uri $status $upstream_addr';
    access_log {prefix}/access.log hubfn_test;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/hubfn.conf;
}}
"""


def _nginx_binary():
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.fail("nginx is not installed: run `bash scripts/setup.sh --r` (installs Debian's nginx-light)")
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render(prefix, root, port, hubfn_port):
    """The documented config with its three marked lines set for this test."""
    conf = open(DOCS_CONF).read()
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{hubfn_port};"),
                     ("listen 80;", f"listen 127.0.0.1:{port};"),
                     ("root /srv/modules;", f"root {root};")):
        assert conf.count(old) == 1, f"docs/nginx.conf no longer has the line {old!r}"
        conf = conf.replace(old, new)
    with open(os.path.join(prefix, "hubfn.conf"), "w") as f:
        f.write(conf)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the test's private tmp dirs
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(WRAPPER.format(prefix=prefix, user=user))
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)


def _start_nginx(prefix, port):
    exe = _nginx_binary()
    conf = os.path.join(prefix, "nginx.conf")
    base = [exe, "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", conf]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx rejects the config: {check.stderr}"
    proc = subprocess.Popen([*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if servers.wait_for_port(proc, port, 15):
        return proc
    proc.kill()
    proc.wait()
    log = open(os.path.join(prefix, "error.log")).read() if os.path.exists(os.path.join(prefix, "error.log")) else ""
    pytest.fail(f"nginx did not start on 127.0.0.1:{port}: {log[-2000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fruit_dir, tf1_dir):
    base = tmp_path_factory.mktemp("nginx")
    root = os.path.realpath(build_root(base, fruit_dir, tf1_dir))  # no symlink on the way: disable_symlinks
    hubfn_proc, hubfn_url = start_hubfn_serve(root, base / "packs")
    hubfn_port = int(hubfn_url.rsplit(":", 1)[1].strip("/"))
    prefix = str(base / "nginx")
    os.makedirs(prefix)
    port = _free_port()
    _render(prefix, root, port, hubfn_port)
    nginx = _start_nginx(prefix, port)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "root": root, "hubfn": f"127.0.0.1:{hubfn_port}",
               "log": os.path.join(prefix, "access.log"), "base": base}
    finally:
        nginx.terminate()
        nginx.wait(15)
        assert stop_process(hubfn_proc) == 0


def _answered_by(stack, request_uri):
    """The $upstream_addr nginx logged for the last request of `request_uri` ("-": nginx itself)."""
    # nginx writes the log line after the response has left, so a fast client can read the log first.
    deadline = time.monotonic() + 10
    while True:
        with open(stack["log"]) as f:
            lines = [line.split() for line in f if line.split()[0] == request_uri]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert lines, f"nginx logged no request for {request_uri}"
    return lines[-1][2]


def test_archives_from_nginx_pages_from_hubfn(stack):
    url, root = stack["url"], stack["root"]
    packed = open(os.path.join(root, "acme", "fruit", "2.tar.gz"), "rb").read()

    r = requests.get(url + "acme/fruit/2?tf-hub-format=compressed", timeout=30)
    assert r.status_code == 200 and r.content == packed
    assert r.headers["Content-Type"] == "application/gzip" and "ETag" in r.headers
    assert _answered_by(stack, "/acme/fruit/2?tf-hub-format=compressed") == "-"  # from disk, by nginx

    r = requests.get(url + "acme/fruit/2?tf-hub-format=compressed", headers={"Range": "bytes=10-19"}, timeout=30)
    assert r.status_code == 206 and r.content == packed[10:20]  # downloads resume through nginx too

    r = requests.get(url + "acme/fruit/1?foo=1&tf-hub-format=compressed", timeout=60)  # a module directory
    expected = open(pack_module(os.path.join(root, "acme", "fruit", "1"), stack["base"] / "m.tar.gz"), "rb").read()
    assert r.status_code == 200 and r.content == expected
    assert _answered_by(stack, "/acme/fruit/1?foo=1&tf-hub-format=compressed") == stack["hubfn"]

    page = requests.get(url + "acme/fruit/2", headers={"Accept": "application/json"}, timeout=30).json()
    assert page["url"] == url + "acme/fruit/2"  # hubfn names nginx's address, not its own
    assert page["download"] == url + "acme/fruit/2?tf-hub-format=compressed"
    assert "fruit_to_pet" in str(page)
    html = requests.get(url + "acme/fruit/1", timeout=30)
    assert html.headers["Content-Type"].startswith("text/html") and url + "acme/fruit/1" in html.text
    assert _answered_by(stack, "/acme/fruit/1") == stack["hubfn"]

    for path in ("etc/passwd", "etc?tf-hub-format=compressed", ".hidden.tar.gz", "acme/../etc/passwd"):
        assert requests.get(url + path, timeout=30).status_code == 404, path


def test_hubfn_and_tensorflow_hub_load_through_nginx(stack, fruit_dir, tf1_dir, cache_dir):
    import tensorflow_hub as hub

    url = stack["url"]
    local = np.asarray(hubfn.module_apply(hubfn.hub_load(fruit_dir), X))
    for path in ("acme/fruit/2", "acme/fruit/1"):
        got = np.asarray(hubfn.module_apply(hubfn.hub_load(url + path), X))
        np.testing.assert_allclose(got, local)
        np.testing.assert_allclose(hub.load(url + path)(X).numpy(), local)
    assert _answered_by(stack, "/acme/fruit/2?tf-hub-format=compressed") == "-"

    tf1 = hub.load(url + "acme/tf1/1")  # TF1 hub format, packed by hubfn behind nginx
    x3 = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(tf1.signatures["default"](default=x3)["default"].numpy(),
                               np.asarray(hubfn.module_apply(hubfn.hub_load(tf1_dir), x3)), rtol=1e-6)
