"""The reference documentation (issue 27, item 4): `mkdocs build --strict` builds it without a warning, the
reference holds every public name, error class, environment variable and command the code has (generated,
so names added later appear without editing the docs), and a page looks right in a real headless Chromium:
its rendered DOM has the API's names, and a screenshot shows the theme's layout (header bar, navigation,
content, table of contents), not a blank or unstyled page.
"""

import ast
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import hubfn
from hubfn import errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def site(tmp_path_factory, report_figure):
    """The docs built with `mkdocs build --strict` into a temporary directory: (site dir, build output)."""
    out = tmp_path_factory.mktemp("docs") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    start = time.monotonic()
    ran = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report_figure(f"docs: mkdocs build --strict in {time.monotonic() - start:.1f} s -> {out}")
    return out, ran.stdout + ran.stderr


def _page(site_dir, path):
    with open(os.path.join(site_dir, path, "index.html"), encoding="utf-8") as f:
        return f.read()


def _anchors(page):
    return set(re.findall(r'\bid="([^"]+)"', page))


def test_docs_build_strict_without_warnings(site):
    _, log = site
    assert not re.search(r"^(WARNING|ERROR)\b", log, re.M), log
    assert "Documentation built" in log


def test_every_public_name_is_in_the_api_reference(site):
    anchors = _anchors(_page(site[0], "reference/api"))
    for name, where in hubfn._PUBLIC.items():
        if where is None or name == "Settings":  # errors and Settings: pages of their own, below
            continue
        assert f"hubfn.{where}.{name}" in anchors, f"hubfn.{name} is not in the API reference"
    for name in ("module_udf", "WorkerStats"):  # hubfn.spark's public names
        assert f"hubfn.spark.{name}" in anchors
    assert "hubfn.settings.Settings" in _anchors(_page(site[0], "reference/settings"))
    assert "hubfn.settings.Settings.make" in _anchors(_page(site[0], "reference/settings"))


def test_every_error_class_is_in_the_errors_reference(site):
    anchors = _anchors(_page(site[0], "reference/errors"))
    classes = [name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.HubError) and not name.startswith("_")]
    assert len(classes) > 10
    missing = [name for name in classes if f"hubfn.errors.{name}" not in anchors]
    assert not missing, f"error classes missing from docs/reference/errors.md: {missing}"


def _env_variables_in_code():
    """Every environment variable name hubfn's code reads: string constants shaped like one, in hubfn/."""
    names = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "hubfn")):
        for fn in files:
            if fn.endswith(".py"):
                with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                names.update(node.value for node in ast.walk(tree)
                             if isinstance(node, ast.Constant) and isinstance(node.value, str)
                             and re.fullmatch(r"(HUBFN|TFHUB|KAGGLE)_[A-Z0-9_]+|SOURCE_DATE_EPOCH|NETRC", node.value))
    return names


def test_every_environment_variable_is_in_the_reference(site):
    page = html.unescape(re.sub(r"<[^>]+>", " ", _page(site[0], "reference/environment")))
    names = _env_variables_in_code()
    assert {"TFHUB_CACHE_DIR", "HUBFN_OFFLINE", "HUBFN_READ_TIMEOUT", "KAGGLE_KEY"} <= names
    missing = sorted(n for n in names if not re.search(rf"\b{n}\b", page))
    assert not missing, f"give these a row of hubfn.settings.TABLE: {missing}"


def test_every_command_is_in_the_cli_reference(site):
    import argparse

    from hubfn.cli import build_parser

    page = html.unescape(_page(site[0], "reference/cli"))

    def commands(parser, path):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from commands(sub, f"{path} {name}")

    seen = list(commands(build_parser(), "hubfn"))
    assert {"hubfn info", "hubfn pack", "hubfn serve", "hubfn cache verify"} <= {p for p, _ in seen}
    for path, parser in seen:
        assert f"<code>{path}</code>" in page, f"{path} has no section"
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, f"{path} {option} is not shown"


# --- in a real browser ------------------------------------------------------------------------------

