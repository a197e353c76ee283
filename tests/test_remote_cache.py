"""The cache: shared with tensorflow_hub, self-healing, offline mode, management API and command."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

import hubfn
from hubfn import errors, examples
from hubfn.fetch import manage
from hubfn.cli import main


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "COMPRESSED")


def check_fruit(handle):
    x = np.array([[2.0, -1.0]], np.float32)
    out = hubfn.module_apply(hubfn.hub_load(handle), x)
    np.testing.assert_allclose(np.asarray(out), x @ examples.FRUIT_W + examples.FRUIT_B, rtol=1e-6)


def test_layout_is_tensorflow_hubs(server, fruit_tgz, cache_dir):
    url = server.add("/layout/fruit/1", body=fruit_tgz, smart=True)
    path = hubfn.hub_resolve(url)
    key = hashlib.sha1(url.encode("utf-8")).hexdigest()
    assert path == str(cache_dir / key) and hubfn.cache_dir() == str(cache_dir)
    descriptor = (cache_dir / f"{key}.descriptor.txt").read_text()
    assert descriptor.startswith(f"Module: {url}\nDownload Time: ") and "(PID:" in descriptor
    assert sorted(os.listdir(cache_dir)) == sorted(
        [key, f"{key}.descriptor.txt", f"{key}.hubfn-manifest.json", f"{key}.hubfn-lock"])


def test_default_cache_dir_is_under_the_system_temp(monkeypatch):
    import tempfile

    monkeypatch.delenv("TFHUB_CACHE_DIR")
    assert manage.cache_dir() == os.path.join(tempfile.gettempdir(), "tfhub_modules")


def test_entries_are_shared_with_tensorflow_hub_both_ways(server, fruit_tgz, cache_dir):
    """Acceptance 2."""
    import tensorflow_hub as tfhub

    ours = server.add("/shared/ours.tar.gz", body=fruit_tgz)
    theirs = server.add("/shared/theirs/1", body=fruit_tgz, smart=True)
    path = hubfn.hub_resolve(ours)
    server.clear()
    assert tfhub.resolve(ours) == path
    assert server.log == [], "tensorflow_hub used hubfn's entry without a request"

    their_path = tfhub.resolve(theirs)
    assert len(server.gets("/shared/theirs/1")) == 1
    server.clear()
    assert hubfn.hub_resolve(theirs) == their_path
    check_fruit(theirs)
    assert server.log == [], "hubfn used tensorflow_hub's entry without a request"
    (entry,) = [e for e in hubfn.cache_list() if e.path == their_path]
    assert entry.handle == theirs and entry.verified and entry.check == "basic"


def test_deleted_files_warn_refetch_and_work(server, fruit_tgz, cache_dir):
    """Acceptance 7 (hubfn's entry, with manifest)."""
    url = server.add("/heal/fruit.tar.gz", body=fruit_tgz)
    path = hubfn.hub_resolve(url)
    data = [n for n in os.listdir(os.path.join(path, "variables")) if n.startswith("variables.data")]
    os.unlink(os.path.join(path, "variables", data[0]))
    server.clear()
    with pytest.warns(UserWarning, match=f"damaged \\(missing variables/{data[0]}\\); downloading it again"):
        assert hubfn.hub_resolve(url) == path
    assert len(server.gets("/heal/fruit.tar.gz")) == 1
    check_fruit(url)


def test_shortened_file_is_noticed(server, fruit_tgz, cache_dir):
    url = server.add("/heal/short.tar.gz", body=fruit_tgz)
    path = hubfn.hub_resolve(url)
    with open(os.path.join(path, "saved_model.pb"), "r+b") as f:
        f.truncate(10)
    (entry,) = hubfn.cache_verify(url)
    assert not entry.verified and "saved_model.pb is 10 bytes" in entry.problem
    with pytest.warns(UserWarning, match="saved_model.pb is 10 bytes"):
        hubfn.hub_resolve(url)
    assert hubfn.cache_verify(url)[0].verified


def test_tensorflow_hub_entry_without_saved_model_is_refetched(server, fruit_tgz, cache_dir):
    import tensorflow_hub as tfhub

    url = server.add("/heal/theirs.tar.gz", body=fruit_tgz)
    path = tfhub.resolve(url)
    os.unlink(os.path.join(path, "variables", "variables.index"))
    with pytest.warns(UserWarning, match="missing variables/variables.index"):
        assert hubfn.hub_resolve(url) == path
    assert os.path.isfile(os.path.join(path, "variables", "variables.index"))
    assert hubfn.cache_verify(url)[0].check == "manifest"


def test_offline(server, fruit_tgz, cache_dir, monkeypatch):
    """Acceptance 7 (offline): a miss or a damaged entry is a clear error and makes no request."""
    url = server.add("/offline/fruit.tar.gz", body=fruit_tgz)
    monkeypatch.setenv("HUBFN_OFFLINE", "1")
    with pytest.raises(errors.OfflineError, match="is not in the cache.*HUBFN_OFFLINE"):
        hubfn.hub_resolve(url)
    assert server.gets("/offline/fruit.tar.gz") == []
    monkeypatch.delenv("HUBFN_OFFLINE")
    path = hubfn.hub_resolve(url)
    monkeypatch.setenv("HUBFN_OFFLINE", "1")
    assert hubfn.hub_resolve(url) == path
    os.unlink(os.path.join(path, "saved_model.pb"))
    with pytest.raises(errors.OfflineError) as e:
        hubfn.hub_resolve(url)
    assert f"is damaged in the cache {cache_dir} (missing saved_model.pb) and HUBFN_OFFLINE" in str(e.value)
    assert len(server.gets("/offline/fruit.tar.gz")) == 1


def test_list_verify_remove(server, fruit_tgz, cache_dir):
    a = server.add("/manage/a.tar.gz", body=fruit_tgz)
    b = server.add("/manage/b.tar.gz", body=fruit_tgz)
    assert hubfn.cache_list() == [] and hubfn.cache_remove(all=True) == []
    pa, pb = hubfn.hub_resolve(a), hubfn.hub_resolve(b)
    listed = {e.handle: e for e in hubfn.cache_list()}
    assert set(listed) == {a, b}
    assert listed[a].path == pa and listed[a].size > 1000 and listed[a].verified
    assert listed[a].as_dict()["handle"] == a and isinstance(listed[a].as_dict()["date"], str)
    with tarfile.open(fileobj=io.BytesIO(fruit_tgz)) as tar:
        archived = sum(m.size for m in tar.getmembers() if m.isfile())
    assert listed[a].size == archived, "size: the bytes of the module's files"
    os.unlink(os.path.join(pb, "saved_model.pb"))
    assert {e.handle: e.verified for e in hubfn.cache_verify()} == {a: True, b: False}
    assert hubfn.cache_remove(b) == [pb]
    assert not os.path.exists(pb) and [e.handle for e in hubfn.cache_list()] == [a]
    assert hubfn.cache_remove(all=True) == [pa]
    assert os.listdir(cache_dir) == [], "remove --all leaves nothing, not even lock files"
    with pytest.raises(errors.CacheError):
        hubfn.cache_remove()


def test_cache_command(server, fruit_tgz, cache_dir, capsys):
    url = server.add("/cli/fruit.tar.gz", body=fruit_tgz)
    path = hubfn.hub_resolve(url)
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert f"({1} entries)" in out and url in out and "ok (manifest)" in out
    assert main(["cache", "verify"]) == 0
    os.unlink(os.path.join(path, "saved_model.pb"))
    assert main(["cache", "verify", url]) == 1
    assert "DAMAGED: missing saved_model.pb" in capsys.readouterr().out
    assert main(["cache", "remove", os.path.basename(path)]) == 0
    assert f"removed {path}" in capsys.readouterr().out
    assert main(["cache", "remove"]) == 1
    assert main(["cache", "remove", "--all"]) == 0 and hubfn.cache_list() == []


def test_damaged_entry_is_reported_once(server, fruit_tgz, cache_dir, caplog, recwarn):
    import logging

    url = server.add("/heal/once.tar.gz", body=fruit_tgz)
    path = hubfn.hub_resolve(url)
    os.unlink(os.path.join(path, "saved_model.pb"))
    recwarn.clear()
    with caplog.at_level(logging.DEBUG, logger="hubfn"):
        hubfn.hub_resolve(url)
    said = [str(w.message) for w in recwarn if "damaged" in str(w.message)]
    assert len(said) == 1 and "missing saved_model.pb" in said[0]
    assert [r for r in caplog.records if "damaged" in r.getMessage()] == [], "said twice (log and warning)"


def test_cache_remove_handle_and_all_are_exclusive(server, fruit_tgz, cache_dir, capsys):
    url = server.add("/cli/excl.tar.gz", body=fruit_tgz)
    path = hubfn.hub_resolve(url)
    assert main(["cache", "remove", url, "--all"]) == 1
    err = capsys.readouterr().err
    assert "hubfn: error:" in err and "exclusive" in err
    assert os.path.isdir(path)
    assert main(["cache", "remove"]) == 1 and "give a HANDLE, or --all" in capsys.readouterr().err


def test_cache_remove_leaves_no_lock_files(server, fruit_tgz, cache_dir):
    """Removing an uncached handle, one entry, or all (with a lock left by a killed process): no lock files."""
    url = server.add("/locks/fruit.tar.gz", body=fruit_tgz)
    os.makedirs(cache_dir)
    assert hubfn.cache_remove("http://127.0.0.1:1/never/fetched") == []
    assert os.listdir(cache_dir) == []
    path = hubfn.hub_resolve(url)
    assert hubfn.cache_remove(url) == [path] and os.listdir(cache_dir) == []
    hubfn.hub_resolve(url)
    stale = cache_dir / (hashlib.sha1(b"http://gone/1").hexdigest() + ".hubfn-lock")
    stale.write_bytes(b"")  # as kill -9 of a loader leaves it
    assert main(["cache", "remove", "--all"]) == 0
    assert os.listdir(cache_dir) == []


def test_lock_acquisition_checks_the_file_is_still_the_one_at_the_path(tmp_path):
    """A waiter on a lock file that was deleted and replaced meanwhile must lock the new file."""
    import threading
    import time

    from hubfn.util.locks import FileLock

    path = str(tmp_path / "k.hubfn-lock")
    first = FileLock(path).acquire()
    waiter = FileLock(path, quiet_wait=0.05)
    got = threading.Event()
    t = threading.Thread(target=lambda: (waiter.acquire(), got.set()), daemon=True)
    t.start()
    time.sleep(0.2)  # the waiter now blocks on the first file
    os.unlink(path)
    third = FileLock(path).acquire()  # a newcomer creates and locks a new file at the path
    first.release()
    assert not got.wait(0.3), "the waiter took the lock of a deleted file while another process holds the lock"
    third.release(unlink=True)  # the holder deletes the file when done: the waiter starts over again
    assert got.wait(5)
    assert os.stat(path).st_ino == os.fstat(waiter._fd).st_ino
    waiter.release(unlink=True)
    assert not os.path.exists(path)
