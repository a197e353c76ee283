"""Handles behind redirect chains, tokens per host: a hub, a model site and a storage host, each a real
process on its own loopback address (tests/hubsim.py), the way tfhub.dev -> Kaggle -> signed storage
URLs work."""

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

import hubfn
import servers
from hubfn import errors
from hubfn.fetch import sources
from hubfn.fetch.transport import auth
from hubfn.settings import Settings

HERE = os.path.dirname(os.path.abspath(__file__))
OBJECT = "google-{}-tensorFlow2-{}-1.tar.gz"


class Sim:
    """The three processes; `control` steers one, `log` reads what it saw."""

    def __init__(self, tmp, tls=None):
        self.procs, self.urls = [], {}
        nxt = None
        for role, host in (("storage", "127.0.0.3"), ("site", "127.0.0.2"), ("hub", "127.0.0.1")):
            cmd = [sys.executable, os.path.join(HERE, "hubsim.py"), role, host]
            if nxt:
                cmd += ["--next", nxt]
            if tls and role == "hub":
                cmd += ["--tls", *tls]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            self.procs.append(proc)
            nxt = self.urls[role] = proc.stdout.readline().strip()
        self.tmp = tmp

    def _plain(self, role):
        return self.urls[role].replace("https://", "http://") if role != "hub" else self.urls[role]

    def control(self, role, **kw):
        req = urllib.request.Request(self.urls[role] + "/__control", data=json.dumps(kw).encode(), method="POST")
        _opener(self.urls[role]).open(req, timeout=5).read()

    def log(self, role):
        return json.loads(_opener(self.urls[role]).open(self.urls[role] + "/__log", timeout=5).read())

    def put(self, model, data):
        """Store `data` as the archive of google/<model>/1."""
        path = os.path.join(self.tmp, OBJECT.format(model, model))
        with open(path, "wb") as f:
            f.write(data)
        objects = {n: os.path.join(self.tmp, n) for n in os.listdir(self.tmp) if n.endswith(".tar.gz")}
        self.control("storage", objects=objects)
        return path

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()


def _opener(url):
    if url.startswith("https://"):
        import ssl

        return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def sim(tmp_path_factory, fruit_tgz):
    s = Sim(str(tmp_path_factory.mktemp("bucket")))
    s.put("fruit", fruit_tgz)
    yield s
    s.close()


@pytest.fixture
def fresh(sim):
    """Every knob back to normal, logs read from here on."""
    sim.control("storage", wrong_md5=False, rate=None, cut_at=None, expired_status=400)
    sim.control("site", ttl=3600.0)
    sim.control("hub", tokens=[], migrated=["fruit", "big", "other"])
    return {role: len(sim.log(role)) for role in ("hub", "site", "storage")}


def _since(sim, marks, role):
    return sim.log(role)[marks[role]:]


def _big_archive(fruit_dir, size=4 << 20, seed=b"v1"):
    """A module archive of `size` incompressible bytes (so a throttled download takes a while)."""
    blob = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32))
    return servers.targz(fruit_dir, extra={"assets/blob.bin": blob})


def _blob_ok(path, seed, size=4 << 20):
    """Whether the module at `path` holds exactly the blob _big_archive made from `seed`."""
    with open(os.path.join(path, "assets", "blob.bin"), "rb") as f:
        blob = f.read()
    return blob == b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size // 32))


# --- the chain ------------------------------------------------------------------------------------
def test_tfhub_style_chain_to_signed_storage(sim, fresh, cache_dir, fruit_dir):
    handle = f"{sim.urls['hub']}/google/fruit/1"
    path = hubfn.hub_resolve(handle)
    assert os.path.basename(path) == hashlib.sha1(handle.encode()).hexdigest(), "keyed by the handle as written"
    assert open(os.path.join(path, "saved_model.pb"), "rb").read() == \
        open(os.path.join(fruit_dir, "saved_model.pb"), "rb").read()
    site = _since(sim, fresh, "site")
    assert [r["query"] for r in site] == ["tf-hub-format=compressed&tfhub-redirect=true"], "query kept, flag added"
    got = _since(sim, fresh, "storage")
    assert len(got) == 1 and "response-content-disposition=attachment%3B%20filename%3D%22fruit.tar.gz%22" \
        in got[0]["query"], "the signed query reached storage byte for byte (else it answers 403)"
    m = hubfn.hub_load(handle)  # the cached entry loads and runs
    out = m({"apples": [1.0], "oranges": [2.0]}, signature="fruit_to_pet", as_dict=True)
    assert set(out) and all(v.shape[0] == 1 for v in out.values())


