"""The hubfn demo: export a module, serve it on 127.0.0.1, load it by URL (download + cache), apply it."""

import os
import tempfile

import numpy as np

import hubfn
from hubfn import examples


def main():
    work = tempfile.mkdtemp(prefix="hubfn-demo-")
    os.environ["TFHUB_CACHE_DIR"] = os.path.join(work, "cache")  # keep the demo's download to itself

    module_dir = examples.fruit_module(os.path.join(work, "modules", "acme", "fruit", "1"))
    print(f"1. exported a module to {module_dir}")

    with hubfn.serve_modules(os.path.join(work, "modules"), host="127.0.0.1", port=0,
                             pack_dir=os.path.join(work, "packs")) as server:
        url = server.url.rstrip("/") + "/acme/fruit/1"
        print(f"2. serving it at {url}  (archive: {url}?tf-hub-format=compressed)")

        m = hubfn.hub_load(url)
        print(f"3. loaded it by URL:\n{m}")
        print(f"   cache entry: {m.path}")
        print(f"   cache dir now holds: {sorted(os.listdir(os.environ['TFHUB_CACHE_DIR']))}")

        x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
        print("4. default signature on", x.tolist(), "->", m(x).numpy().tolist())
        pets = m({"apples": [1.0, 2.0], "oranges": [3.0, 4.0]}, signature="fruit_to_pet", as_dict=True)
        print("   fruit_to_pet(apples=[1, 2], oranges=[3, 4]) -> cats =", pets["cats"].numpy().tolist(),
              " dogs =", pets["dogs"].numpy().tolist())

        again = hubfn.hub_load(url)  # from the cache: no second download
        assert again.path == m.path


if __name__ == "__main__":
    main()
