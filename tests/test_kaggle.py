"""Kaggle Models handles, against a local stand-in for Kaggle (tests/kaggle_server.py): its API v1 on
127.0.0.2 redirecting to signed URLs on a storage host on 127.0.0.3. Everything goes through the real
resolvers (hubfn.hub_resolve, and hubfn.hub_load once, the only test here that imports TensorFlow)."""

import hashlib
import json
import os

import numpy as np
import pytest

import hubfn
from hubfn import errors, examples
from hubfn.fetch.transport import auth
from hubfn.resolve import DEFAULT_RESOLVERS, HttpResolver, KaggleResolver
from hubfn.settings import Settings
import servers
from kaggle_server import FakeKaggle

BEARER = "Bearer tok-123"
BASIC = auth.basic("alice", "s3cret")


@pytest.fixture(scope="module")
def kaggle():
    with FakeKaggle() as k:
        k.accepted.update({BEARER, BASIC})
        yield k


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir, tmp_path, kaggle):
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,127.0.0.2,127.0.0.3,localhost")
    monkeypatch.setenv("KAGGLE_API_ENDPOINT", kaggle.endpoint)
    # No credentials from this machine: only what a test sets.
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "HUBFN_TOKENS", "HUBFN_TOKEN_OVER_HTTP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    kaggle.clear()


def archive(version, noise=0):
    """A small module archive (no TensorFlow needed to make it) that says which version it is."""
    members = [{"name": "saved_model.pb", "data": f"not a real graph, version {version}".encode()},
               {"name": "version.txt", "data": str(version).encode()}]
    if noise:
        members.append({"name": "noise.bin", "data": os.urandom(noise)})
    return servers.crafted(members)


def version_in(path):
    with open(os.path.join(path, "version.txt")) as f:
        return int(f.read())


def entry(cache_dir, handle):
    return str(cache_dir / hashlib.sha1(handle.encode()).hexdigest())


def record(cache_dir, unversioned):
    path = cache_dir / (hashlib.sha1(unversioned.encode()).hexdigest() + ".hubfn-latest.json")
    return json.loads(path.read_text())


def paths(kaggle, host):
    return [r.path for r in kaggle.requests(host)]


def test_a_versioned_handle_is_downloaded_once_through_the_signed_url(kaggle, cache_dir):
    kaggle.publish("tester", "tiny", "tensorFlow2", "v", {1: archive(1), 2: archive(2)})
    handle = "kaggle:tester/tiny/tensorFlow2/v/1"
    path = hubfn.hub_resolve(handle)
    assert path == entry(cache_dir, handle) and version_in(path) == 1
    assert paths(kaggle, "api") == ["/api/v1/models/tester/tiny/tensorFlow2/v/1/download"]  # no lookup
    (got,) = kaggle.requests("storage")
    assert {"GoogleAccessId", "Expires", "Signature"} <= {f.split("=")[0] for f in got.query.split("&")}
    assert (cache_dir / f"{os.path.basename(path)}.descriptor.txt").read_text().startswith(f"Module: {handle}\n")
    kaggle.clear()
    assert hubfn.hub_resolve(handle) == path and kaggle.log == []  # cached: no request at all


def test_no_version_means_the_latest_asked_each_time_and_recorded_for_offline(kaggle, cache_dir, monkeypatch):
    kaggle.publish("tester", "latest", "tensorFlow2", "v", {1: archive(1), 2: archive(2)})
    handle = "kaggle:tester/latest/tensorFlow2/v"
    path = hubfn.hub_resolve(handle)
    assert path == entry(cache_dir, handle + "/2") and version_in(path) == 2
    assert record(cache_dir, handle)["version"] == 2
    assert [e.handle for e in hubfn.cache_list()] == [handle + "/2"]  # the record is not an entry
    assert paths(kaggle, "api") == ["/api/v1/models/tester/latest/tensorFlow2/v/get",
                                    "/api/v1/models/tester/latest/tensorFlow2/v/2/download"]
    kaggle.clear()
    assert hubfn.hub_resolve(handle) == path  # online: asked again (one small JSON), not downloaded again
    assert paths(kaggle, "api") == ["/api/v1/models/tester/latest/tensorFlow2/v/get"]
    assert kaggle.requests("storage") == []
    kaggle.clear()
    assert hubfn.hub_resolve(handle + "/2") == path  # the same entry as the version written out
    assert hubfn.hub_resolve(handle, offline=True) == path
    monkeypatch.setenv("HUBFN_OFFLINE", "1")
    assert hubfn.hub_resolve(handle) == path
    assert kaggle.log == []
    with pytest.raises(errors.OfflineError, match="'kaggle:tester/never/tensorFlow2/v' names no version"):
        hubfn.hub_resolve("kaggle:tester/never/tensorFlow2/v")
    assert kaggle.log == []


