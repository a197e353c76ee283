"""The hubfn demo: export a module, `hubfn serve` it on 127.0.0.1, load it by URL (download + cache), apply it.

Everything it writes (the module, the server's packed archive, the download cache) lives in one
temporary directory, removed at the end.
"""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np

import hubfn
from hubfn import examples


def start_server(root, pack_dir):
    """`hubfn serve ROOT` as a child process; returns (process, base URL) once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubfn", "serve", root, "--host", "127.0.0.1", "--port", "0",
         "--pack-dir", pack_dir],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # "hubfn: serving ROOT at http://127.0.0.1:PORT/"
    match = re.search(r"https?://\S+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"hubfn serve did not start: {line!r}")
    return proc, match.group(0).rstrip("/")


def main():
    with tempfile.TemporaryDirectory(prefix="hubfn-demo-") as work:
        os.environ["TFHUB_CACHE_DIR"] = os.path.join(work, "cache")  # keep the demo's download to itself
        root = os.path.join(work, "modules")
        module_dir = examples.fruit_module(os.path.join(root, "acme", "fruit", "1"))
        print(f"1. exported a module to {module_dir}")

        server, base = start_server(root, os.path.join(work, "packs"))
        try:
            url = base + "/acme/fruit/1"
            print(f"2. `hubfn serve` serves it at {url}  (archive: {url}?tf-hub-format=compressed)")

            m = hubfn.hub_load(url)
            print(f"3. loaded it by URL:\n{m}")
            print(f"   cache entry: {m.path}")
            print(f"   cache dir holds: {sorted(os.listdir(os.environ['TFHUB_CACHE_DIR']))}")

            x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
            print("4. default signature on", x.tolist(), "->", m(x).numpy().tolist())
            pets = m({"apples": [1.0, 2.0], "oranges": [3.0, 4.0]}, signature="fruit_to_pet", as_dict=True)
            print("   fruit_to_pet(apples=[1, 2], oranges=[3, 4]) -> cats =", pets["cats"].numpy().tolist(),
                  " dogs =", pets["dogs"].numpy().tolist())
            assert hubfn.hub_load(url).path == m.path  # from the cache: no second download
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
