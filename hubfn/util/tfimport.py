"""The one way hubfn imports TensorFlow (and Keras): without TensorFlow's CUDA probing lines on a machine
that has no GPU, and without hiding anything else TensorFlow prints.

Why. TensorFlow's Linux wheels are CUDA builds. On a machine with no GPU they print, from C++ and before
TensorFlow has set up its logging (so TF_CPP_MIN_LOG_LEVEL does not reach them), at `import tensorflow`:

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796286640.126137    8959 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.

(twice: two libraries probe) and, the first time devices are listed:

    E0000 00:00:1796286643.574451    8959 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

TensorFlow has no setting that silences them (TF_CPP_MIN_LOG_LEVEL=3, GLOG_minloglevel, ABSL_MIN_LOG_LEVEL
and CUDA_VISIBLE_DEVICES=-1 do not); the documented way out is the tensorflow-cpu package, which is the
user's choice of install, not hubfn's. So while hubfn makes the process's first TensorFlow import (and
lists the devices, which is when the cuInit line comes; it costs under a millisecond and leaves every
tf.config setting open), file descriptor 2 points at a pipe read by a small forwarder process: this file,
run as a script by the same Python. It passes every line on to the real stderr at once, except the
probing lines above (matched by source file AND message, see _PROBES) and the absl banner when the next
line is one of them. Then fd 2 is restored.

Why a process and not a thread: if TensorFlow aborts or crashes during its import (an unsupported CPU, a
broken install), a thread dies with the process before it has passed on the last words, and those are
the ones that matter. The forwarder outlives the crash, reads the pipe to its end and prints it all; and
whenever the import did not finish (an exception, a crash), it also prints the lines it held back, so a
failure is shown with everything TensorFlow said.

When nothing is done (TensorFlow is imported as is): TensorFlow is already imported (whoever imported it
saw its lines already); not Linux; a GPU device node exists (/dev/nvidiactl, /proc/driver/nvidia, or
WSL's /dev/dxg: there CUDA may work, and these lines are worth reading); HUBFN_QUIET_TF=0; fd 2 is closed;
or sys.executable is not a Python (an embedding program) or the forwarder cannot start.

Threads. One lock covers the first import; other threads' writes to fd 2 during it go through the
forwarder like TensorFlow's (a line of theirs is passed on when it is complete, or at the end). Any
process started meanwhile inherits the pipe as its stderr, and the forwarder keeps passing its output on
until it exits. Nothing else of the process changes: fd 2 is the same file before and after.

This module imports only the standard library at its top, so that it runs as the forwarder with
`python -I -S` (isolated, no site-packages: fast to start and untouched by the environment).
"""

import os
import re
import subprocess
import sys
import threading

_lock = threading.RLock()  # reentrant: TensorFlow's import may import Keras, whose hook imports hubfn
_done = False  # the first import (through here or not) has finished in this process


def import_tensorflow():
    """The `tensorflow` module; its first import in a process drops TensorFlow's CUDA probing lines on
    a machine without a GPU (see the module docstring)."""
    global _done
    if not _done:
        with _lock:
            if not _done:
                _first_import()
                _done = True
    import tensorflow

    return tensorflow


def import_keras():
    """The `keras` module, TensorFlow first: Keras's TensorFlow backend would otherwise make the first
    TensorFlow import itself, with the probing lines."""
    import_tensorflow()
    import keras

    return keras


def _first_import():
    # Already imported (or being imported by another thread: `import` then waits for it): nothing to hide.
    if "tensorflow" in sys.modules or not _quiet_wanted():
        import tensorflow  # noqa: F401
        return
    forwarder = _Forwarder.start()
    if forwarder is None:
        _import_and_list_devices()
        return
    finished = False
    try:
        _import_and_list_devices()
        finished = True
    finally:
        forwarder.stop(finished)


def _import_and_list_devices():
    import tensorflow as tf

    tf.config.list_physical_devices()  # TensorFlow's CUDA probe at device listing (the cuInit line)


def _quiet_wanted():
    if not sys.platform.startswith("linux"):  # the CUDA wheels that print these lines are Linux's
        return False
    if _gpu_present():
        return False
    from ..settings import process_setting

    return process_setting("quiet_tf")


# A GPU's driver shows these; without any, CUDA cannot work here, so the probe lines only say that. They
# are looked at, never opened, and libcuda is not loaded to find out (that would change the process; and
# a libcuda without a device does not make a GPU usable either).
_GPU_PATHS = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg")


def _gpu_present():
    return any(os.path.exists(p) for p in _GPU_PATHS)


def _flush_python_stderr():
    # Python's own buffered stderr writes to fd 2: empty it at each switch, so its text lands on the
    # side of the switch it was written on, in order.
    streams = [sys.stderr] if sys.stderr is sys.__stderr__ else [sys.stderr, sys.__stderr__]
    for stream in streams:
        if stream is None:  # no stderr at all (pythonw, some daemons)
            continue
        try:
            stream.flush()
        except Exception:  # a replaced stderr that cannot flush (closed, or no such method)
            pass