def test_a_new_latest_version_is_a_new_entry(kaggle, cache_dir):
    kaggle.publish("tester", "moving", "tensorFlow2", "v", {1: archive(1)})
    handle = "kaggle:tester/moving/tensorFlow2/v"
    first = hubfn.hub_resolve(handle)
    kaggle.publish("tester", "moving", "tensorFlow2", "v", {2: archive(2)})
    second = hubfn.hub_resolve(handle)
    assert second == entry(cache_dir, handle + "/2") != first and version_in(second) == 2
    assert os.path.isdir(first) and record(cache_dir, handle)["version"] == 2
    kaggle.clear()
    assert hubfn.hub_resolve(handle, offline=True) == second and kaggle.log == []


def test_page_urls_in_both_forms(kaggle, cache_dir):
    kaggle.publish("tester", "pages", "tensorFlow2", "v", {1: archive(1), 2: archive(2)})
    site = kaggle.endpoint
    short = f"{site}/models/tester/pages/TensorFlow2/v/1"  # Kaggle takes the framework in any case
    old = f"{site}/models/tester/pages/frameworks/tensorFlow2/variations/v/versions/1"
    for url in (short, old):
        path = hubfn.hub_resolve(url)
        assert path == entry(cache_dir, url) and version_in(path) == 1  # keyed as tensorflow_hub keys the URL
    assert paths(kaggle, "api") == ["/api/v1/models/tester/pages/TensorFlow2/v/1/download",
                                    "/api/v1/models/tester/pages/tensorFlow2/v/1/download"]
    latest = hubfn.hub_resolve(f"{site}/models/tester/pages/frameworks/tensorFlow2/variations/v/")
    assert latest == hubfn.hub_resolve(f"{site}/models/tester/pages/tensorFlow2/v")
    assert latest == entry(cache_dir, "kaggle:tester/pages/tensorFlow2/v/2")
    kaggle.clear()  # a page URL without a version shares the kaggle: handle's record
    assert hubfn.hub_resolve("kaggle:tester/pages/tensorFlow2/v", offline=True) == latest and kaggle.log == []


def test_kaggle_urls_are_told_from_other_urls(monkeypatch):
    monkeypatch.delenv("KAGGLE_API_ENDPOINT")  # Kaggle's own site
    kaggle = KaggleResolver()
    for url in ("https://www.kaggle.com/models/google/bert/tensorFlow2/answer-equivalence-bem/3",
                "https://kaggle.com/models/google/bert/frameworks/TensorFlow2/variations/x/versions/3",
                "kaggle:google/bert/tensorFlow2/answer-equivalence-bem"):
        assert kaggle.supports(url, Settings.from_env())
    for url in ("https://tfhub.dev/google/bert/3", "https://www.kaggle.com/datasets/a/b",
                "https://hub.example.com/models/a/b/c/d/1", "/tmp/models/a/b"):
        assert not kaggle.supports(url, Settings.from_env())
    kinds = [type(r) for r in DEFAULT_RESOLVERS]
    assert kinds.index(KaggleResolver) < kinds.index(HttpResolver)


@pytest.mark.parametrize("handle", ["kaggle:tester/x/tensorFlow2", "kaggle:tester/x/tensorFlow2/v/latest",
                                    "kaggle:tester/x/tensorFlow2/v/0", "kaggle:tester/x/tensorFlow2/v/1/2",
                                    "kaggle://tester/x/tensorFlow2/v", "kaggle:tester/x y/tensorFlow2/v",
                                    "{site}/models/tester/x", "{site}/models/tester/x/frameworks/tf/variations"])
def test_a_malformed_handle_shows_the_expected_form(kaggle, handle):
    with pytest.raises(errors.HandleError, match=r"kaggle:owner/model/framework/variation\[/version\]"):
        hubfn.hub_resolve(handle.format(site=kaggle.endpoint))
    assert kaggle.log == []


@pytest.mark.parametrize("handle", ["kaggle:tester/badsum/tensorFlow2/v/1", "kaggle:tester/badsum/tensorFlow2/v"])
def test_a_wrong_md5_leaves_nothing_in_the_cache(kaggle, cache_dir, handle):
    kaggle.publish("tester", "badsum", "tensorFlow2", "v", {1: archive(1)}, bad_md5={1})
    with pytest.raises(errors.ArchiveError, match="MD5"):
        hubfn.hub_resolve(handle)
    assert os.listdir(cache_dir) == []  # no entry, partial, temp directory, lock or latest-version record


