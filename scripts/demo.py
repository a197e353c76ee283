"""The hubfn demo: export a module, load it, apply two of its signatures, print the results."""

import os
import tempfile

import numpy as np

import hubfn
from hubfn import examples


def main():
    work = tempfile.mkdtemp(prefix="hubfn-demo-")
    module_dir = examples.fruit_module(os.path.join(work, "fruit", "1"))
    print(f"exported a module to {module_dir}")

    m = hubfn.hub_load(module_dir)
    print(m)

    x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    y = m(x)
    print("default signature:", y.numpy().tolist())

    pets = m({"apples": [1.0, 2.0], "oranges": [3.0, 4.0]}, signature="fruit_to_pet", as_dict=True)
    print("fruit_to_pet: cats =", pets["cats"].numpy().tolist(), " dogs =", pets["dogs"].numpy().tolist())


if __name__ == "__main__":
    main()
