"""Issue 4: pack modules deterministically and serve them with TF Hub's protocol (pages, JSON, archives)."""

import html.parser
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading

import pytest
import requests
from publish_helpers import build_root

from hubfn import errors
from hubfn.cli import main as cli_main
from hubfn.publish.pack import pack_module
from hubfn.publish.serve import make_app, serve_modules
from hubfn.savedmodel.signatures import read_saved_model


# --- pack -----------------------------------------------------------------------------------------
def test_pack_twice_gives_identical_bytes_and_tar_layout(fruit_dir, tmp_path):
    a = pack_module(fruit_dir, tmp_path / "a.tar.gz")
    b = pack_module(fruit_dir, tmp_path / "sub" / "b.tar.gz")
    assert open(a, "rb").read() == open(b, "rb").read()
    listing = subprocess.run(["tar", "-tzf", a], capture_output=True, text=True, check=True).stdout.split()
    assert listing[0] == "./"
    assert "./saved_model.pb" in listing and "./variables/" in listing
    assert "./variables/variables.index" in listing
    assert listing == sorted(listing)
    verbose = subprocess.run(["tar", "-tvzf", a], capture_output=True, text=True, check=True).stdout
    for line in verbose.splitlines():
        assert line.split()[1] == "0/0", line  # numeric owner, no user names
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_pack_extracts_to_the_module_files(fruit_dir, tmp_path):
    out = pack_module(fruit_dir, tmp_path / "m.tar.gz")
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    for dirpath, _, files in os.walk(fruit_dir):
        for name in files:
            src = os.path.join(dirpath, name)
            dst = tmp_path / "x" / os.path.relpath(src, fruit_dir)
            assert dst.read_bytes() == open(src, "rb").read()
    with tarfile.open(out) as tar:
        modes = {m.name: (m.mode, m.uid, m.gid, m.uname, m.mtime) for m in tar}
    assert modes["."][:3] == (0o755, 0, 0) and modes["./saved_model.pb"][:4] == (0o644, 0, 0, "")


