"""Issue 18, bullet 3 (server side): a private hub. With a token, `serve_modules` and `hubfn serve
--token-file` answer every request that does not carry it with the same 401, and never show the token.

Real servers on 127.0.0.1 (in-process waitress, and `hubfn serve` subprocesses), real clients (requests,
including its ~/.netrc support through $NETRC).
"""

import base64
import logging
import secrets
import subprocess
import sys

import pytest
import requests
from publish_helpers import build_root, read_log, start_process, stop_process

from hubfn import errors
from hubfn.publish.auth import read_token_file
from hubfn.publish.serve import make_app, run_forever, serve_modules

TOKEN = "tok-" + secrets.token_urlsafe(24)
ROTATED = "new-" + secrets.token_urlsafe(24)  # a second token in the file: both are accepted
WRONG = "bad-" + secrets.token_urlsafe(24)
PAGE, ARCHIVE, PACKED = "/acme/fruit/1", "/acme/fruit/1?tf-hub-format=compressed", "/acme/fruit/2.tar.gz"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def logged():
    """Every log record of this process (hubfn's, waitress's, anyone's) while these tests run."""
    handler, root = _Collect(), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture(autouse=True)
def _no_secret_in_the_log(logged):
    yield
    text = "\n".join(logged.lines)
    assert TOKEN not in text and ROTATED not in text and WRONG not in text


@pytest.fixture(scope="module")
def hubs(tmp_path_factory, fruit_dir, tf1_dir, logged):
    """(open server, private server) serving the same ROOT."""
    base = tmp_path_factory.mktemp("token")
    root = build_root(base, fruit_dir, tf1_dir)
    with serve_modules(root, pack_dir=base / "packs") as open_hub, \
            serve_modules(root, pack_dir=base / "packs", token=[TOKEN, ROTATED]) as private_hub:
        yield open_hub, private_hub


@pytest.fixture
def client():
    """A requests session that ignores ~/.netrc and proxy variables: it sends exactly what a test says."""
    with requests.Session() as s:
        s.trust_env = False
        yield s


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _shown(resp):
    """Everything a client sees of a response but the body bytes of an archive."""
    return "\n".join(f"{k}: {v}" for k, v in resp.headers.items()) + "\n" + resp.content.decode("latin-1")


def _assert_refused(resp):
    assert resp.status_code == 401, resp.text[:300]
    challenges = resp.headers["WWW-Authenticate"]  # requests joins the two headers with ", "
    assert 'Bearer realm="hubfn"' in challenges and 'Basic realm="hubfn"' in challenges
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Type"].startswith("text/plain")


def _comparable(resp):
    return resp.status_code, {k: v for k, v in resp.headers.items() if k not in ("Date", "Server")}, resp.content


# --- refused -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, headers", [
    ("GET", PAGE, {}),
    ("GET", PAGE, {"Accept": "application/json"}),
    ("GET", ARCHIVE, {}),
    ("GET", PACKED, {}),
    ("GET", PACKED, {"Range": "bytes=0-9"}),
    ("GET", "/", {}),
    ("HEAD", PAGE, {}),
    ("HEAD", PACKED, {}),
    ("GET", "/acme/nothing/7", {}),
    ("GET", "/etc/passwd", {}),
    ("POST", PAGE, {}),
])
def test_without_a_token_every_request_gets_the_same_401(hubs, client, method, path, headers):
    _, hub = hubs
    resp = client.request(method, hub.url.rstrip("/") + path, headers=headers, timeout=30)
    _assert_refused(resp)
    missing = client.get(hub.url + "no/such/module", timeout=30)
    # Whether the path exists, and what it is, does not show: same headers, same body.
    if method == "HEAD":
        assert resp.content == b"" and _comparable(resp)[:2] == _comparable(missing)[:2]
    else:
        assert _comparable(resp) == _comparable(missing)
        assert b"Authorization: Bearer" in resp.content and b"netrc" in resp.content


@pytest.mark.parametrize("headers", [
    _bearer(WRONG),
    _bearer(TOKEN[:-1]),
    _bearer(TOKEN + "x"),
    _bearer(""),
    {"Authorization": TOKEN},                    # no scheme
    {"Authorization": f"Token {TOKEN}"},         # a scheme this server does not speak
    _basic("someone", WRONG),
    _basic(TOKEN, ""),                           # the token as the user name is not the password
    {"Authorization": "Basic " + base64.b64encode(TOKEN.encode()).decode()},  # no colon
    {"Authorization": "Basic %%%not-base64%%%"},
    {"X-Token": TOKEN},
])
def test_a_wrong_or_unreadable_credential_is_401(hubs, client, headers):
    _, hub = hubs
    for path in (PAGE, ARCHIVE, "/"):
        _assert_refused(client.get(hub.url.rstrip("/") + path, headers=headers, timeout=30))


