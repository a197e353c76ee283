"""Many real processes on one cold URL, and a loader killed with SIGKILL mid-download (acceptance 3, 4).

The loaders call only `hubfn.hub_resolve` (the download), never TensorFlow: each starts in a fraction
of a second.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

import servers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADER = r"""
import logging, os, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
import hubfn
print("ready", flush=True)
go = sys.argv[2]
while go != "-" and not os.path.exists(go):
    time.sleep(0.002)
path = hubfn.hub_resolve(sys.argv[1])
print(path, repr(time.time()), flush=True)
"""


@pytest.fixture
def env(cache_dir):
    e = dict(os.environ, TFHUB_CACHE_DIR=str(cache_dir), NO_PROXY="127.0.0.1", HUBFN_BACKOFF="0.05",
             PYTHONPATH=ROOT)
    e.pop("TFHUB_DOWNLOAD_PROGRESS", None)
    return e


def start_loader(url, env, go="-"):
    return subprocess.Popen([sys.executable, "-c", LOADER, url, str(go)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def padded_tgz(fruit_dir):
    return servers.targz(fruit_dir, extra={"assets/noise.bin": os.urandom(3 << 20)})


def test_eight_processes_one_download(server, padded_tgz, env, cache_dir, tmp_path):
    """Acceptance 3: one archive GET; all 8 get the module; none finishes > 1 s after the download."""
    url = server.add("/procs/fruit/1", body=padded_tgz, smart=True, rate=3e6)  # about 1.2 s to send
    go = tmp_path / "go"
    procs = [start_loader(url, env, go) for _ in range(8)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        path, finished = out.split()
        results.append((path, float(finished)))
    (get,) = server.gets("/procs/fruit/1")
    assert get.sent_all_at is not None
    paths = {path for path, _ in results}
    assert len(paths) == 1 and os.path.isfile(os.path.join(paths.pop(), "assets", "noise.bin"))
    lags = sorted(finished - get.sent_all_at for _, finished in results)
    print("finish lags after the last byte (s):", [round(x, 3) for x in lags])
    assert lags[0] > -0.5, "nobody can finish before the last byte is sent"
    assert lags[-1] < 1.0, f"finish times after the download: {lags}"


def wait_for_partial(partial, at_least, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(partial) and os.path.getsize(partial) >= at_least:
            return os.path.getsize(partial)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("the download never got going")


def test_kill_9_mid_download_next_loader_resumes(server, padded_tgz, env, cache_dir):
    """Acceptance 4: the lock of a killed loader holds nobody up; the next one resumes with Range."""
    from hubfn.fetch.store.layout import Paths

    url = server.add("/procs/killed.tar.gz", body=padded_tgz, rate=2e6)
    paths = Paths.for_handle(url, root=str(cache_dir))
    first = start_loader(url, env)
    wait_for_partial(paths.partial, 1 << 20, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert os.path.exists(paths.lock) and paths.tmp_dirs(), "the killed loader left its lock and temp dir"
    kept = os.path.getsize(paths.partial)

    second = start_loader(url, env)
    out, err = second.communicate(timeout=60)  # a lock honoured after death would hang here
    assert second.returncode == 0, err
    assert "Waiting for another process" not in err, "the dead loader's lock made us wait"
    assert f"Resuming {url} at byte {kept}" in err
    resumed = server.gets("/procs/killed.tar.gz")[-1]
    assert resumed.headers["Range"] == f"bytes={kept}-" and resumed.headers["If-Range"].startswith('"')
    path = out.split()[1]  # after "ready"
    assert os.path.getsize(os.path.join(path, "assets", "noise.bin")) == 3 << 20
    assert paths.tmp_dirs() == [] and not os.path.exists(paths.partial)


def test_killed_leader_is_replaced_by_a_waiting_process(server, padded_tgz, env, cache_dir):
    """Three loaders; the one downloading is killed; another takes over from its bytes; all succeed."""
    from hubfn.fetch.store.layout import Paths

    url = server.add("/procs/relay.tar.gz", body=padded_tgz, rate=2e6)
    paths = Paths.for_handle(url, root=str(cache_dir))
    procs = [start_loader(url, env) for _ in range(3)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while not (os.path.exists(paths.partial) and os.path.getsize(paths.partial) > 1 << 20):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    victim = _downloader(procs, paths.partial)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    gets_before = len(server.gets("/procs/relay.tar.gz"))
    for p in procs:
        if p is victim:
            continue
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert os.path.isfile(os.path.join(out.split()[0], "assets", "noise.bin"))
    gets = server.gets("/procs/relay.tar.gz")
    assert gets_before == 1 and len(gets) == 2 and gets[1].headers["Range"].startswith("bytes=")


def _downloader(procs, partial):
    """The process holding the partial file open for writing (from /proc: no guessing)."""
    for p in procs:
        fd_dir = f"/proc/{p.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == partial:
                    return p
            except OSError:
                pass
    raise AssertionError("no process has the partial file open")


def test_progress_bar_only_when_asked(server, padded_tgz, env, cache_dir):
    url = server.add("/procs/progress.tar.gz", body=padded_tgz)
    quiet = start_loader(url, env)
    _, err = quiet.communicate(timeout=60)
    assert quiet.returncode == 0 and "%|" not in err and "Downloaded " in err  # one log line
    loud = start_loader(url.replace("progress", "progress2"), dict(env, TFHUB_DOWNLOAD_PROGRESS="1"))
    server.add("/procs/progress2.tar.gz", body=padded_tgz)
    _, err = loud.communicate(timeout=60)
    assert loud.returncode == 0 and "Downloading progress2.tar.gz" in err and "%|" in err


def test_the_fetch_layer_does_not_import_tensorflow(env):
    code = ("import sys, hubfn, hubfn.resolve, hubfn.fetch.cache, hubfn.fetch.cli\n"
            "hubfn.hub_resolve; hubfn.cache_list()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
