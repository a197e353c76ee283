"""install_hubfn()'s steps, run by the Python R chose to make the virtualenv with (standard library only).

    python install_hubfn.py RESULT VENV CONSTRAINTS PACKAGE [--bundled] [--quiet] [--pip-option=OPT]... [EXTRA]...
    python install_hubfn.py --check

Works out what pip installs as hubfn from PACKAGE (`hubfn_source`: a source checkout is copied to a
temporary directory first; --bundled: PACKAGE is the R package's bundled sources), makes the virtualenv
VENV if it is not there (afresh if its Python does not run: broken or half-made), pip-installs hubfn and
EXTRA under the pip constraints file CONSTRAINTS (R's pins), and checks that the virtualenv's Python
imports hubfn. Writes to the file RESULT "ok\n<hubfn's version>", or what failed and what to do (the R
error's message) and exits 1, after removing a virtualenv this run made. --quiet: the commands' output goes
to a log whose last lines a failure shows, else to the terminal as they run.

--check prints why this Python cannot make the virtualenv, or "ok" (`check`): R runs it with each Python
it may choose, from R, whose library path can break ssl.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def venv_python(path):
    return os.path.join(path, "Scripts", "python.exe") if os.name == "nt" else os.path.join(path, "bin", "python")


def runs(python):
    try:
        return subprocess.run([python, "-c", "print(1)"], capture_output=True, text=True, check=False).stdout.strip() == "1"
    except OSError:
        return False


def pins(constraints):
    with open(constraints, encoding="utf-8") as f:
        lines = (line.split("#", 1)[0].strip() for line in f)
        return [line for line in lines if line]


def check():
    """Why this Python cannot make hubfn's virtualenv, or "ok": it must be 3.10+ with working ssl and venv."""
    if sys.version_info < (3, 10):
        return "Python %d.%d is older than 3.10" % sys.version_info[:2]
    try:
        import ensurepip  # noqa: F401
        import ssl  # noqa: F401
        import venv  # noqa: F401
    except Exception as e:  # noqa: BLE001 (the problem is what R shows)
        return f"{type(e).__name__}: {e}"
    return "ok"


class Refused(Exception):
    """PACKAGE cannot be installed as given; the message says what to pass instead."""


# What a copy of a source checkout leaves out (besides directories that are not Python packages).
SKIP = re.compile(r"^(\..*|build|dist|.*\.egg-info|__pycache__|venv|tests|r-bindings|vignettes|bench|scripts)$")


def hubfn_source(package, bundled=False):
    """What pip installs as hubfn: (requirement, label, a temporary directory to remove or None). A source
    checkout is copied (its top-level files and Python packages) to a temporary directory, where pip may
    write its build files; anything else (a wheel, a pip requirement) is passed as it is."""
    if bundled and not (package and os.path.isfile(os.path.join(package, "pyproject.toml"))):
        raise Refused("This build of the hubfn R package carries no hubfn Python sources. Build the R package with "
                      "`bash r-bindings/build.sh` (it bundles them), or pass install_hubfn(package = \"/path/to/hubfn "
                      "checkout\").")
    path = os.path.expanduser(package)
    if not os.path.isdir(path):
        return package, package, None
    path = os.path.realpath(path)
    if not any(os.path.exists(os.path.join(path, f)) for f in ("pyproject.toml", "setup.py")):
        raise Refused(f"'{package}' has no pyproject.toml or setup.py: pass a hubfn source checkout.")
    tmp = tempfile.mkdtemp(prefix="hubfn-src-")
    dest = os.path.join(tmp, "hubfn-src")
    os.mkdir(dest)
    try:
        for entry in os.listdir(path):
            src = os.path.join(path, entry)
            if SKIP.match(entry):
                continue
            if not os.path.isdir(src):
                shutil.copy2(src, dest)
            elif os.path.isfile(os.path.join(src, "__init__.py")):
                shutil.copytree(src, os.path.join(dest, entry), ignore=shutil.ignore_patterns("__pycache__"))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest, f"hubfn (from {package})", tmp


def main(argv):
    if argv == ["--check"]:
        print(check())
        return 0
    result, venv, constraints, package, *rest = argv
    quiet = "--quiet" in rest
    pip_options = [a.split("=", 1)[1] for a in rest if a.startswith("--pip-option=")]
    extra = [a for a in rest if a not in ("--quiet", "--bundled") and not a.startswith("--pip-option=")]
    vpy = venv_python(venv)
    made = False
    copy = None
    fd, log = tempfile.mkstemp(prefix="hubfn-install-", suffix=".log")
    os.close(fd)

    def done(message, ok=False):
        os.unlink(log)
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)
        if made and not ok:
            shutil.rmtree(venv, ignore_errors=True)
        with open(result, "w", encoding="utf-8") as f:
            f.write(message)
        return 0 if ok else 1

    def run(cmd, what):
        with open(log, "a", encoding="utf-8") as out:
            rc = subprocess.run(cmd, stdout=out if quiet else None, stderr=subprocess.STDOUT if quiet else None,
                                check=False).returncode
        if rc == 0:
            return None
        with open(log, encoding="utf-8", errors="replace") as f:
            tail = f.read().splitlines()[-25:]
        return done(f"{what} failed (exit status {rc})" + (":\n" + "\n".join(tail) if tail else "")
                    + (f"\nThe half-made virtualenv {venv} was removed." if made else "")
                    + "\nFix the problem above and run install_hubfn() again (pip must reach the package index for "
                    + 'TensorFlow; pass pip_options, e.g. "--index-url=...", if it is elsewhere).')

    if not os.path.isfile(constraints):
        return done("This build of the hubfn R package lacks python/constraints.txt; reinstall it.")
    try:
        requirement, label, copy = hubfn_source(package, "--bundled" in rest)
    except (Refused, OSError) as e:
        return done(str(e) if isinstance(e, Refused) else f"Copying the hubfn sources {package} failed: {e}")
    if os.path.isdir(venv) and not runs(vpy):
        shutil.rmtree(venv, ignore_errors=True)
    if not os.path.isdir(venv):
        os.makedirs(os.path.dirname(os.path.abspath(venv)), exist_ok=True)
        made = True
        failed = run([sys.executable, "-m", "venv", venv], f"Making the virtualenv {venv} with {sys.executable}")
        if failed is not None:
            return failed
    failed = run([vpy, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *pip_options,
                  "-c", constraints, requirement, *extra],
                 f"pip install {' '.join([label, *extra])} (pins: {', '.join(pins(constraints))})")
    if failed is not None:
        return failed
    got = subprocess.run([vpy, "-c", "import hubfn, numpy; print(hubfn.__version__)"], capture_output=True, text=True,
                         check=False)
    if got.returncode != 0 or not got.stdout.strip():
        return done(f"hubfn was installed into {venv} but its Python cannot import it; run install_hubfn() again."
                    + (" (The virtualenv was removed.)" if made else ""))
    return done("ok\n" + got.stdout.strip().splitlines()[-1], ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
