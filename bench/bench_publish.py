"""Publishing a large module: pack_module against `tar -czf`, and `hubfn serve` against a static server.

Run: .venv/bin/python bench/bench_publish.py [--mb 200] [--clients 32] [--no-install]

1. Pack: a module with --mb MB of random float32 weights (a real SavedModel, exported with TensorFlow),
   packed by pack_module and by `tar -czf` (gzip -6, the usual way), both from a warm page cache.
   Targets: time <= 0.15 of tar's, size <= 1.01 of tar's.
2. Serve: --clients parallel downloads of the packed module (curl, discarding the body) from
   `hubfn serve` (a real subprocess, archive already packed) and of the same .tar.gz file from a static
   server: nginx from Debian (installed with apt-get unless --no-install), else `python -m http.server`.
   Aggregate throughput of each and their ratio are printed, with the hubfn server's peak RSS (memory
   must stay bounded however many clients there are).
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

from hubfn.publish.pack import pack_module  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HUBFN = os.path.join(os.path.dirname(sys.executable), "hubfn")


def export_big_module(path, mb):
    """A SavedModel whose one variable holds `mb` MB of standard-normal float32 weights."""
    import tensorflow as tf

    from hubfn import export_savedmodel

    cols = 1000
    rows = mb * (1 << 20) // 4 // cols
    w = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)

    class Big(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(w, name="w")

        @tf.function(input_signature=[tf.TensorSpec([None, rows], tf.float32, name="x")])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    return export_savedmodel(Big(), path)


def warm(path):
    for dirpath, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(8 << 20):
                    pass


def best_time(fn, runs):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_pack(module, work):
    warm(module)
    tar_out, ours = os.path.join(work, "tar.tar.gz"), os.path.join(work, "hubfn.tar.gz")
    t_tar = best_time(lambda: subprocess.run(["tar", "-czf", tar_out, "-C", module, "."], check=True), 2)
    t_ours = best_time(lambda: pack_module(module, ours), 3)
    s_tar, s_ours = os.path.getsize(tar_out), os.path.getsize(ours)
    print(f"pack   tar -czf:     {t_tar:7.2f} s  {s_tar / 1e6:8.1f} MB")
    print(f"pack   pack_module:  {t_ours:7.2f} s  {s_ours / 1e6:8.1f} MB")
    print(f"pack   time ratio {t_ours / t_tar:.3f} (target <= 0.15: {'ok' if t_ours / t_tar <= 0.15 else 'MISSED'}), "
          f"size ratio {s_ours / s_tar:.4f} (target <= 1.01: {'ok' if s_ours / s_tar <= 1.01 else 'MISSED'})")
    return ours


def wait_for_line(proc, pattern, what):
    import threading

    for line in proc.stdout:
        m = re.search(pattern, line)
        if m:  # keep draining its output, so a chatty server never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return m
    raise SystemExit(f"{what} exited before it was ready (exit code {proc.wait()})")


def start_hubfn(root, packs):
    proc = subprocess.Popen([HUBFN, "serve", root, "--port", "0", "--pack-dir", packs],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, wait_for_line(proc, r"(http://127\.0\.0\.1:\d+/)", "hubfn serve").group(1)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def have_nginx(install):
    if shutil.which("nginx") is None and install:
        print("installing nginx-light with apt-get ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    return shutil.which("nginx") is not None


def start_static(site, work, install):
    """nginx (sendfile, the usual static server) if available, else python -m http.server."""
    port = free_port()
    if have_nginx(install):
        conf_dir = os.path.join(work, "nginx")
        os.makedirs(conf_dir, exist_ok=True)
        temp = {k: os.path.join(conf_dir, k) for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        conf = os.path.join(conf_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off; worker_processes auto; pid {conf_dir}/nginx.pid; error_log stderr warn;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path {temp['body']}; proxy_temp_path {temp['proxy']}; fastcgi_temp_path {temp['fastcgi']};
  uwsgi_temp_path {temp['uwsgi']}; scgi_temp_path {temp['scgi']};
  server {{ listen 127.0.0.1:{port}; root {site}; }} }}
""")
        proc = subprocess.Popen(["nginx", "-c", conf, "-p", conf_dir], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        name = "nginx " + subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    else:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", site,
                                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        name = "python -m http.server"
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):  # wait until it accepts connections
        if subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False).returncode == 0:
            return proc, url, name
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"{name} did not start")


def parallel_downloads(url, clients, expected_size):
    """Wall time for `clients` simultaneous curl downloads of `url`; every one must be whole."""
    def one(_):
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
                             capture_output=True, text=True, check=True).stdout.split()
        return int(out[0]), int(out[1])

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(clients)))
    wall = time.perf_counter() - start
    bad = [r for r in results if r != (200, expected_size)]
    if bad:
        raise SystemExit(f"{len(bad)} of {clients} downloads from {url} were not whole: {bad[:3]}")
    return wall


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_serve(root, archive, work, clients, install):
    size = os.path.getsize(archive)
    hubfn_proc, hubfn_url = start_hubfn(root, os.path.join(work, "packs"))
    try:
        mod_url = hubfn_url + "bench/1?tf-hub-format=compressed"
        first = best_time(lambda: parallel_downloads(mod_url, 1, size), 1)  # packs once, then cached
        print(f"serve  first download (packs the module): {first:.2f} s")
        rss_before = peak_rss_mb(hubfn_proc.pid)
        t_hubfn = parallel_downloads(mod_url, clients, size)
        rss_after = peak_rss_mb(hubfn_proc.pid)
    finally:
        stop(hubfn_proc)
    site = os.path.join(work, "site")
    os.makedirs(site)
    os.chmod(work, 0o755)  # nginx workers run as an unprivileged user; mkdtemp made the dir 0700
    shutil.copy(archive, os.path.join(site, "bench.tar.gz"))
    static_proc, static_url, static_name = start_static(site, work, install)
    try:
        parallel_downloads(static_url + "bench.tar.gz", 1, size)  # warm
        t_static = parallel_downloads(static_url + "bench.tar.gz", clients, size)
    finally:
        stop(static_proc)
    total = clients * size
    print(f"serve  {clients} x {size / 1e6:.1f} MB from hubfn serve (waitress): {t_hubfn:6.2f} s  "
          f"{total / t_hubfn / 1e6:8.1f} MB/s  (peak RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after)")
    print(f"serve  {clients} x {size / 1e6:.1f} MB from {static_name}: {t_static:6.2f} s  "
          f"{total / t_static / 1e6:8.1f} MB/s")
    print(f"serve  throughput ratio hubfn / {static_name}: {t_static / t_hubfn:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="weights of the module, in MB")
    parser.add_argument("--clients", type=int, default=32, help="parallel downloads")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install nginx-light")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hubfn-bench-publish-")
    try:
        root = os.path.join(work, "root")
        module = export_big_module(os.path.join(root, "bench", "1"), args.mb)  # served at /bench/1
        print(f"module {args.mb} MB of random float32 weights at {module} ({os.cpu_count()} CPUs)", flush=True)
        archive = bench_pack(module, work)
        bench_serve(root, archive, work, args.clients, not args.no_install)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