class _Forwarder:
    """The forwarder process and what the importing process needs to undo the switch of fd 2."""

    def __init__(self, proc, saved_fd, done_fd):
        self.proc, self.saved_fd, self.done_fd = proc, saved_fd, done_fd

    @classmethod
    def start(cls):
        """Start the forwarder and point fd 2 at it; None (and nothing changed) when it cannot start."""
        exe, script = sys.executable, os.path.abspath(__file__)
        # An embedding program (uwsgi, a C++ host) may name itself in sys.executable: never run that.
        if not exe or not os.path.basename(exe).lower().startswith("python") or not os.path.isfile(script):
            return None
        try:
            saved = os.dup(2)  # the real stderr, restored at the end
        except OSError:  # no fd 2 at all: nothing would be printed anyway
            return None
        lines_r, lines_w = os.pipe()  # what is written to fd 2 meanwhile
        done_r, done_w = os.pipe()  # one word from the importer at the end: "ok" when the import finished
        try:
            # Its own session: a Ctrl-C (or a kill of the process group) meant for the importer must not
            # stop the forwarder while the pipe may still hold the importer's last lines.
            proc = subprocess.Popen([exe, "-I", "-S", script, str(done_r)], stdin=lines_r, stdout=saved,
                                    stderr=saved, pass_fds=(done_r,), start_new_session=True)
        except OSError:
            for fd in (saved, lines_w, done_w):
                os.close(fd)
            return None
        finally:
            for fd in (lines_r, done_r):  # the forwarder's ends: it has them now
                os.close(fd)
        _flush_python_stderr()
        os.dup2(lines_w, 2)
        os.close(lines_w)
        return cls(proc, saved, done_w)

    def stop(self, finished):
        """Restore fd 2, tell the forwarder whether the import finished, and wait until it has printed
        everything (so what follows on stderr comes after it)."""
        _flush_python_stderr()
        os.dup2(self.saved_fd, 2)  # also closes fd 2's hold on the pipe: the forwarder sees its end
        os.close(self.saved_fd)
        try:
            if finished:
                os.write(self.done_fd, b"ok")
        finally:
            os.close(self.done_fd)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # a process started meanwhile still holds the pipe; the forwarder serves it until it exits


# --- the forwarder (this file run as a script) ---------------------------------------------------------
# A TensorFlow log line: absl's format (TF >= 2.17) "I0000 00:00:1796286640.126137    8959 file.cc:31] msg",
# or TensorFlow's own (TF 2.16) "2024-03-10 14:23:11.123456: I external/local_tsl/tsl/cuda/file.cc:32] msg".
_LOG_LINE = re.compile(rb"(?:[IWEF]\d{4} [\d:.]+ +\d+ |\d{4}-\d\d-\d\d [\d:.]+: [IWEF] )"
                       rb"(?:\S*/)?(?P<file>[\w.]+):\d+\] (?P<message>.*)")
# The probing lines: (source file, start of the message), both must match. Other lines from the same files
# (a GPU that fails for a real reason) do not.
_PROBES = tuple((re.compile(f), re.compile(m)) for f, m in (
    (rb"cudart_stub\.cc", rb"Could not find cuda drivers on your machine, GPU will not be used\."),
    (rb"cuda_(?:platform|driver|executor)\.cc", rb"failed call to cuInit: "),
    # TF 2.15-2.16 also said this on every CPU-only import (each GPU library registered twice).
    (rb"cuda_(?:dnn|blas|fft)\.cc", rb"Unable to register cu(?:DNN|BLAS|FFT) factory: "),
))
# absl prints this before its first line; dropped only together with a probe line right after it.
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def is_probe_line(line: bytes) -> bool:
    """Whether `line` (without its newline) is one of TensorFlow's CUDA probing lines."""
    m = _LOG_LINE.fullmatch(line.rstrip(b"\r"))
    return bool(m) and any(f.fullmatch(m["file"]) and msg.match(m["message"]) for f, msg in _PROBES)


class ProbeFilter:
    """Whole lines in, what to print out; the dropped lines are kept (`dropped`) for a failed import."""

    def __init__(self):
        self.banner = None  # a banner line waiting for the next line, which decides its fate
        self.dropped = []

    def feed(self, line: bytes) -> bytes:
        """`line` ends with b"\\n"; returns the bytes to print now (maybe none, maybe a held banner too)."""
        body = line.rstrip(b"\n")
        if body.rstrip(b"\r") == _BANNER:
            out, self.banner = self.finish(), line
            return out
        if is_probe_line(body):
            self.dropped += [b for b in (self.banner, line) if b is not None]
            self.banner = None
            return b""
        return self.finish() + line

    def finish(self) -> bytes:
        """The held banner, if any (the end came, or a line that is not a probe)."""
        out, self.banner = self.banner or b"", None
        return out


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def forward(src, dst, done_fd):
    """Copy src to dst line by line through a ProbeFilter until src ends; then, unless done_fd says "ok",
    print the dropped lines as well."""
    keep, pending, writable = ProbeFilter(), b"", True
    while True:
        chunk = os.read(src, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        out = b"".join(keep.feed(line + b"\n") for line in lines)
        if out and writable:
            try:
                _write_all(dst, out)
            except OSError:  # stderr went away: keep reading, so the importer never blocks on the pipe
                writable = False
    out = keep.finish() + pending  # a last line without a newline is printed as it is
    if os.read(done_fd, 2) != b"ok":
        out += b"".join(keep.dropped)
    if out and writable:
        try:
            _write_all(dst, out)
        except OSError:
            pass


if __name__ == "__main__":
    forward(0, 1, int(sys.argv[1]))
