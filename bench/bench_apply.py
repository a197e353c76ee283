"""module_apply's overhead per call against calling the module's concrete signature function directly.

Run: .venv/bin/python bench/bench_apply.py [--calls N] [--rounds R]
Both paths run in the same process on the same module and inputs, interleaved: each round times N calls
of hubfn then N direct calls, and the figures are medians over the rounds (so a burst of load from the
rest of the machine hits both sides alike). The ratio is what hubfn's input checking, conversion and
output picking cost on top of TensorFlow's own call; the target is <= 1.10.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import hubfn  # noqa: E402
from hubfn import examples  # noqa: E402


CLOCK = time.perf_counter


def timed(fn, calls):
    start = CLOCK()
    for _ in range(calls):
        fn()
    return (CLOCK() - start) / calls


def compare(ours, direct, calls, rounds):
    """(median us per call of ours, of direct, median of the per-round ratios)."""
    for _ in range(200):  # warm up: plans, traces, allocators
        ours()
        direct()
    t_ours, t_direct, ratios = [], [], []
    for _ in range(rounds):
        a, b = timed(ours, calls), timed(direct, calls)
        t_ours.append(a)
        t_direct.append(b)
        ratios.append(a / b)
    return statistics.median(t_ours) * 1e6, statistics.median(t_direct) * 1e6, statistics.median(ratios)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cpu", action="store_true",
                        help="time with the process's CPU clock instead of the wall clock (for a busy machine)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
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
    print(f"{'case':24} {'hubfn us':>10} {'direct us':>10} {'ratio':>7}   (medians of {args.rounds} rounds "
          f"x {args.calls} calls)")
    for name, ours, direct in rows:
        t_ours, t_direct, ratio = compare(ours, direct, args.calls, args.rounds)
        print(f"{name:24} {t_ours:10.1f} {t_direct:10.1f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
