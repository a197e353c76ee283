"""Fetching modules over HTTP from real servers on 127.0.0.1: URLs, errors, retries, resume, truncation."""

import os

import numpy as np
import pytest

import hubfn
from hubfn import errors, examples
from hubfn.fetch import sources
from hubfn.settings import Settings
import servers

DEFAULTS = Settings()  # the defaults: TFHUB_MODEL_LOAD_FORMAT unset


@pytest.fixture(scope="module")
def big_tgz(fruit_dir):
    """The fruit module with 2 MiB of random bytes beside it: big enough to cut mid-body."""
    return servers.targz(fruit_dir, extra={"assets/noise.bin": os.urandom(2 << 20)})


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch, cache_dir):
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def entries(cache_dir):
    return [n for n in os.listdir(cache_dir) if len(n) == 40] if cache_dir.exists() else []


def test_download_url_adds_the_format_parameter():
    assert sources.download_url("https://h.org/m/1", DEFAULTS) == "https://h.org/m/1?tf-hub-format=compressed"
    assert sources.download_url("https://h.org/m/1?a=b", DEFAULTS) == "https://h.org/m/1?a=b&tf-hub-format=compressed"
    assert sources.download_url("https://h.org/m/1?tf-hub-format=uncompressed", DEFAULTS) == \
        "https://h.org/m/1?tf-hub-format=uncompressed"
    for url in ("https://h.org/m.tar.gz", "https://h.org/m.tgz?x=1", "http://h.org/m.tar"):
        assert sources.download_url(url, DEFAULTS) == url


def test_download_url_keeps_the_query_byte_for_byte():
    assert sources.download_url("https://h.org/m/1?flag&x=a%20b", DEFAULTS) == \
        "https://h.org/m/1?flag&x=a%20b&tf-hub-format=compressed"
    assert sources.download_url("https://h.org/m/1?x=a+b;y=%2F", DEFAULTS) == \
        "https://h.org/m/1?x=a+b;y=%2F&tf-hub-format=compressed"
    assert sources.download_url("https://h.org/m/1?", DEFAULTS) == "https://h.org/m/1?tf-hub-format=compressed"
    assert sources.download_url("https://h.org/m/1?flag&tf-hub-format=compressed,x", DEFAULTS) == \
        "https://h.org/m/1?flag&tf-hub-format=compressed,x"
    assert sources.download_url("https://h.org/m/1?flag&tf-hub-format", DEFAULTS) == "https://h.org/m/1?flag&tf-hub-format"


def check_fruit(module):
    x = np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)
    out = hubfn.module_apply(module, x)
    np.testing.assert_allclose(np.asarray(out), x @ examples.FRUIT_W + examples.FRUIT_B, rtol=1e-6)


def test_cold_load_smart_static_and_redirect(server, fruit_tgz, cache_dir):
    smart = server.add("/models/fruit/1", body=fruit_tgz, smart=True)
    static = server.add("/static/fruit.tar.gz", body=fruit_tgz)
    server.add("/go/fruit", redirect="/models/fruit/1")
    for url in (smart, static, server.url("/go/fruit")):
        path = hubfn.hub_resolve(url)
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        check_fruit(hubfn.hub_load(url))
    assert hubfn.hub_module(static, trainable=True).trainable
    assert server.gets("/models/fruit/1")[0].query == {"tf-hub-format": "compressed"}
    assert len(entries(cache_dir)) == 3
    server.clear()
    assert hubfn.hub_resolve(smart) and server.log == []  # cached: no request at all


def test_plain_tar_and_chunked_body(server, fruit_dir, cache_dir):
    url = server.add("/plain/fruit.tar", body=servers.targz(fruit_dir, compress=False),
                     content_type="application/x-tar", length=False)
    assert os.path.isfile(os.path.join(hubfn.hub_resolve(url), "variables", "variables.index"))


@pytest.mark.parametrize("status,cls", [(404, errors.RemoteNotFoundError), (403, errors.AccessError),
                                        (401, errors.AccessError), (400, errors.FetchError)])
def test_status_errors_name_the_url(server, cache_dir, status, cls):
    url = server.add(f"/status/{status}", status=status, body=b"<html>nope, sorry</html>",
                     content_type="text/html")
    with pytest.raises(cls) as e:
        hubfn.hub_resolve(url)
    assert url in str(e.value) and str(status) in str(e.value) and "nope, sorry" in str(e.value)
    assert entries(cache_dir) == []
    assert os.listdir(cache_dir) == [], "a refused fetch leaves nothing, not even its lock file"


