"""Issue 4, acceptance 1 and 2: real clients load modules from `hubfn serve` and from a static server.

- the tensorflow_hub package (hub.load by URL) gets the same outputs as hubfn on the local directory;
- hubfn loads by URL from `hubfn serve`, and by a direct .tar.gz URL from `python -m http.server`;
- `hubfn serve` as a real subprocess prints its URL, serves the archive and stops cleanly on SIGTERM.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import requests
from publish_helpers import build_root, start_process, stop_process

import hubfn
from hubfn.examples import tf1_forward
from hubfn.publish.pack import pack_module
from hubfn.publish.serve import serve_modules


X = np.array([[1.0, 2.0], [-3.0, 0.5]], np.float32)
APPLES = np.array([1.0, 2.0, 3.0], np.float32)
ORANGES = np.array([0.5, 0.0, -1.0], np.float32)
X3 = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)


@pytest.fixture(scope="module")
def served(tmp_path_factory, fruit_dir, tf1_dir):
    base = tmp_path_factory.mktemp("clients")
    root = build_root(base, fruit_dir, tf1_dir)
    with serve_modules(root, pack_dir=base / "packs") as server:
        yield server


def _hubfn_outputs(handle):
    m = hubfn.hub_load(handle)
    return (np.asarray(hubfn.module_apply(m, X)),
            {k: np.asarray(v) for k, v in hubfn.module_apply(m, {"apples": APPLES, "oranges": ORANGES},
                                                             signature="fruit_to_pet", as_dict=True).items()})


def test_tensorflow_hub_loads_from_hubfn_serve(served, fruit_dir, tf1_dir, cache_dir):
    import tensorflow_hub as hub

    local_default, local_pets = _hubfn_outputs(fruit_dir)
    for path in ("acme/fruit/1", "acme/fruit/2", "acme/fruit/2.tar.gz"):
        m = hub.load(served.url + path)
        np.testing.assert_allclose(m(X).numpy(), local_default)
        np.testing.assert_allclose(m.signatures["default"](x=X)["default"].numpy(), local_default)
        pets = m.signatures["fruit_to_pet"](apples=APPLES, oranges=ORANGES)
        for k in ("cats", "dogs"):
            np.testing.assert_allclose(pets[k].numpy(), local_pets[k])
    assert len([p for p in os.listdir(cache_dir) if len(p) == 40]) == 3  # one tensorflow_hub entry per URL

    tf1 = hub.load(served.url + "acme/tf1/1")  # TF1 hub format: the empty tag set
    got = tf1.signatures["default"](default=X3)["default"].numpy()
    np.testing.assert_allclose(got, tf1_forward(X3), rtol=1e-6)
    local = hubfn.module_apply(hubfn.hub_load(tf1_dir), X3)
    np.testing.assert_allclose(got, np.asarray(local), rtol=1e-6)


def test_hubfn_loads_by_url_from_hubfn_serve(served, fruit_dir, cache_dir):
    local_default, local_pets = _hubfn_outputs(fruit_dir)
    for path in ("acme/fruit/1", "acme/fruit/2"):
        default, pets = _hubfn_outputs(served.url + path)
        np.testing.assert_allclose(default, local_default)
        for k in ("cats", "dogs"):
            np.testing.assert_allclose(pets[k], local_pets[k])


def test_hubfn_loads_a_tar_gz_from_a_static_server(fruit_dir, tmp_path, cache_dir):
    site = tmp_path / "site"
    pack_module(fruit_dir, site / "fruit-1.tar.gz")
    proc, m = start_process([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site),
                             "0"], r"port (\d+)")
    try:
        url = f"http://127.0.0.1:{m.group(1)}/fruit-1.tar.gz"
        default, pets = _hubfn_outputs(url)
        local_default, local_pets = _hubfn_outputs(fruit_dir)
        np.testing.assert_allclose(default, local_default)
        np.testing.assert_allclose(pets["dogs"], local_pets["dogs"])
    finally:
        stop_process(proc)


def test_hubfn_serve_command_in_a_subprocess(fruit_dir, tf1_dir, tmp_path):
    root = build_root(tmp_path, fruit_dir, tf1_dir)
    exe = os.path.join(os.path.dirname(sys.executable), "hubfn")
    cmd = [exe, "serve", str(root), "--port", "0", "--pack-dir", str(tmp_path / "packs")]
    proc, m = start_process(cmd, r"(http://127\.0\.0\.1:\d+/)")
    try:
        url = m.group(1)
        listing = requests.get(url, headers={"Accept": "application/json"}, timeout=30).json()
        assert [x["name"] for x in listing["modules"]] == ["acme/fruit/1", "acme/fruit/2", "acme/tf1/1"]
        body = requests.get(url + "acme/fruit/1?tf-hub-format=compressed", timeout=60).content
        assert body == open(pack_module(root / "acme" / "fruit" / "1", tmp_path / "m.tar.gz"), "rb").read()
    finally:
        assert stop_process(proc) == 0  # SIGTERM is a clean stop


def test_hubfn_serve_on_a_port_in_use_is_a_clear_error(fruit_dir, tmp_path):
    import socket

    from hubfn import errors

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(errors.ServeError, match=f"127.0.0.1:{port}.*in use"):
            serve_modules(tmp_path, port=port)
        exe = os.path.join(os.path.dirname(sys.executable), "hubfn")
        out = subprocess.run([exe, "serve", str(tmp_path), "--port", str(port)], capture_output=True, text=True,
                             timeout=60)
    finally:
        taken.close()
    assert out.returncode == 1, out
    assert out.stderr.startswith("hubfn: error: Cannot serve on 127.0.0.1:") and f":{port}" in out.stderr
    assert "Traceback" not in out.stderr and "OSError" not in out.stderr
