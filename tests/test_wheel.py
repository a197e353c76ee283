"""hubfn installs beside a NumPy 2 stack (issue 27, items 1 and 3).

The wheel and sdist are built from this checkout (`python -m build`), and the wheel is pip-installed into
a fresh virtualenv (no system site-packages) that already holds NumPy 2 and pandas 3. The install must
keep those versions, and hubfn must then load, apply, export and pack a module there, from a module
written in that environment. The virtualenv is made once per test session; pip takes TensorFlow from
its cache (or the package index), so the set-up costs an install of TensorFlow, printed with the result.
"""

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = ["numpy>=2", "pandas>=3"]  # what a 2026 Python environment already has


def _run(cmd, **kw):
    ran = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert ran.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    return ran.stdout


@pytest.fixture(scope="session")
def dists(tmp_path_factory, report_figure):
    """The sdist and wheel built from this checkout: {"sdist": path, "wheel": path, "seconds": s}."""
    out = tmp_path_factory.mktemp("dist")
    start = time.monotonic()
    # the sdist first, then the wheel built from it: so the sdist is complete enough to build from
    _run([sys.executable, "-m", "build", "--outdir", str(out), ROOT], timeout=600)
    seconds = time.monotonic() - start
    sdist = next(out.glob("hubfn-*.tar.gz"))
    wheel = next(out.glob("hubfn-*.whl"))
    report_figure(f"wheel test: python -m build (sdist, then the wheel from it): {seconds:.0f} s")
    return {"sdist": sdist, "wheel": wheel, "seconds": seconds}


def _versions(python):
    code = "import json, numpy, pandas; print(json.dumps({'numpy': numpy.__version__, 'pandas': pandas.__version__}))"
    return json.loads(_run([python, "-c", code]).strip().splitlines()[-1])


@pytest.fixture(scope="session")
def numpy2_env(dists, tmp_path_factory, report_figure):
    """A fresh virtualenv with NumPy 2 and pandas 3, then the wheel: (its python, versions before, after)."""
    venv = tmp_path_factory.mktemp("numpy2-env") / "venv"
    start = time.monotonic()
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"]
    _run(pip + STACK, timeout=900)
    before = _versions(python)
    stack_seconds = time.monotonic() - start
    start = time.monotonic()
    _run(pip + [str(dists["wheel"])], timeout=1800)
    wheel_seconds = time.monotonic() - start
    after = _versions(python)
    report_figure(f"wheel test: a fresh virtualenv with {', '.join(STACK)} in {stack_seconds:.0f} s, then the wheel "
                  f"(TensorFlow with it) in {wheel_seconds:.0f} s; before the wheel {before}, after {after}")
    return python, before, after


def test_sdist_and_wheel_hold_the_package_and_no_numpy_cap(dists):
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = whl.namelist()
        meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "hubfn/__init__.py" in names and "hubfn/fetch/cache.py" in names and "hubfn/spark/udf.py" in names
    assert not any(n.startswith("tests/") for n in names)
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    numpy_req = [r for r in requires if r.lower().startswith("numpy")]
    assert numpy_req and all("<" not in r for r in numpy_req), numpy_req
    for pkg in ("pandas", "pyarrow"):  # the spark extra takes what fits the NumPy installed
        assert all("<" not in r.split(";")[0] for r in requires if r.lower().startswith(pkg)), requires
    with tarfile.open(dists["sdist"]) as sd:
        members = sd.getnames()
    assert any(m.endswith("/pyproject.toml") for m in members) and any(m.endswith("/hubfn/api.py") for m in members)


def test_installing_the_wheel_keeps_numpy_2_and_pandas_3(numpy2_env):
    _, before, after = numpy2_env
    assert int(before["numpy"].split(".")[0]) >= 2 and int(before["pandas"].split(".")[0]) >= 3
    assert after == before


SCRIPT = textwrap.dedent("""
    import json, os, sys, tarfile
    import numpy as np
    import tensorflow as tf
    import hubfn

    work = sys.argv[1]

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def __call__(self, x):
            return 2.0 * x + 1.0

    exported = hubfn.export_savedmodel(Doubler(), os.path.join(work, "doubler"))
    m = hubfn.hub_load(exported)
    y = m(np.array([[1.0, 2.0], [3.0, 4.0]]))
    batched = hubfn.module_apply(m, np.ones((5, 2), np.float32), batch_size=2)
    archive = hubfn.pack_module(exported, os.path.join(work, "doubler.tar.gz"))
    with tarfile.open(archive) as t:
        packed = sorted(n for n in t.getnames() if n.endswith("saved_model.pb"))
    print(json.dumps({"y": np.asarray(y).tolist(), "batched": np.asarray(batched).tolist(), "packed": packed,
                      "hubfn": os.path.dirname(hubfn.__file__), "numpy": np.__version__}))
""")


def test_the_installed_wheel_loads_applies_exports_and_packs(numpy2_env, tmp_path):
    python, before, _ = numpy2_env
    (tmp_path / "use.py").write_text(SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH="")
    out = _run([python, str(tmp_path / "use.py"), str(tmp_path)], env=env, cwd=str(tmp_path), timeout=600)
    got = json.loads(out.strip().splitlines()[-1])
    assert got["y"] == [[3.0, 5.0], [7.0, 9.0]]
    assert got["batched"] == [[3.0, 3.0]] * 5
    assert got["packed"] == ["./saved_model.pb"] or got["packed"][0].endswith("saved_model.pb")
    assert got["numpy"] == before["numpy"]
    venv = os.path.dirname(os.path.dirname(python))
    assert got["hubfn"].startswith(venv), "hubfn came from the wheel in that env, not from this checkout"
    # and the command line the wheel installs
    info = _run([os.path.join(venv, "bin", "hubfn"), "info", str(tmp_path / "doubler")], env=env, timeout=300)
    assert "__call__" in info or "serving_default" in info


def test_the_spark_extra_resolves_without_moving_numpy_or_pandas(numpy2_env, dists, tmp_path):
    """pip's resolution of hubfn[spark] in that env (a dry run: PySpark is not installed) keeps the stack."""
    python, before, _ = numpy2_env
    report = tmp_path / "report.json"
    _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--dry-run", "--report", str(report),
          f"{dists['wheel']}[spark]"], timeout=600)
    planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    assert "pyspark" in planned and "pyarrow" in planned, planned
    assert "numpy" not in planned and "pandas" not in planned, f"hubfn[spark] would change {planned}"