def test_a_bad_token_is_logged_without_the_token(hubs, client, caplog):
    _, hub = hubs
    with caplog.at_level(logging.INFO, logger="hubfn"):
        _assert_refused(client.get(hub.url + "acme/fruit/1", headers=_bearer(WRONG), timeout=30))
    assert "refused (bad token)" in caplog.text and "127.0.0.1" in caplog.text
    assert WRONG not in caplog.text and "Bearer" not in caplog.text


# --- accepted ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    _bearer(TOKEN), _bearer(ROTATED), {"Authorization": f"bearer  {TOKEN} "},
    _basic("anyone", TOKEN), _basic("", ROTATED),
])
def test_the_token_opens_every_url_with_the_same_bytes(hubs, client, headers):
    open_hub, hub = hubs
    for path in (ARCHIVE, PACKED):
        got = client.get(hub.url.rstrip("/") + path, headers=headers, timeout=60)
        want = client.get(open_hub.url.rstrip("/") + path, timeout=60)
        assert got.status_code == want.status_code == 200
        assert got.content == want.content and got.headers["ETag"] == want.headers["ETag"]
    page = client.get(hub.url + "acme/fruit/1", headers=headers, timeout=30)
    assert page.status_code == 200 and "fruit_to_pet" in page.text
    listing = client.get(hub.url, headers={**headers, "Accept": "application/json"}, timeout=30).json()
    assert [m["name"] for m in listing["modules"]] == ["acme/fruit/1", "acme/fruit/2", "acme/tf1/1"]
    head = client.head(hub.url.rstrip("/") + PACKED, headers=headers, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(got.content)
    part = client.get(hub.url.rstrip("/") + PACKED, headers={**headers, "Range": "bytes=0-9"}, timeout=30)
    assert part.status_code == 206 and part.content == want.content[:10]
    for resp in (page, head, part):
        assert TOKEN not in _shown(resp) and ROTATED not in _shown(resp)


def test_basic_auth_from_a_netrc_file(hubs, tmp_path, monkeypatch):
    # What requests (and curl --netrc, R's download tools) do with a ~/.netrc line: Basic auth, unasked.
    open_hub, hub = hubs
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login hubfn password {TOKEN}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    got = requests.get(hub.url.rstrip("/") + ARCHIVE, timeout=60)
    assert got.status_code == 200
    assert got.content == requests.get(open_hub.url.rstrip("/") + ARCHIVE, timeout=60).content
    assert requests.get(hub.url + "acme/fruit/1", timeout=30).status_code == 200


# --- caching -----------------------------------------------------------------------------------------
def test_authorized_answers_are_private_to_caches(hubs, client):
    open_hub, hub = hubs
    assert client.get(open_hub.url.rstrip("/") + ARCHIVE, timeout=60).headers["Cache-Control"] == \
        "public, max-age=86400"  # an open hub is unchanged
    for path in (ARCHIVE, PACKED):
        resp = client.get(hub.url.rstrip("/") + path, headers=_bearer(TOKEN), timeout=60)
        assert resp.headers["Cache-Control"] == "private, max-age=86400"
        revalidate = {**_bearer(TOKEN), "If-None-Match": resp.headers["ETag"]}
        again = client.get(hub.url.rstrip("/") + path, headers=revalidate, timeout=30)
        assert again.status_code == 304 and again.headers["Cache-Control"] == "private, max-age=86400"
    for path in (PAGE, "/", "/acme/nothing/7"):
        resp = client.get(hub.url.rstrip("/") + path, headers=_bearer(TOKEN), timeout=30)
        directives = [d.strip() for d in resp.headers["Cache-Control"].split(",")]
        assert "private" in directives and "public" not in directives, (path, directives)


# --- configuring the token ---------------------------------------------------------------------------
def test_a_token_file_holds_one_token_per_line(tmp_path):
    f = tmp_path / "tokens"
    f.write_text(f"{TOKEN}\n")
    assert read_token_file(f) == (TOKEN,)
    f.write_text(f"  {TOKEN}\r\n\n{ROTATED}")  # CRLF, blank lines, no final newline
    assert read_token_file(f) == (TOKEN, ROTATED)


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"\n \n\t\n", "is empty"),
    (f"{TOKEN[:10]} {TOKEN[10:]}\n".encode(), "Line 1 of the token file"),
    (f"{TOKEN}\n{TOKEN[:10]}\x07{TOKEN[10:]}\n".encode(), "Line 2 of the token file"),
    (f"{TOKEN}é\n".encode(), "not plain ASCII"),
    (None, "Cannot read the token file"),   # missing
    ("dir", "Cannot read the token file"),  # a directory (and tests may run as root, so no chmod 000)
])
def test_an_unusable_token_file_is_a_clear_error_without_its_content(tmp_path, content, expected):
    f = tmp_path / "tokens"
    if content == "dir":
        f.mkdir()
    elif content is not None:
        f.write_bytes(content)
    with pytest.raises(errors.ServeError, match=expected) as e:
        run_forever(tmp_path / "root", token_file=f)  # before it listens: nothing to stop
    assert str(f) in str(e.value) and TOKEN[:10] not in str(e.value) and TOKEN[10:] not in str(e.value)