def test_pack_mtime_follows_source_date_epoch(fruit_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = pack_module(fruit_dir, tmp_path / "m.tar.gz")
    with tarfile.open(out) as tar:
        assert {m.mtime for m in tar} == {1700000000}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(errors.ExportError, match="SOURCE_DATE_EPOCH"):
        pack_module(fruit_dir, tmp_path / "n.tar.gz")


def test_pack_refuses_what_is_not_a_module(fruit_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.NotAModuleError, match="saved_model.pb") as e:
        pack_module(tmp_path / "empty", tmp_path / "m.tar.gz")
    assert str(tmp_path / "empty") in str(e.value)
    assert not (tmp_path / "m.tar.gz").exists()
    with pytest.raises(errors.ExportError, match="inside the module"):
        pack_module(fruit_dir, os.path.join(fruit_dir, "self.tar.gz"))


def test_pack_refuses_symlinks_out_of_the_module(fruit_dir, tmp_path):
    mod = tmp_path / "mod"
    shutil.copytree(fruit_dir, mod)
    os.symlink("/etc/passwd", mod / "passwd")
    with pytest.raises(errors.ExportError, match="outside the module"):
        pack_module(mod, tmp_path / "m.tar.gz")
    assert os.listdir(tmp_path) == ["mod"]  # no archive and no temp file left behind


def test_pack_command(fruit_dir, tmp_path, capsys):
    assert cli_main(["pack", str(fruit_dir), "-o", str(tmp_path / "m.tar.gz")]) == 0
    assert "m.tar.gz" in capsys.readouterr().out
    assert cli_main(["pack", str(tmp_path), "-o", str(tmp_path / "n.tar.gz")]) == 1
    assert "saved_model.pb" in capsys.readouterr().err


# --- the served tree ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory, fruit_dir, tf1_dir):
    base = tmp_path_factory.mktemp("publish")
    root = build_root(base, fruit_dir, tf1_dir)
    with serve_modules(root, pack_dir=base / "packs") as server:
        server.root = root
        server.pack_dir = base / "packs"
        yield server


class _PageParser(html.parser.HTMLParser):
    """Signatures from the module page: {(tags, name): {"inputs": [(name, dtype, shape)], "outputs": [...]}}."""

    def __init__(self):
        super().__init__()
        self.sigs, self._tags, self._sig, self._table, self._cell, self._row = {}, None, None, None, None, None
        self.classes = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("class") == "variant":
            self._tags = a["data-tags"]
        elif a.get("class") == "signature":
            self._sig = (self._tags, a["data-name"])
            self.sigs[self._sig] = {"inputs": [], "outputs": []}
        elif tag == "table" and a.get("class") in ("inputs", "outputs"):
            self._table = a["class"]
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        if "class" in a:
            self._text_class = a["class"]
            self.classes.setdefault(a["class"], "")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if getattr(self, "_text_class", None):
            self.classes[self._text_class] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row:
            self.sigs[self._sig][self._table].append(tuple(self._row))
            self._row = None
        elif tag == "table":
            self._table = None
        self._text_class = None


def _shape(shape):
    return "unknown rank" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


@pytest.mark.parametrize("name, fixture", [("acme/fruit/1", "fruit_dir"), ("acme/tf1/1", "tf1_dir"),
                                           ("acme/fruit/2", "fruit_dir")])
def test_module_page_and_json_show_every_signature(served, name, fixture, request):
    info = read_saved_model(str(request.getfixturevalue(fixture)))
    page = requests.get(served.url + name, timeout=60)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    parser = _PageParser()
    parser.feed(page.text)
    expected = {}
    for v in info.variants:
        for s in v.listing:  # signatures, then __call__ and sub-objects (TF2)
            expected[(",".join(sorted(v.tags)), s.name)] = {
                "inputs": [(t.name, t.dtype, _shape(t.shape)) for t in s.inputs],
                "outputs": [(t.name, t.dtype, _shape(t.shape)) for t in s.outputs]}
    assert parser.sigs == expected and expected
    url = served.url + name
    assert f'hubfn.hub_load("{url}")' in parser.classes["load-python"]
    assert f'hub_load("{url}")' in parser.classes["load-r"]

    facts = requests.get(url, headers={"Accept": "application/json"}, timeout=60).json()
    from_json = {(",".join(v["tags"]), s["name"]): {
        "inputs": [(t["name"], t["dtype"], _shape(t["shape"])) for t in s["inputs"]],
        "outputs": [(t["name"], t["dtype"], _shape(t["shape"])) for t in s["outputs"]]}
        for v in facts["variants"] for s in v["signatures"]}
    assert from_json == expected
    assert facts["url"] == url and facts["format"] == info.format and facts["size_bytes"] > 0
    assert parser.classes["format"] == facts["format"]
    assert {tuple(v["tags"]) for v in facts["variants"]} == {tuple(sorted(t)) for t in info.tag_sets}


def test_readme_is_shown_escaped(served):
    page = requests.get(served.url + "acme/fruit/1", timeout=60).text
    assert "Apples &lt;and&gt; oranges." in page and "<and>" not in page
    facts = requests.get(served.url + "acme/fruit/1", headers={"Accept": "application/json"}, timeout=60).json()
    assert facts["readme"] == "# Fruit\n\nApples <and> oranges.\n"


def test_root_lists_the_modules(served):
    got = requests.get(served.url, headers={"Accept": "application/json"}, timeout=30).json()
    assert [m["name"] for m in got["modules"]] == ["acme/fruit/1", "acme/fruit/2", "acme/tf1/1"]
    assert got["modules"][0]["url"] == served.url + "acme/fruit/1"
    page = requests.get(served.url, timeout=30)
    assert 'href="' + served.url + 'acme/tf1/1"' in page.text
    sub = requests.get(served.url + "acme/fruit/", headers={"Accept": "application/json"}, timeout=30).json()
    assert [m["name"] for m in sub["modules"]] == ["acme/fruit/1", "acme/fruit/2"]


def _members(body):
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return tar.getnames()


def test_format_negotiation(served, fruit_dir, tmp_path):
    url = served.url + "acme/fruit/1"
    expected = open(pack_module(fruit_dir, tmp_path / "m.tar.gz"), "rb").read()
    r = requests.get(url + "?tf-hub-format=compressed", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/gzip"
    assert "./saved_model.pb" in _members(r.content)
    assert len(r.content) > 1000
    assert requests.get(url + "?tf-hub-format=uncompressed,compressed&x=1", timeout=30).content == r.content
    bad = requests.get(url + "?tf-hub-format=uncompressed,zip", timeout=30)
    assert bad.status_code == 400 and "compressed" in bad.text and "uncompressed,zip" in bad.text
    # A .tar.gz path is the archive whatever the query (tensorflow_hub appends the parameter anyway).
    for path in ("acme/fruit/2.tar.gz", "acme/fruit/2.tar.gz?tf-hub-format=compressed",
                 "acme/fruit/2.tar.gz?tf-hub-format=nonsense"):
        got = requests.get(served.url + path, timeout=30)
        assert got.status_code == 200 and got.content == expected, path
    # The archive of a packed file stands for its module too.
    assert requests.get(served.url + "acme/fruit/2?tf-hub-format=compressed", timeout=30).content == expected


def test_archive_headers_head_range_and_validators(served):
    url = served.url + "acme/fruit/1?tf-hub-format=compressed"
    full = requests.get(url, timeout=30)
    h = full.headers
    assert int(h["Content-Length"]) == len(full.content)
    assert h["Accept-Ranges"] == "bytes" and h["ETag"].startswith('"') and h["Last-Modified"].endswith("GMT")
    assert "max-age" in h["Cache-Control"]  # ".../1" is a versioned path
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert {k: head.headers[k] for k in ("Content-Length", "ETag", "Last-Modified")} == \
           {k: h[k] for k in ("Content-Length", "ETag", "Last-Modified")}
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.content)}"
    tail = requests.get(url, headers={"Range": "bytes=-50"}, timeout=30)
    assert tail.status_code == 206 and tail.content == full.content[-50:]
    rest = requests.get(url, headers={"Range": "bytes=1000-"}, timeout=30)
    assert rest.content == full.content[1000:]
    over = requests.get(url, headers={"Range": f"bytes={len(full.content)}-"}, timeout=30)
    assert over.status_code == 416 and over.headers["Content-Range"] == f"bytes */{len(full.content)}"
    stale = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'}, timeout=30)
    assert stale.status_code == 200 and stale.content == full.content
    same = requests.get(url, headers={"If-None-Match": h["ETag"]}, timeout=30)
    assert same.status_code == 304 and same.content == b""
    assert requests.post(url, timeout=30).status_code == 405


