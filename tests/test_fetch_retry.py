"""Retries (hubfn.fetch.transport.retry, a urllib3 Retry on the session): backoff kept for server errors, a time
budget for refused connections, Retry-After forms. Real servers and closed ports on 127.0.0.1. (The
download's overall worst case: test_fetch_budget.py.)"""

import pytest

import hubfn
import servers
from hubfn import errors
from hubfn.fetch.transport import retry
from hubfn.settings import RetryPolicy, Settings


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.mark.parametrize("budget", [None, "1"])
def test_refused_connection_gives_up_within_its_budget(cache_dir, monkeypatch, budget):
    """With the default backoff (1 s, doubled, 4 retries: 15 s) a refused connection still gives up
    within HUBFN_REFUSED_GIVE_UP (default 3 s), after more than one attempt."""
    import time

    monkeypatch.delenv("HUBFN_BACKOFF")
    monkeypatch.delenv("HUBFN_RETRIES", raising=False)
    if budget:
        monkeypatch.setenv("HUBFN_REFUSED_GIVE_UP", budget)
    limit = float(budget or 3)
    with servers.refused_port() as port:
        began = time.monotonic()
        with pytest.raises(errors.FetchError, match="could not connect \\(connection refused\\); gave up"):
            hubfn.hub_resolve(f"http://127.0.0.1:{port}/m.tar.gz")
        took = time.monotonic() - began
    print(f"refused connection: gave up after {took:.2f} s (budget {limit} s)")
    assert limit - 1.0 < took <= limit, "retried for about the budget, never longer"


def test_5xx_keeps_its_full_backoff(server, cache_dir, monkeypatch):
    """Server errors are not cut short by the refused-connection budget: waits 0.4, 0.8, 1.6 s."""
    monkeypatch.setenv("HUBFN_BACKOFF", "0.4")
    monkeypatch.setenv("HUBFN_RETRIES", "3")
    monkeypatch.setenv("HUBFN_REFUSED_GIVE_UP", "0.5")
    url = server.add("/backoff.tar.gz", body=b"x", fail_first=99, fail_status=503)
    with pytest.raises(errors.FetchError, match="503.*after 4 attempts"):
        hubfn.hub_resolve(url)
    times = [r.time for r in server.gets("/backoff.tar.gz")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == 4 and all(g >= w * 0.9 for g, w in zip(gaps, [0.4, 0.8, 1.6])), gaps


def test_retry_after_forms():
    import email.utils
    import time

    settings = Settings(cache_dir="/unused", retry=RetryPolicy(connect_timeout=1, read_timeout=1, retries=3,
                                                                    backoff=0.5, max_retry_after=10))
    policy = retry.request_retry(settings.retry)
    assert policy.parse_retry_after("7") == 7.0
    assert 55 < retry.request_retry(Settings.from_env().retry).parse_retry_after(
        email.utils.formatdate(time.time() + 60, usegmt=True)) <= 60
    assert policy.parse_retry_after("soon") is None
    assert policy.parse_retry_after("3600") == 10, "capped at HUBFN_MAX_RETRY_AFTER"
    waits = [settings.retry.wait(n) for n in (1, 2, 3, 7, 8, 5000)]
    assert waits == [0.5, 1.0, 2.0, 30.0, 30.0, 30.0], "doubling, capped at 30 s (and no overflow)"
