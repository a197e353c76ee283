"""Content integrity of cache entries: hashes recorded while extracting, `verify --deep`, healing."""

import json
import os

import pytest

import hubfn
from hubfn.cli import main
from hubfn.fetch.store import digest
from hubfn.fetch.store.layout import Paths


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")


def data_file(entry):
    names = [n for n in os.listdir(os.path.join(entry, "variables")) if n.startswith("variables.data")]
    return os.path.join(entry, "variables", names[0])


def test_manifest_holds_the_content_hash_of_every_file(server, fruit_tgz, cache_dir):
    url = server.add("/integrity/hashes.tar.gz", body=fruit_tgz)
    entry = hubfn.hub_resolve(url)
    with open(Paths.for_handle(url).manifest) as f:
        data = json.load(f)
    assert data["hash"] == "xxh3_128" and set(data["hashes"]) == set(data["files"])
    for rel, want in data["hashes"].items():
        assert digest.of_file(os.path.join(entry, rel)) == want
    (e,) = hubfn.cache_verify(url, deep=True)
    assert e.verified and e.check == "contents"


def test_same_size_damage_is_found_only_by_the_deep_check_and_heals(server, fruit_tgz, cache_dir):
    url = server.add("/integrity/flip.tar.gz", body=fruit_tgz)
    entry = hubfn.hub_resolve(url)
    victim = data_file(entry)
    with open(victim, "r+b") as f:  # one byte changed, size kept
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 0x55]))
    (cheap,) = hubfn.cache_verify(url)
    assert cheap.verified and cheap.check == "manifest", "loads keep the cheap check (sizes only)"
    (deep,) = hubfn.cache_verify(url, deep=True)
    rel = os.path.relpath(victim, entry)
    assert not deep.verified and f"{rel} has changed (content hash" in deep.problem
    assert not hubfn.cache_verify(url)[0].verified, "what the deep check found is remembered"
    server.clear()
    with pytest.warns(UserWarning, match=f"damaged \\({rel} has changed"):
        assert hubfn.hub_resolve(url) == entry
    assert len(server.gets("/integrity/flip.tar.gz")) == 1, "the next load fetched it again"
    (healed,) = hubfn.cache_verify(url, deep=True)
    assert healed.verified and healed.problem is None


def test_extra_files_and_the_command(server, fruit_tgz, cache_dir, capsys):
    url = server.add("/integrity/extra.tar.gz", body=fruit_tgz)
    entry = hubfn.hub_resolve(url)
    assert main(["cache", "verify", "--deep", url]) == 0
    assert "ok (contents)" in capsys.readouterr().out
    with open(os.path.join(entry, "assets", "stray.txt"), "w") as f:
        f.write("not from the archive")
    os.symlink("saved_model.pb", os.path.join(entry, "sneaky"))
    assert main(["cache", "verify", url]) == 0, "the cheap check does not look for extra files"
    capsys.readouterr()
    assert main(["cache", "verify", "--deep", url]) == 1
    out = capsys.readouterr().out
    assert "DAMAGED: extra files not from the archive: assets/stray.txt, sneaky" in out
    assert "1 damaged; the next load of a damaged entry downloads it again" in out
    with pytest.warns(UserWarning, match="extra files"):
        hubfn.hub_resolve(url)
    assert not os.path.exists(os.path.join(entry, "assets", "stray.txt"))
    assert main(["cache", "verify", "--deep"]) == 0


def test_tensorflow_hub_entries_get_the_basic_check_even_when_deep(server, fruit_tgz, cache_dir):
    import tensorflow_hub as tfhub

    url = server.add("/integrity/theirs.tar.gz", body=fruit_tgz)
    tfhub.resolve(url)
    (e,) = hubfn.cache_verify(url, deep=True)
    assert e.verified and e.check == "basic"