@pytest.mark.parametrize("token", ["", [], ["ok-" + "x" * 20, ""], "two words", b"bytes"])
def test_an_empty_or_unsendable_token_is_refused(tmp_path, token):
    with pytest.raises(errors.ServeError, match="token"):
        make_app(tmp_path, pack_dir=tmp_path.parent / "packs", token=token)


# --- hubfn serve in a subprocess ---------------------------------------------------------------------
def _cli_has_token_file():
    helped = subprocess.run([sys.executable, "-m", "hubfn", "serve", "--help"], capture_output=True, text=True,
                            timeout=60)
    return "--token-file" in helped.stdout


def _serve_command(how, root, pack_dir, token_file):
    if how == "cli":
        if not _cli_has_token_file():
            pytest.skip("hubfn serve has no --token-file flag yet (cli.py passes it to run_forever)")
        return [sys.executable, "-m", "hubfn", "serve", str(root), "--port", "0", "--pack-dir", str(pack_dir),
                "--token-file", str(token_file)]
    code = ("import sys; from hubfn.publish.serve import run_forever; "
            "sys.exit(run_forever(sys.argv[1], port=0, pack_dir=sys.argv[2], token_file=sys.argv[3]))")
    return [sys.executable, "-c", code, str(root), str(pack_dir), str(token_file)]


@pytest.mark.parametrize("how", ["run_forever", "cli"])
def test_a_private_hub_in_a_subprocess(hubs, client, tmp_path, how):
    open_hub, _ = hubs
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{TOKEN}\n{ROTATED}\n")
    cmd = _serve_command(how, open_hub.app.store.root, tmp_path / "packs", token_file)
    proc, m = start_process(cmd, r"(http://127\.0\.0\.1:\d+/)")
    try:
        url = m.group(1).rstrip("/")
        for path in (PAGE, ARCHIVE, PACKED, "/", "/acme/nothing/7"):
            _assert_refused(client.get(url + path, timeout=30))
            _assert_refused(client.get(url + path, headers=_bearer(WRONG), timeout=30))
        _assert_refused(client.head(url + PACKED, timeout=30))
        want = client.get(open_hub.url.rstrip("/") + ARCHIVE, timeout=60).content
        for headers in (_bearer(TOKEN), _bearer(ROTATED), _basic("me", TOKEN)):
            got = client.get(url + ARCHIVE, headers=headers, timeout=60)
            assert got.status_code == 200 and got.content == want
            assert got.headers["Cache-Control"] == "private, max-age=86400"
            page = client.get(url + PAGE, headers=headers, timeout=30)
            assert page.status_code == 200 and TOKEN not in _shown(page) and ROTATED not in _shown(page)
    finally:
        proc.terminate()
        proc.wait(15)
        output = read_log(proc)  # all of it, shutdown included (stop_process removes the file)
        assert stop_process(proc) == 0
    assert "2 token(s)" in output and str(token_file) in output
    assert "refused (bad token) from 127.0.0.1" in output  # the log is captured: the absence below means something
    assert TOKEN not in output and ROTATED not in output and WRONG not in output


def test_hubfn_loads_from_a_private_hub_with_its_token(hubs, tmp_path, monkeypatch):
    """The client side against the server side: hub_load(token=) and ~/.netrc reach a private hubfn serve."""
    import hubfn
    from hubfn import errors

    _, private_hub = hubs
    url = private_hub.url.rstrip("/") + PAGE
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HUBFN_TOKEN_OVER_HTTP", raising=False)
    with pytest.raises(errors.AccessError, match="HTTP 401"):
        hubfn.hub_resolve(url)
    with pytest.raises(errors.AccessError, match="not sent, because the URL is plain http"):
        hubfn.hub_resolve(url, token=TOKEN)
    m = hubfn.hub_load(url, settings=hubfn.Settings.make(token=TOKEN, token_over_http=True))
    assert set(m({"apples": [1.0], "oranges": [2.0]}, signature="fruit_to_pet", as_dict=True))
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login me password {ROTATED}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HUBFN_TOKEN_OVER_HTTP", "1")
    assert hubfn.hub_resolve(url, cache_dir=tmp_path / "other")
