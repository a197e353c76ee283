"""Environment shared with tensorflow_hub: TFHUB_DISABLE_CERT_VALIDATION means the same to both libraries.

A real HTTPS server on 127.0.0.1 with a self-signed certificate: for each value of the variable, hubfn
and tensorflow_hub either both refuse the certificate or both accept it (tensorflow_hub accepts exactly
the value "true").
"""


import pytest

import hubfn
import servers
from hubfn import errors


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, fruit_tgz):
    files = servers.self_signed_certificate(tmp_path_factory.mktemp("tls-env"))
    if files is None:
        pytest.skip("openssl is needed to make a test certificate")
    with servers.ModuleServer(tls=files) as s:
        s.add("/m.tar.gz", body=fruit_tgz)
        yield s


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", " true", None])
def test_cert_validation_switch_is_read_as_tensorflow_hub_reads_it(tls_server, tmp_path, monkeypatch, value):
    from tensorflow_hub import compressed_module_resolver

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    if value is None:
        monkeypatch.delenv("TFHUB_DISABLE_CERT_VALIDATION", raising=False)
    else:
        monkeypatch.setenv("TFHUB_DISABLE_CERT_VALIDATION", value)
    url = tls_server.url("/m.tar.gz")

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "theirs"))
    try:
        # tensorflow_hub reads the variable when a resolver is made (its registered ones: at import).
        compressed_module_resolver.HttpCompressedFileResolver()(url)
        theirs = True
    except Exception:  # the peer's own error types; only whether it accepted the certificate matters
        theirs = False

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "ours"))
    try:
        with pytest.warns(UserWarning, match="TFHUB_DISABLE_CERT_VALIDATION") if value == "true" else _nothing():
            hubfn.hub_resolve(url)
        ours = True
    except errors.FetchError as e:
        assert "TLS error" in str(e)
        ours = False
    assert ours == theirs == (value == "true")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