WIDTH, HEIGHT = 1280, 900


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if CI:
            pytest.fail("chromium is not installed (bash scripts/setup.sh --r installs it)")
        pytest.skip("chromium is not installed (bash scripts/setup.sh --r)")
    return exe


def _run_chromium(args, profile):
    exe = _chromium()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def browser_api_page(site, tmp_path_factory, report_figure):
    """The API reference page in headless Chromium: (its DOM after scripts ran, the screenshot's path)."""
    work = tmp_path_factory.mktemp("browser")
    url = "file://" + os.path.join(str(site[0]), "reference", "api", "index.html")
    dom = _run_chromium(["--dump-dom", url], tempfile.mkdtemp(dir=work))
    assert dom.returncode == 0, dom.stderr[-2000:]
    shot = work / "api-reference.png"
    ran = _run_chromium([f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", url], tempfile.mkdtemp(dir=work))
    assert ran.returncode == 0 and shot.exists(), ran.stderr[-2000:]
    report_figure(f"docs: screenshot of the API reference in headless Chromium: {shot}")
    return dom.stdout, shot


def test_the_api_page_in_a_browser_has_the_apis_names(browser_api_page):
    dom, _ = browser_api_page
    assert "<h1" in dom and "Python API" in dom
    for name in ("hub_load", "module_apply", "export_savedmodel", "pack_module", "hub_layer", "cache_list"):
        where = hubfn._PUBLIC[name]
        assert re.search(rf'<h2[^>]*id="hubfn\.{re.escape(where)}\.{name}"', dom), name
    # the signatures are rendered, and the table of contents lists the names
    text = html.unescape(re.sub(r"<[^>]+>", "", dom))
    assert re.search(r"hub_load\(\s*handle", text) and re.search(r"pack_module\(", text)
    toc = dom[dom.find('data-md-component="toc"'):]
    assert "hub_load" in toc and "cache_remove" in toc
    # the theme's stylesheet is linked (the screenshot test below shows it applied)
    assert re.search(r'<link[^>]+stylesheets/main\.[0-9a-f]+\.min\.css', dom)


def test_the_api_page_in_a_browser_looks_laid_out(browser_api_page):
    """Pixels, not markup: the theme's coloured header bar across the top, a white page below it, and
    text in three columns (navigation, content, table of contents), as Material lays out a wide window.
    An unstyled page (stylesheet missing) has no header bar and one column of text; a blank one, neither."""
    from PIL import Image

    _, shot = browser_api_page
    img = Image.open(shot).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    px = img.load()

    colours = img.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "the screenshot is (nearly) one colour: a blank page"

    # The header: the theme's primary colour (indigo, blue well above red and green) in a full-width band.
    band = [px[x, 24] for x in range(0, WIDTH, 8)]
    indigo = [p for p in band if p[2] > 140 and p[2] - p[0] > 60 and p[2] - p[1] > 40]
    assert len(indigo) > 0.7 * len(band), f"no header bar across the top (row 24: {band[:6]}...)"

    # Below the header the page is mostly white.
    body = img.crop((0, 60, WIDTH, HEIGHT))
    white = sum(n for n, c in body.getcolors(maxcolors=1 << 20) if min(c) > 235)
    assert white > 0.6 * body.size[0] * body.size[1], "the page below the header is not mostly white"

    # Text (dark pixels) in each of the three columns.
    def dark_in(x0, x1):
        region = img.crop((x0, 80, x1, HEIGHT)).convert("L")
        return sum(n for n, v in region.getcolors(maxcolors=256) if v < 110)

    nav, content, toc = dark_in(0, int(WIDTH * 0.2)), dark_in(int(WIDTH * 0.23), int(WIDTH * 0.76)), \
        dark_in(int(WIDTH * 0.79), WIDTH)
    assert nav > 500 and content > 5000 and toc > 500, (nav, content, toc)
    # and a gap between them: the columns are separate, not one block of text running across
    gaps = [x for x in range(int(WIDTH * 0.19), int(WIDTH * 0.24))
            if all(sum(px[x, y]) > 3 * 200 for y in range(300, HEIGHT, 3))]
    assert gaps, "no blank gutter between the navigation and the content"