@pytest.mark.parametrize("body,what", [
    (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>", "an HTML page"),
    (b'{"error": "model gone"}', "JSON"),
    (b"Service moved to another host.\n", "text"),
])
def test_html_json_text_bodies_are_refused_and_quoted(server, cache_dir, body, what):
    url = server.add(f"/page/{what.split()[-1]}.tar.gz", body=body, content_type="text/html")
    with pytest.raises(errors.NotAnArchiveError) as e:
        hubfn.hub_resolve(url)
    assert what in str(e.value) and body.decode().split()[0][:8] in str(e.value) and url in str(e.value)
    assert isinstance(e.value, errors.NotAModuleError)
    assert entries(cache_dir) == []
    assert os.listdir(cache_dir) == [], "a refused fetch leaves nothing, not even its lock file"


def test_500_then_200_honours_retry_after(server, fruit_tgz, cache_dir):
    url = server.add("/flaky.tar.gz", body=fruit_tgz, fail_first=2, retry_after="0")
    assert hubfn.hub_resolve(url)
    assert len(server.gets("/flaky.tar.gz")) == 3


def test_429_gives_up_with_a_clear_error(server, cache_dir, monkeypatch):
    monkeypatch.setenv("HUBFN_RETRIES", "2")
    url = server.add("/busy.tar.gz", body=b"x", fail_first=99, fail_status=429, retry_after="0")
    with pytest.raises(errors.FetchError, match="429.*after 3 attempts"):
        hubfn.hub_resolve(url)


def test_connection_refused_is_a_fetch_error(cache_dir, monkeypatch):
    monkeypatch.setenv("HUBFN_RETRIES", "1")
    with servers.refused_port() as port:
        with pytest.raises(errors.FetchError, match="could not connect \\(connection refused\\)"):
            hubfn.hub_resolve(f"http://127.0.0.1:{port}/m.tar.gz")




@pytest.mark.parametrize("fault", ["reset_at", "cut_at"])
def test_drop_mid_body_resumes_with_range(server, big_tgz, cache_dir, fault):
    path = f"/drop/{fault}.tar.gz"
    url = server.add(path, body=big_tgz, **{fault: len(big_tgz) // 2})
    assert os.path.getsize(os.path.join(hubfn.hub_resolve(url), "assets", "noise.bin")) == 2 << 20
    first, second = server.gets(path)
    assert "Range" not in first.headers
    start = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= len(big_tgz) // 2  # data in flight when the connection broke may be lost
    assert second.headers["If-Range"].startswith('"')
    assert [n for n in os.listdir(cache_dir) if "partial" in n or "tmp" in n] == []


def test_stall_hits_the_read_timeout_then_resumes(server, big_tgz, cache_dir, monkeypatch):
    monkeypatch.setenv("HUBFN_READ_TIMEOUT", "0.5")
    url = server.add("/stall.tar.gz", body=big_tgz, stall_at=100_000, stall_secs=5)
    assert hubfn.hub_resolve(url)
    assert server.gets("/stall.tar.gz")[1].headers["Range"] == "bytes=100000-"


def test_stall_forever_is_a_clear_error_and_keeps_the_bytes(server, big_tgz, cache_dir, monkeypatch):
    monkeypatch.setenv("HUBFN_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("HUBFN_RETRIES", "1")
    url = server.add("/stuck.tar.gz", body=big_tgz, stall_at=100_000, stall_secs=3, faults=99)
    with pytest.raises(errors.FetchError, match="stopped at byte 100000 of"):
        hubfn.hub_resolve(url)
    assert entries(cache_dir) == []
    # The bytes so far are kept: the next attempt, against a healthy server, continues from them.
    server.routes["/stuck.tar.gz"].faults = 0
    server.clear()
    assert hubfn.hub_resolve(url)
    assert server.gets("/stuck.tar.gz")[0].headers["Range"] == "bytes=100000-"


def test_server_ignoring_range_means_a_fresh_start(server, big_tgz, cache_dir):
    url = server.add("/norange.tar.gz", body=big_tgz, ranges=False, cut_at=300_000)
    assert hubfn.hub_resolve(url)
    assert len(server.gets("/norange.tar.gz")) == 2
    assert "Range" not in server.gets("/norange.tar.gz")[1].headers


def test_last_modified_validator_is_used_without_etag(server, big_tgz, cache_dir):
    url = server.add("/lm.tar.gz", body=big_tgz, etag=False, last_modified=True, reset_at=500_000)
    assert hubfn.hub_resolve(url)
    assert server.gets("/lm.tar.gz")[1].headers["If-Range"].endswith("GMT")


def test_archive_cut_at_50_points(server, fruit_tgz, cache_dir):
    """Acceptance 5: every cut archive is a clear error and leaves nothing; then a good server works."""
    cuts = np.linspace(1, len(fruit_tgz) - 1, 50).astype(int)
    assert len(set(cuts)) == 50
    messages = []
    for i, cut in enumerate(cuts):
        url = server.add(f"/cut/{i}.tar.gz", body=fruit_tgz[:cut])
        with pytest.raises(errors.ArchiveError) as e:
            hubfn.hub_resolve(url)
        messages.append(str(e.value))
        assert url in messages[-1] and "truncated" in messages[-1]
    assert len(messages) == 50
    assert entries(cache_dir) == []
    assert os.listdir(cache_dir) == [], "failed fetches leave nothing, not even lock files"
    server.add("/cut/0.tar.gz", body=fruit_tgz)
    check_fruit(hubfn.hub_load(server.url("/cut/0.tar.gz")))


def test_body_short_of_content_length_is_never_taken_as_whole(server, fruit_tgz, cache_dir, monkeypatch):
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    url = server.add("/short.tar.gz", body=fruit_tgz, cut_at=len(fruit_tgz) - 10, faults=99)
    with pytest.raises(errors.FetchError, match=f"stopped at byte {len(fruit_tgz) - 10} of {len(fruit_tgz)}"):
        hubfn.hub_resolve(url)
    assert entries(cache_dir) == []


@pytest.mark.parametrize("ranges", [True, False], ids=["resumable", "not-resumable"])
@pytest.mark.parametrize("retries", ["0", "2"])
@pytest.mark.parametrize("first", [b"x", b"<", b"\0"], ids=["text", "markup", "zero"])
def test_one_byte_of_a_promised_tar_is_a_truncated_download(server, cache_dir, monkeypatch, first, retries,
                                                             ranges):
    """Issue 19: a .tar URL whose answer promises 10240 bytes (Content-Length) and sends one before closing
    is a download cut short, whatever that byte looks like, not "not an archive"; every retry (a resume or,
    without range support, a fresh start) is cut the same way."""
    monkeypatch.setenv("HUBFN_RETRIES", retries)
    url = server.add(f"/short/{first.hex()}{retries}{ranges}.tar", body=first * 10240, cut_at=1, faults=99,
                     ranges=ranges, content_type="application/x-tar")
    with pytest.raises(errors.FetchError) as e:
        hubfn.hub_resolve(url)
    assert not isinstance(e.value, errors.NotAnArchiveError), str(e.value)
    assert url in str(e.value) and "cut short" in str(e.value) and "of 10240" in str(e.value), str(e.value)
    attempts = int(retries) + 1
    assert f"after {attempts} attempt{'s' if attempts > 1 else ''} over" in str(e.value), str(e.value)
    assert len(server.gets(url.split(str(server.port))[1])) == attempts
    assert entries(cache_dir) == []


def test_archive_without_saved_model_at_root(server, fruit_dir, cache_dir, tmp_path):
    import shutil

    nested = tmp_path / "nested"
    shutil.copytree(fruit_dir, nested / "fruit")
    url = server.add("/nested.tar.gz", body=servers.targz(nested))
    with pytest.raises(errors.NotAModuleError, match="one directory 'fruit'"):
        hubfn.hub_resolve(url)
    assert entries(cache_dir) == []


def test_threads_in_one_process_share_one_download(server, big_tgz, cache_dir):
    from concurrent.futures import ThreadPoolExecutor

    url = server.add("/threads.tar.gz", body=big_tgz, rate=8e6)
    with ThreadPoolExecutor(4) as pool:
        paths = set(pool.map(hubfn.hub_resolve, [url] * 4))
    assert len(paths) == 1 and len(server.gets("/threads.tar.gz")) == 1


def test_proxy_from_the_environment(server, fruit_tgz, cache_dir, monkeypatch):
    # The test server answers absolute-URI requests too, so it can play the proxy for a made-up host.
    server.add("/via-proxy/fruit.tar.gz", body=fruit_tgz)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.url(""))
    url = "http://modules.invalid/via-proxy/fruit.tar.gz"
    assert os.path.isfile(os.path.join(hubfn.hub_resolve(url), "saved_model.pb"))
    assert server.gets("/via-proxy/fruit.tar.gz")[0].headers["Host"] == "modules.invalid"


def test_unwritable_cache_is_a_cache_error(server, fruit_tgz, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(blocker / "cache"))
    url = server.add("/unwritable.tar.gz", body=fruit_tgz)
    with pytest.raises(errors.CacheError, match="cannot write the cache directory.*TFHUB_CACHE_DIR"):
        hubfn.hub_resolve(url)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    files = servers.self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if files is None:
        pytest.skip("openssl is needed to make a test certificate")
    return files


def test_tls_ca_bundle_and_disabled_validation(fruit_tgz, cache_dir, monkeypatch, tls_files):
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    with servers.ModuleServer(tls=tls_files) as tls:
        url = tls.add("/secure/fruit.tar.gz", body=fruit_tgz)
        for name in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", os.path.join(os.path.dirname(tls_files[0]), "missing.pem"))
        with pytest.raises(errors.FetchError, match="missing.pem.*REQUESTS_CA_BUNDLE"):
            hubfn.hub_resolve(url)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        with pytest.raises(errors.FetchError, match="TLS error.*REQUESTS_CA_BUNDLE"):
            hubfn.hub_resolve(url)  # self-signed: refused by the default CA store
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_files[0])
        assert hubfn.hub_resolve(url)
        hubfn.cache_remove(all=True)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        monkeypatch.setenv("TFHUB_DISABLE_CERT_VALIDATION", "true")
        with pytest.warns(UserWarning, match="TFHUB_DISABLE_CERT_VALIDATION"):
            assert hubfn.hub_resolve(url)
