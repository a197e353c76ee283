"""A full disk, for real: the cache on a small tmpfs mounted for the test (needs root, or it is skipped).

Free space is checked before a download (the rule: rest of the archive + the archive's size again for
the module); a disk that fills while downloading or unpacking is the same DiskFullError at once, not a
dropped connection to retry; the bytes so far are kept, and once there is room the next load continues.
"""

import os
import shutil
import subprocess

import pytest

import hubfn
import servers
from hubfn import errors
from hubfn.fetch.store.layout import Paths

MiB = 1 << 20


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A tmpfs of 4 MiB as the cache's filesystem; `resize(mib)` grows it (mount -o remount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.decode().strip()}")

    def resize(mib):
        subprocess.run(["mount", "-o", f"remount,size={mib}m", str(mount)], check=True)

    cache = mount / "cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")
    try:
        yield cache, resize
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def noisy(fruit_dir):
    """3 MiB of incompressible bytes: the archive is about 3 MiB, the module too."""
    return servers.targz(fruit_dir, extra={"assets/noise.bin": os.urandom(3 * MiB)})


@pytest.fixture(scope="module")
def too_big(fruit_dir):
    """6 MiB of incompressible bytes: more than the small disk holds."""
    return servers.targz(fruit_dir, extra={"assets/noise.bin": os.urandom(6 * MiB)})


@pytest.fixture(scope="module")
def expanding(fruit_dir):
    """Tiny on the wire, 8 MiB unpacked."""
    return servers.targz(fruit_dir, extra={"variables/zeros.bin": bytes(8 * MiB)})


def test_too_little_space_is_found_before_the_download(server, small_disk, noisy):
    cache, _ = small_disk
    url = server.add("/disk/early.tar.gz", body=noisy, rate=2e6)  # the body would take 1.5 s
    with pytest.raises(errors.DiskFullError) as e:
        hubfn.hub_resolve(url)
    msg = str(e.value)
    assert str(cache) in msg and f"needs {2 * len(noisy)} bytes free" in msg and "before downloading" in msg
    assert "TFHUB_CACHE_DIR" in msg and url in msg
    (get,) = server.gets("/disk/early.tar.gz")
    assert get.sent_all_at is None, "the error came before the body did"
    assert os.listdir(cache) == [], "nothing left: no partial, no lock"


def test_disk_full_while_downloading_is_said_at_once_and_resumes_later(server, small_disk, too_big):
    cache, resize = small_disk
    # No Content-Length: nothing to check before, so the disk fills during the download.
    url = server.add("/disk/during.tar.gz", body=too_big, length=False)
    with pytest.raises(errors.DiskFullError, match=f"not enough free space in {cache} \\(while downloading"):
        hubfn.hub_resolve(url)
    assert len(server.gets("/disk/during.tar.gz")) == 1, "no 'continuing' with a Range request"
    partial = Paths.for_handle(url).partial
    kept = os.path.getsize(partial)
    assert 1 * MiB < kept < len(too_big), "the bytes so far are kept"
    resize(32)
    server.clear()
    entry = hubfn.hub_resolve(url)
    (resumed,) = server.gets("/disk/during.tar.gz")
    assert resumed.headers["Range"] == f"bytes={kept}-"
    assert os.path.getsize(os.path.join(entry, "assets", "noise.bin")) == 6 * MiB
    assert hubfn.cache_verify(url, deep=True)[0].verified


def test_disk_full_while_unpacking_keeps_the_whole_archive(server, small_disk, expanding):
    cache, resize = small_disk
    url = server.add("/disk/unpack.tar.gz", body=expanding)
    with pytest.raises(errors.DiskFullError, match="while downloading or unpacking") as e:
        hubfn.hub_resolve(url)
    assert f"the {len(expanding)}-byte archive" in str(e.value)
    paths = Paths.for_handle(url)
    assert os.path.getsize(paths.partial) == len(expanding) and paths.tmp_dirs() == []
    resize(32)
    server.clear()
    entry = hubfn.hub_resolve(url)
    assert server.gets("/disk/unpack.tar.gz") == [], "the whole archive was on disk: no new request"
    assert os.path.getsize(os.path.join(entry, "variables", "zeros.bin")) == 8 * MiB


def test_sizes_are_said_in_binary_units():
    """One formatter for the disk-full message (up to TiB), `hubfn cache list` and module pages (up to GiB)."""
    from hubfn.util.fs import size_text

    assert [size_text(n) for n in (0, 1023, 1024, 1536, 5 * MiB, 3 << 30)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 GiB"]
    assert size_text(3 << 40) == "3072.0 GiB" and size_text(3 << 40, largest="TiB") == "3.0 TiB"
    assert size_text(3 << 50, largest="TiB") == "3072.0 TiB"
    assert size_text(12, bytes_unit="bytes") == "12 bytes"