def test_unversioned_paths_are_revalidated(served, fruit_dir):
    shutil.copytree(fruit_dir, served.root / "acme" / "latest")
    r = requests.head(served.url + "acme/latest?tf-hub-format=compressed", timeout=30)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"


def test_packed_once_and_repacked_when_the_module_changes(served, fruit_dir):
    mod = served.root / "acme" / "changing" / "3"
    shutil.copytree(fruit_dir, mod)
    url = served.url + "acme/changing/3?tf-hub-format=compressed"
    first = requests.get(url, timeout=30)
    again = requests.get(url, timeout=30)
    assert first.content == again.content and first.headers["ETag"] == again.headers["ETag"]
    packs = sorted(os.listdir(served.pack_dir))
    (mod / "README.md").write_text("new\n")
    changed = requests.get(url, timeout=30)
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert "./README.md" in _members(changed.content)
    after = sorted(os.listdir(served.pack_dir))
    assert len([p for p in after if p.endswith(".tar.gz")]) == len([p for p in packs if p.endswith(".tar.gz")])
    assert not any(p.endswith((".partial", ".tmp")) for p in after)


def test_concurrent_first_downloads_all_get_the_whole_archive(served, fruit_dir, tmp_path):
    shutil.copytree(fruit_dir, served.root / "acme" / "rush" / "1")
    expected = open(pack_module(fruit_dir, tmp_path / "m.tar.gz"), "rb").read()
    url = served.url + "acme/rush/1?tf-hub-format=compressed"
    bodies = []

    def fetch():
        bodies.append(requests.get(url, timeout=60).content)

    threads = [threading.Thread(target=fetch) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 12 and all(b == expected for b in bodies)


def test_wsgi_app_streams_without_file_wrapper(served):
    """Under a WSGI server without wsgi.file_wrapper the app streams the archive in chunks itself."""
    from wsgiref.util import setup_testing_defaults

    app = make_app(served.root, pack_dir=served.pack_dir)
    env = {"PATH_INFO": "/acme/fruit/2.tar.gz", "REQUEST_METHOD": "GET"}
    setup_testing_defaults(env)
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = app(env, start_response)
    data = b"".join(body)
    body.close()
    assert seen["status"].startswith("200") and len(data) == int(seen["headers"]["Content-Length"])
    assert data == (served.root / "acme" / "fruit" / "2.tar.gz").read_bytes()


def test_pack_cache_inside_root_must_be_hidden(tmp_path):
    with pytest.raises(errors.HubError, match="inside ROOT"):
        make_app(tmp_path, pack_dir=tmp_path / "packs")
    make_app(tmp_path, pack_dir=tmp_path / ".packs")
    with pytest.raises(errors.ModuleNotFound, match="not a directory"):
        make_app(tmp_path / "missing")


def test_json_is_valid_for_every_listed_module(served):
    names = [m["name"] for m in requests.get(served.url, headers={"Accept": "application/json"}, timeout=30).json()["modules"]]
    for name in names:
        body = requests.get(served.url + name, headers={"Accept": "application/json"}, timeout=60).content
        assert json.loads(body)["name"] == name


def test_refused_module_is_not_listed_and_its_reason_is_logged_once(fruit_dir, tmp_path, caplog):
    """A module dir with an asset symlink leading out of ROOT: never served, never listed, one log line."""
    import logging

    from wsgiref.util import setup_testing_defaults

    root = tmp_path / "root"
    shutil.copytree(fruit_dir, root / "acme" / "good" / "1")
    shutil.copytree(fruit_dir, root / "acme" / "leaky" / "1")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the world\n")
    os.makedirs(root / "acme" / "leaky" / "1" / "assets", exist_ok=True)
    os.symlink(secret, root / "acme" / "leaky" / "1" / "assets" / "vocab.txt")
    app = make_app(root, pack_dir=tmp_path / "packs")

    def get(path, query="", accept="text/html"):
        env = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "HTTP_ACCEPT": accept}
        setup_testing_defaults(env)
        seen = {}
        body = app(env, lambda status, headers: seen.update(status=int(status.split()[0])))
        data = b"".join(body)
        getattr(body, "close", lambda: None)()
        return seen["status"], data

    with caplog.at_level(logging.INFO, logger="hubfn"):
        for _ in range(3):
            status, body = get("/", accept="application/json")
            assert status == 200 and [m["name"] for m in json.loads(body)["modules"]] == ["acme/good/1"]
            status, body = get("/")
            assert status == 200 and b"acme/good/1" in body and b"leaky" not in body
            status, body = get("/acme", accept="application/json")
            assert [m["name"] for m in json.loads(body)["modules"]] == ["acme/good/1"]
            for path, query in [("/acme/leaky/1", ""), ("/acme/leaky/1", "tf-hub-format=compressed"),
                                ("/acme/leaky/1.tar.gz", "")]:
                status, body = get(path, query)
                assert status == 404 and b"not for the world" not in body
                assert b"not served" in body and str(secret).encode() not in body
            assert get("/acme/good/1", "tf-hub-format=compressed")[0] == 200
    said = [r.getMessage() for r in caplog.records if "leaky" in r.getMessage()]
    assert len(said) == 1, said
    assert "symlink" in said[0] and str(secret) in said[0]
