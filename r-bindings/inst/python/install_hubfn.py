"""install_hubfn()'s steps, run by the Python R chose to make the virtualenv with (standard library only).

    python install_hubfn.py RESULT VENV CONSTRAINTS REQUIREMENT LABEL [--quiet] [--pip-option=OPT]... [EXTRA]...

Makes the virtualenv VENV if it is not there (afresh if its Python does not run: broken or half-made),
pip-installs REQUIREMENT (LABEL in messages) and EXTRA under the pip constraints file CONSTRAINTS (R's
pins), and checks that the virtualenv's Python imports hubfn. Writes to the file RESULT "ok\\n<hubfn's
version>", or what failed and what to do (the R error's message) and exits 1, after removing a virtualenv
this run made. --quiet: the commands' output goes to a log whose last lines a failure shows, else to the
terminal as they run.
"""

import os
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


def main(argv):
    result, venv, constraints, requirement, label, *rest = argv
    quiet = "--quiet" in rest
    pip_options = [a.split("=", 1)[1] for a in rest if a.startswith("--pip-option=")]
    extra = [a for a in rest if a != "--quiet" and not a.startswith("--pip-option=")]
    vpy = venv_python(venv)
    made = False
    fd, log = tempfile.mkstemp(prefix="hubfn-install-", suffix=".log")
    os.close(fd)

    def done(message, ok=False):
        os.unlink(log)
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
