"""How `hubfn serve` keeps clients that hold connections from locking others out.

Left at its defaults, waitress accepts at most 100 connections and closes one only after 120 s without
traffic, so 100 clients that connect and send nothing (or half a request) shut everyone else out for two
minutes. `hubfn serve` instead:
- closes a connection that has been silent for `idle_timeout` seconds (default 10): nothing received,
  nothing sent. A download that is moving is never idle;
- closes a connection whose request head (request line and headers) has not arrived whole within
  `idle_timeout` seconds of its first byte, so a client dripping one byte at a time cannot hold it either
  (nginx's client_header_timeout works the same way);
- accepts up to `connection_limit` client connections at once (default 1000), raising the process's
  open-file limit when it must and may, else lowering the cap to fit (with a warning);
- bounds request heads and bodies to 64 KiB each: modules are only ever read, with GET or HEAD.

These suit a server that real users reach directly; for heavy or hostile traffic put nginx in front of
it (docs/guide/publish.md, "Behind nginx"). The head deadline hooks into waitress' channel class and its periodic
maintenance pass, both stable since waitress 1.x; tests/test_serve_slowloris.py checks them end to end.
"""

import logging
import time

import functools

import attrs

from .. import errors

log = logging.getLogger("hubfn")

DEFAULT_IDLE_TIMEOUT = 10.0
DEFAULT_CONNECTION_LIMIT = 1000
DEFAULT_THREADS = 8
_HEAD_BYTES = 64 << 10
_BODY_BYTES = 64 << 10
_SPARE_FDS = 64  # descriptors besides client sockets: archives being sent, packing, locks, logs
_OWN_SOCKETS = 2  # waitress counts its listening socket and its wake-up pipe against the limit


@attrs.frozen
class Limits:
    """The connection settings of one server; each checked when made (a typed error names the bad one)."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    connection_limit: int = DEFAULT_CONNECTION_LIMIT
    threads: int = DEFAULT_THREADS

    def __attrs_post_init__(self):
        checks = (("idle_timeout", self.idle_timeout, 0.1, "seconds (e.g. 10)"),
                  ("connection_limit", self.connection_limit, 1, "connections (e.g. 1000)"),
                  ("threads", self.threads, 1, "worker threads (e.g. 8)"))
        for name, value, least, unit in checks:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= least:
                raise errors.ServeError(f"Cannot serve with {name.replace('_', ' ')} {value!r}: give at least "
                                        f"{least} {unit} with --{name.replace('_', '-')} (or {name}=).")
        if self.connection_limit != int(self.connection_limit) or self.threads != int(self.threads):
            raise errors.ServeError("Cannot serve: the connection limit and threads must be whole numbers.")


def waitress_options(limits: Limits) -> dict:
    """Keyword arguments of waitress.create_server for these limits."""
    connections = fit_open_files(int(limits.connection_limit), int(limits.threads))
    return {
        "threads": int(limits.threads),
        "channel_timeout": float(limits.idle_timeout),
        # how often waitress looks for idle connections: a few times per timeout, at most every 30 s
        "cleanup_interval": max(0.25, min(30.0, limits.idle_timeout / 4)),
        "connection_limit": connections + _OWN_SOCKETS,
        "max_request_header_size": _HEAD_BYTES,
        "max_request_body_size": _BODY_BYTES,
    }


def fit_open_files(connections: int, threads: int) -> int:
    """The connection cap the process's open-file limit allows, raising the soft limit first if needed."""
    try:
        import resource
    except ImportError:  # not a Unix: the OS has no per-process descriptor limit to fit
        return connections
    need = connections + threads + _SPARE_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < need:
        fitted = max(1, soft - threads - _SPARE_FDS)
        log.warning("hubfn serve: the open-file limit (%d) allows %d connections, not %d; raise it "
                    "(ulimit -n) for more.", soft, fitted, connections)
        return fitted
    return connections


@functools.cache
def head_timed_channel():
    """waitress' connection class, noting when the request head it is reading began (None: not reading
    one). Made on first use, so that make_app() alone never imports waitress."""
    from waitress.channel import HTTPChannel

    class HeadTimedChannel(HTTPChannel):
        head_started = None

        def received(self, data):
            result = super().received(data)
            if self.request is None:  # every request received so far is whole
                self.head_started = None
            elif self.head_started is None:
                self.head_started = time.time()  # waitress keeps last_activity in time.time() too
            return result

    return HeadTimedChannel


def add_head_deadline(server, timeout: float):
    """Make `server` (a waitress server) close connections whose request head is slower than `timeout`."""
    idle_pass = server.maintenance

    def maintenance(now):
        idle_pass(now)  # waitress' own: connections silent for channel_timeout
        cutoff = now - timeout
        for channel in list(server.active_channels.values()):
            started = getattr(channel, "head_started", None)
            if started is not None and started < cutoff and not channel.requests:
                channel.will_close = True  # the I/O loop closes it on its next pass

    server.channel_class = head_timed_channel()
    server.maintenance = maintenance