def test_tensorflow_hub_follows_the_same_chain_and_shares_the_entry(sim, fresh, tmp_path, cache_dir):
    handle = f"{sim.urls['hub']}/google/fruit/1"
    ours = hubfn.hub_resolve(handle)  # into cache_dir
    theirs_cache = tmp_path / "theirs"
    code = (
        "import os, sys, tensorflow_hub as hub\n"
        "os.environ['TFHUB_CACHE_DIR'] = sys.argv[2]\n"
        "print(hub.resolve(sys.argv[1]))\n"  # downloads through the chain with urllib
        "os.environ['TFHUB_CACHE_DIR'] = sys.argv[3]\n"
        "print(hub.resolve(sys.argv[1]))\n"  # hubfn's entry: no download
    )
    out = subprocess.run([sys.executable, "-c", code, handle, str(theirs_cache), str(cache_dir)], check=True,
                         capture_output=True, text=True, env={**os.environ, "NO_PROXY": "*"}).stdout.split()
    assert out[1] == ours
    assert len(_since(sim, fresh, "storage")) == 2, "tensorflow_hub downloaded once, through the chain"
    before = len(sim.log("storage"))
    assert hubfn.hub_resolve(handle, cache_dir=theirs_cache) == out[0], "hubfn uses tensorflow_hub's entry"
    assert len(sim.log("storage")) == before


def test_loops_and_long_chains_are_named(sim, fresh, cache_dir):
    with pytest.raises(errors.FetchError, match=r"redirects loop: .*/loop/a.* -> .*/loop/b.* -> .*/loop/a"):
        hubfn.hub_resolve(f"{sim.urls['hub']}/loop/a")
    assert hubfn.hub_resolve(f"{sim.urls['hub']}/hops/8")  # 8 + 3 hops... within the bound of 10
    with pytest.raises(errors.FetchError, match=r"more than 10 redirects"):
        hubfn.hub_resolve(f"{sim.urls['hub']}/hops/12")
    assert not [n for n in os.listdir(cache_dir) if ".hubfn-tmp" in n or n.endswith("partial")]


def test_html_at_the_end_of_the_chain(sim, fresh, cache_dir):
    handle = f"{sim.urls['hub']}/google/unmigrated/1"
    with pytest.raises(errors.NotAnArchiveError) as e:
        hubfn.hub_resolve(handle)
    text = str(e.value)
    assert f"{sim.urls['site']}/models?tfhub-redirect=true" in text, "the final URL is shown"
    assert "reached through" in text and "/google/unmigrated/1" in text and "browser" in text
    assert not [n for n in os.listdir(cache_dir) if len(n) == 40], "nothing cached"


def test_https_is_never_downgraded(tmp_path, cache_dir, monkeypatch, fruit_tgz):
    tls = servers.self_signed_certificate(str(tmp_path))
    if tls is None:
        pytest.skip("openssl is needed to make a test certificate")
    s = Sim(str(tmp_path / "bucket"), tls=tls)
    try:
        os.makedirs(s.tmp)
        s.put("fruit", fruit_tgz)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls[0])
        with pytest.raises(errors.FetchError, match=r"refusing a redirect from https to plain http"):
            hubfn.hub_resolve(f"{s.urls['hub']}/google/fruit/1")
        assert not [r for r in s.log("storage")], "nothing was asked of the http host"
    finally:
        s.close()


def test_md5_mismatch_is_refused_and_nothing_is_kept(sim, fresh, cache_dir):
    sim.control("storage", wrong_md5=True)
    with pytest.raises(errors.ArchiveError, match=r"MD5 .*\(x-goog-hash\)"):
        hubfn.hub_resolve(f"{sim.urls['hub']}/google/fruit/1")
    assert [n for n in os.listdir(cache_dir) if not n.endswith(".hubfn-lock")] == []


