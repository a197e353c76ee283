"""Slow-loris: how long a real download waits while other clients hold connections open doing nothing.

Run: .venv/bin/python bench/bench_serve_slowloris.py [--held 200 400 1000] [--mb 20] [--give-up 30]

For each number of held connections (half of them silent, half with half a request sent), against
- `hubfn serve` with its defaults (a real subprocess), and
- the same WSGI app on waitress with waitress' own defaults (100 connections, 120 s idle timeout), the peer,
the connections are opened, then one client downloads a --mb MB archive with requests on a new
connection. The time it waits (or "gave up" after --give-up seconds) is printed side by side, with the
ratio. No TensorFlow: the archive is random bytes in a .tar.gz file, served as is.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import servers  # noqa: E402  (the tests' server helpers)

HUBFN = os.path.join(os.path.dirname(sys.executable), "hubfn")
PEER = "import sys, waitress; from hubfn.publish.serve import make_app; print('listening', flush=True); " \
       "waitress.serve(make_app(sys.argv[1], pack_dir=sys.argv[2]), host='127.0.0.1', port=int(sys.argv[3]))"
HALF = b"GET /m/1.tar.gz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, port, log):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    if servers.wait_for_port(proc, port, 30):
        return proc
    proc.kill()
    raise SystemExit(f"{cmd[0]} did not start; see {log.name}")


def hold(port, count):
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 2:
            s.sendall(HALF)
        socks.append(s)
    return socks


def timed_download(port, size, give_up):
    t0 = time.monotonic()
    try:
        body = requests.get(f"http://127.0.0.1:{port}/m/1.tar.gz", timeout=(give_up, give_up)).content
    except requests.RequestException:
        return None
    assert len(body) == size, (len(body), size)
    return time.monotonic() - t0


def run(kind, root, work, held, size, give_up):
    port = free_port()
    if kind == "hubfn":
        cmd = [HUBFN, "serve", root, "--port", str(port), "--pack-dir", os.path.join(work, "packs")]
    else:
        cmd = [sys.executable, "-c", PEER, root, os.path.join(work, "packs"), str(port)]
    with open(os.path.join(work, f"{kind}-{held}.log"), "w") as log:
        proc = start(cmd, port, log)
        socks = []
        try:
            socks = hold(port, held)
            time.sleep(0.5)  # let the server accept what it will
            return timed_download(port, size, give_up)
        finally:
            for s in socks:
                s.close()
            proc.terminate()
            proc.wait(15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held", type=int, nargs="+", default=[200, 400, 1000], help="connections held open")
    parser.add_argument("--mb", type=int, default=20, help="size of the archive downloaded, in MB")
    parser.add_argument("--give-up", type=float, default=30.0, help="seconds the client waits at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubfn-bench-loris-") as work:
        root = os.path.join(work, "root")
        os.makedirs(os.path.join(root, "m"))
        size = args.mb << 20
        with open(os.path.join(root, "m", "1.tar.gz"), "wb") as f:
            f.write(os.urandom(size))
        print(f"{'held':>6}  {'hubfn serve':>12}  {'waitress defaults':>18}  ratio")
        for held in args.held:
            ours = run("hubfn", root, work, held, size, args.give_up)
            peer = run("peer", root, work, held, size, args.give_up)
            show = [f"{t:.2f} s" if t is not None else f"> {args.give_up:.0f} s" for t in (ours, peer)]
            ratio = (f"{(peer or args.give_up) / ours:.0f}x" + ("+" if peer is None else "")) if ours else "-"
            print(f"{held:>6}  {show[0]:>12}  {show[1]:>18}  {ratio}", flush=True)


if __name__ == "__main__":
    main()