def test_credentials_reach_the_api_host_and_never_the_storage_host(kaggle, tmp_path, monkeypatch):
    kaggle.publish("tester", "gated", "tensorFlow2", "v", {1: archive(1)}, gated=True)
    handle = "kaggle:tester/gated/tensorFlow2/v"

    def resolve_with(name, expected, **kw):
        kaggle.clear()
        assert version_in(hubfn.hub_resolve(handle, cache_dir=tmp_path / name, **kw)) == 1
        assert [r.headers.get("Authorization") for r in kaggle.requests("api")] == [expected, expected]
        assert kaggle.requests("storage") and all("Authorization" not in r.headers for r in kaggle.requests("storage"))

    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    resolve_with("token", BEARER, token="tok-123", settings=Settings.make(token_over_http=True))  # token= wins
    monkeypatch.setenv("HUBFN_TOKEN_OVER_HTTP", "1")
    resolve_with("env", BASIC)
    monkeypatch.delenv("KAGGLE_USERNAME")
    config = tmp_path / "kaggle-config"
    config.mkdir()
    (config / "kaggle.json").write_text(json.dumps({"username": "alice", "key": "s3cret"}))
    resolve_with("file", BASIC)

    # Over plain http they are held back unless asked for, and the message says so.
    monkeypatch.delenv("HUBFN_TOKEN_OVER_HTTP")
    kaggle.clear()
    with pytest.raises(errors.AccessError, match="set but were not sent.*token_over_http"):
        hubfn.hub_resolve(handle, cache_dir=tmp_path / "held")
    assert [r.headers.get("Authorization") for r in kaggle.requests("api")] == [None]


def test_not_found_and_refused_name_the_handle_and_say_what_to_do(kaggle, cache_dir):
    kaggle.publish("tester", "gate", "tensorFlow2", "v", {1: archive(1)}, gated=True)
    kaggle.publish("tester", "known", "tensorFlow2", "v", {1: archive(1)})
    with pytest.raises(errors.RemoteNotFoundError) as e:
        hubfn.hub_resolve("kaggle:tester/nothing/tensorFlow2/v")
    assert "'kaggle:tester/nothing/tensorFlow2/v' was not found: check owner/model/framework/variation" in str(e.value)
    assert isinstance(e.value, errors.ModuleNotFound) and "HTTP 404" in str(e.value)
    with pytest.raises(errors.RemoteNotFoundError, match="'kaggle:tester/known/tensorFlow2/v/7' was not found: "
                       r"check owner/model/framework/variation \(tester/known/tensorFlow2/v\) and version 7"):
        hubfn.hub_resolve("kaggle:tester/known/tensorFlow2/v/7")
    for handle in ("kaggle:tester/gate/tensorFlow2/v", "kaggle:tester/gate/tensorFlow2/v/1"):  # lookup, download
        with pytest.raises(errors.AccessError) as e:
            hubfn.hub_resolve(handle)
        text = str(e.value)
        assert f"Kaggle refused access to model '{handle}': accept the model's license" in text
        assert "KAGGLE_USERNAME and KAGGLE_KEY" in text and "HTTP 403" in text
    assert os.listdir(cache_dir) == []


def test_the_lookup_is_retried_like_a_download(kaggle, monkeypatch):
    kaggle.publish("tester", "busy", "tensorFlow2", "v", {1: archive(1)}, busy=2)
    assert version_in(hubfn.hub_resolve("kaggle:tester/busy/tensorFlow2/v")) == 1
    assert paths(kaggle, "api").count("/api/v1/models/tester/busy/tensorFlow2/v/get") == 3
    kaggle.publish("tester", "busy", "tensorFlow2", "v", {}).busy = 9
    monkeypatch.setenv("HUBFN_RETRIES", "1")
    with pytest.raises(errors.FetchError, match=r"Kaggle model 'kaggle:tester/busy/tensorFlow2/v': .*HTTP 503"):
        hubfn.hub_resolve("kaggle:tester/busy/tensorFlow2/v")


def test_a_broken_download_resumes_at_the_signed_url(kaggle, cache_dir):
    kaggle.publish("tester", "cut", "tensorFlow2", "v", {1: archive(1, noise=600_000)}, cut_once={1: 200_000})
    assert version_in(hubfn.hub_resolve("kaggle:tester/cut/tensorFlow2/v/1")) == 1
    first, again = kaggle.requests("storage")
    assert again.headers["Range"] == "bytes=200000-" and again.query == first.query  # the same signed URL
    assert len(kaggle.requests("api")) == 1


def test_hub_load_runs_a_real_module_from_kaggle(kaggle, fruit_tgz):
    kaggle.publish("tester", "fruit", "tensorFlow2", "default", {1: fruit_tgz})
    module = hubfn.hub_load("kaggle:tester/fruit/tensorFlow2/default")
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(hubfn.module_apply(module, x)), x @ examples.FRUIT_W + examples.FRUIT_B,
                               rtol=1e-6)
