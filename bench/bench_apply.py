"""module_apply's overhead per call against calling the module's concrete signature function directly.

Run: .venv/bin/python bench/bench_apply.py [--calls N]
Both paths run in the same process on the same module and inputs; the ratio is what hubfn's input
checking, conversion and output picking cost on top of TensorFlow's own call.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import hubfn  # noqa: E402
from hubfn import examples  # noqa: E402


def per_call(fn, calls):
    for _ in range(min(200, calls)):
        fn()
    best = float("inf")
    for _ in range(5):  # best of 5 rounds: the least disturbed by the rest of the machine
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    path = examples.fruit_module(os.path.join(tempfile.mkdtemp(), "fruit"))
    m = hubfn.hub_load(path)
    x_np = np.ones((8, 2), np.float32)
    x_tf = tf.constant(x_np)
    sig = m.obj.signatures["default"]
    pet = m.obj.signatures["fruit_to_pet"]
    a = tf.constant(np.ones(8, np.float32))

    rows = [
        ("default, numpy input", lambda: m(x_np), lambda: sig(x=tf.constant(x_np))["default"]),
        ("default, tensor input", lambda: m(x_tf), lambda: sig(x=x_tf)["default"]),
        ("fruit_to_pet, dict", lambda: m({"apples": a, "oranges": a}, signature="fruit_to_pet", as_dict=True),
         lambda: pet(apples=a, oranges=a)),
    ]
    print(f"{'case':24} {'hubfn us':>10} {'direct us':>10} {'ratio':>7}")
    for name, ours, direct in rows:
        t_ours, t_direct = per_call(ours, args.calls), per_call(direct, args.calls)
        print(f"{name:24} {t_ours * 1e6:10.1f} {t_direct * 1e6:10.1f} {t_ours / t_direct:7.2f}")


if __name__ == "__main__":
    main()