# --- resuming behind redirects --------------------------------------------------------------------
def test_a_cut_body_resumes_at_the_storage_url(sim, fresh, cache_dir, fruit_dir):
    data = _big_archive(fruit_dir, 1 << 20)
    sim.put("big", data)
    sim.control("storage", cut_at=300_000)
    path = hubfn.hub_resolve(f"{sim.urls['hub']}/google/big/1")
    assert os.path.getsize(os.path.join(path, "assets", "blob.bin")) == 1 << 20
    hub, storage = _since(sim, fresh, "hub"), _since(sim, fresh, "storage")
    assert len(hub) == 1, "the chain was followed once: the resume went straight to storage"
    assert [r["headers"].get("Range") for r in storage] == [None, "bytes=300000-"]


def _download_in_child(handle, cache, partial):
    """A process fetching `handle`, killed (SIGKILL) once its partial file holds some bytes."""
    code = "import sys, hubfn; hubfn.hub_resolve(sys.argv[1])"
    env = {**os.environ, "TFHUB_CACHE_DIR": str(cache), "NO_PROXY": "*"}
    child = subprocess.Popen([sys.executable, "-c", code, handle], env=env, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while time.monotonic() < end and child.poll() is None:
        if os.path.exists(partial) and os.path.getsize(partial) > 500_000:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return os.path.getsize(partial)


def test_kill_then_resume_after_the_signed_url_expired(sim, fresh, cache_dir, fruit_dir):
    data = _big_archive(fruit_dir)
    sim.put("big", data)
    sim.control("storage", rate=2_000_000)
    sim.control("site", ttl=1.0)
    handle = f"{sim.urls['hub']}/google/big/1"
    partial = os.path.join(cache_dir, hashlib.sha1(handle.encode()).hexdigest() + ".hubfn-partial")
    kept = _download_in_child(handle, cache_dir, partial)
    assert 0 < kept < len(data)
    info = json.load(open(partial + ".json"))
    assert info["final_url"].startswith(sim.urls["storage"]) and info["md5"], "the chain's end is kept"
    time.sleep(2.05)  # the signed URL has expired (Expires is in whole seconds: at most ttl + 1 s after signing)
    sim.control("storage", rate=None)
    mark = len(sim.log("storage"))
    path = hubfn.hub_resolve(handle)
    assert _blob_ok(path, b"v1")
    asked = sim.log("storage")[mark:]
    assert asked[0]["query"] == info["final_url"].split("?", 1)[1], "first the URL the chain had ended at"
    assert asked[-1]["headers"].get("Range") == f"bytes={kept}-", "then the new signed URL, from where it stopped"
    assert asked[-1]["query"] != asked[0]["query"]
    assert not os.path.exists(partial)


def test_a_new_version_behind_the_chain_is_never_spliced(sim, fresh, cache_dir, fruit_dir):
    sim.put("big", _big_archive(fruit_dir, seed=b"v1"))
    sim.control("storage", rate=2_000_000)
    handle = f"{sim.urls['hub']}/google/big/1"
    partial = os.path.join(cache_dir, hashlib.sha1(handle.encode()).hexdigest() + ".hubfn-partial")
    _download_in_child(handle, cache_dir, partial)
    new = _big_archive(fruit_dir, seed=b"v2")
    sim.put("big", new)  # republished meanwhile: another ETag and MD5
    sim.control("storage", rate=None)
    path = hubfn.hub_resolve(handle)
    assert _blob_ok(path, b"v2"), "all of the new version, none of the old"


# --- tokens ---------------------------------------------------------------------------------------
def _authorizations(records):
    return [r["headers"].get("Authorization") for r in records]


def test_a_token_goes_to_its_host_only(sim, fresh, cache_dir, caplog):
    token = "tok-" + "s3cr3t" * 4
    sim.control("hub", tokens=[token])
    handle = f"{sim.urls['hub']}/private/google/fruit/1"
    with pytest.raises(errors.AccessError, match=r"HTTP 401.*token="):
        hubfn.hub_resolve(handle)
    with pytest.raises(errors.AccessError, match=r"not sent, because the URL is plain http"):
        hubfn.hub_resolve(handle, token=token)
    caplog.set_level(logging.DEBUG)
    path = hubfn.hub_resolve(handle, settings=hubfn.Settings.make(token=token, token_over_http=True))
    hub = _since(sim, fresh, "hub")
    assert _authorizations(hub) == [None, None, f"Bearer {token}"]
    assert _authorizations(_since(sim, fresh, "site")) == [None], "never to the host a redirect leads to"
    assert _authorizations(_since(sim, fresh, "storage")) == [None]
    # Nowhere on disk or in the logs.
    for name in os.listdir(cache_dir):
        p = os.path.join(cache_dir, name)
        if os.path.isfile(p):
            assert token not in open(p, encoding="utf-8", errors="replace").read(), name
    assert token not in caplog.text
    assert token not in repr(hubfn.Settings.make(token=token))
    assert os.path.isdir(path)


def test_tokens_per_host_from_the_environment_and_netrc(sim, fresh, cache_dir, monkeypatch, tmp_path):
    token = "env-token-0123456789"
    sim.control("hub", tokens=[token])
    hub_host = sim.urls["hub"].split("://", 1)[1]
    monkeypatch.setenv("HUBFN_TOKEN_OVER_HTTP", "1")
    monkeypatch.setenv("HUBFN_TOKENS", f"{hub_host}={token}, 127.0.0.9=other")
    hubfn.hub_resolve(f"{sim.urls['hub']}/private/google/fruit/1")
    assert _authorizations(_since(sim, fresh, "hub")) == [f"Bearer {token}"]
    assert _authorizations(_since(sim, fresh, "storage")) == [None]
    # ~/.netrc (here $NETRC) for the storage host: used there, and only there.
    monkeypatch.delenv("HUBFN_TOKENS")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.3 login reader password pw-storage\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    mark = len(sim.log("storage"))
    hubfn.hub_resolve(f"{sim.urls['hub']}/google/fruit/1", cache_dir=tmp_path / "c2")
    assert _authorizations(sim.log("storage")[mark:]) == [auth.basic("reader", "pw-storage")]
    assert _authorizations(_since(sim, fresh, "site")) == [None, None]


def test_bad_tokens_are_refused_without_echoing_them():
    with pytest.raises(errors.HandleError) as e:
        hubfn.Settings.make(token="abc\r\nX-Evil: 1")
    assert "X-Evil" not in str(e.value)
    with pytest.raises(errors.HandleError):
        hubfn.Settings.make(token="")


# --- per-call settings ----------------------------------------------------------------------------
def test_per_call_cache_offline_and_timeout(sim, fresh, cache_dir, tmp_path):
    handle = f"{sim.urls['hub']}/google/fruit/1"
    mine = tmp_path / "mine"
    with pytest.raises(errors.OfflineError, match="offline"):
        hubfn.hub_resolve(handle, cache_dir=mine, offline=True)
    path = hubfn.hub_resolve(handle, cache_dir=mine, timeout=(2, 5))
    assert os.path.dirname(path) == str(mine) and not os.path.exists(cache_dir / os.path.basename(path))
    assert os.environ["TFHUB_CACHE_DIR"] == str(cache_dir), "nothing global changed"
    assert hubfn.hub_resolve(handle, cache_dir=mine, offline=True) == path
    with pytest.raises(errors.HandleError, match="timeout"):
        hubfn.hub_resolve(handle, timeout=-1)


def test_load_format_and_china_mirror(monkeypatch):
    assert sources.download_url("https://hub.tensorflow.google.cn/google/nnlm-en-dim50/2", Settings()) == \
        "https://gcs.tensorflow.google.cn/tfhub-modules/google/nnlm-en-dim50/2.tar.gz"
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "UNCOMPRESSED")
    with pytest.raises(errors.UnsupportedHandleError, match="UNCOMPRESSED.*unset TFHUB_MODEL_LOAD_FORMAT"):
        sources.download_url("https://tfhub.dev/google/x/1", Settings.from_env())
    monkeypatch.setenv("TFHUB_MODEL_LOAD_FORMAT", "COMPRESSED")
    assert sources.download_url("https://tfhub.dev/google/x/1", Settings.from_env()).endswith("?tf-hub-format=compressed")


def test_hub_layer_takes_the_call_settings_and_keeps_the_token_out_of_its_config(sim, fresh, tmp_path):
    token = "layer-token-0123456789"
    sim.control("hub", tokens=[token])
    mine = tmp_path / "layer-cache"
    layer = hubfn.hub_layer(f"{sim.urls['hub']}/private/google/fruit/1", signature="fruit_to_pet",
                            output_key="cats", cache_dir=mine,
                            settings=hubfn.Settings.make(token=token, token_over_http=True))
    assert layer.module.path.startswith(str(mine))
    assert token not in json.dumps(layer.get_config(), default=str)
    assert _authorizations(_since(sim, fresh, "hub")) == [f"Bearer {token}"]
