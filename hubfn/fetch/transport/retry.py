"""hubfn's one retry and resume policy, and the longest a download can take on a dead server.

Who retries what. The mechanics stay where they live; their counts, waits and deadline come from here.
  - One request (hubfn.fetch.transport.http): urllib3 retries it (`RequestRetry`, on the session's
    adapters) after a connection failure, a connect or read timeout before the answer, a reset, and the answers 408,
    429, 500, 502, 503, 504. Each hop of a redirect chain is one request.
  - The download (hubfn.fetch.transport.download and hubfn.fetch.cache): a body that breaks, resets,
    stalls for the read timeout or ends short of its Content-Length is continued with a Range request, or begun again
    at byte 0 when the server cannot continue it; an archive made with bytes kept from an earlier
    attempt that proves damaged is downloaded once more. Each of these is one more attempt of the download.

Counts and waits. R = HUBFN_RETRIES (default 4): at most R retries per request and R more attempts per
download. Before the k-th, a wait of w(k) = min(HUBFN_BACKOFF * 2**(k-1), 30) seconds (HUBFN_BACKOFF
default 1). A Retry-After header on a retried answer replaces the wait (capped at HUBFN_MAX_RETRY_AFTER;
"0" means at once). A refused connection or a host name that does not resolve is answered in
milliseconds and rarely heals within seconds, so it gets HUBFN_REFUSED_GIVE_UP seconds (default 3) after
the first refusal instead of the whole backoff: a person at a prompt waits ~3 s for "could not connect".

The worst case. With C = HUBFN_CONNECT_TIMEOUT (default 15) and T = HUBFN_READ_TIMEOUT (default 60):

    worst_case_seconds = (R + 1) * (C + T) + w(1) + ... + w(R)        (defaults: 5 * 75 + 15 = 390 s)

that is R + 1 attempts that each wait out both timeouts, and the R waits between them. It is the time
budget of one download (`Budget`), enforced, not only stated: the clock starts at the first request and
stops only while archive bytes arrive (a large archive on a slow link is never cut off while it
progresses), and
  - each attempt's timeouts are cut to what is left of the budget;
  - no retry, resume or new start begins, and no wait (Retry-After included) is slept, that would
    end past it; redirect hops, and a chain followed again after a signed URL expired, spend from it too;
  - the error then says how many attempts were made over how many seconds.
So a server that sends nothing, or stops sending, fails a hub_load within worst_case_seconds(settings).
On a server that accepts connections and never answers, or answers the headers and never the body, it
takes (R + 1) * T + w(1) + ... + w(R); on one that answers 503 forever, w(1) + ... + w(R) and R + 1 quick
requests (tests/test_fetch_budget.py). Not in the budget: a server that trickles a byte before each read
timeout (progressing, as far as any client can tell); the Kaggle API's question for a latest version
(hubfn.fetch.sources.kaggle: one request through the same GET, under a budget of its own, before the
download); and the wait for another process's download of the same module (which has its own budget).
"""

import time

from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError, ResponseError, SSLError
from urllib3.util import Timeout
from urllib3.util.retry import Retry

from ... import errors
from ...settings import MAX_WAIT, RetryPolicy

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MARGIN = 0.25  # seconds kept for the last attempt at a refused connection, so its give-up is within budget
SHORTEST = 0.001  # urllib3 refuses a timeout of 0: an attempt with no time left gets this and fails at once


def start(policy):
    """The budget of a download that begins now, under `policy` (a hubfn.settings.RetryPolicy)."""
    return Budget(policy)


def request_retry(policy, budget=None):
    """The urllib3 Retry of one request under `policy`, spending from `budget` when given."""
    retry = RequestRetry(total=policy.retries, status_forcelist=RETRY_STATUS, allowed_methods={"GET", "HEAD"},
                         raise_on_status=False, respect_retry_after_header=True, backoff_max=MAX_WAIT,
                         retry_after_max=policy.max_retry_after)
    retry.policy, retry.budget = policy, budget
    return retry


def worst_case_seconds(settings):
    """The longest a hub_load of an http(s) module can take on a server that sends nothing (see above)."""
    return settings.retry.worst_case_seconds()


class Budget:
    """The clock and the attempt count of one download under a RetryPolicy (see the module's docstring)."""

    def __init__(self, policy):
        self.policy = policy
        self.seconds = policy.worst_case_seconds()
        self.began = time.monotonic()
        self.receiving_for = 0.0  # seconds during which archive bytes arrived: the clock stops for them
        self.attempts = 1  # attempts of the download, the running one included
        self.tries = 1  # attempts of the latest request (said in its error)
        self.ran_out = False  # a retry was refused because it would not end within the budget

    def elapsed(self):
        return time.monotonic() - self.began

    def left(self):
        return self.seconds + self.receiving_for - self.elapsed()

    def fits(self, wait):
        """Whether another attempt after sleeping `wait` seconds still starts within the budget."""
        if self.left() - wait > 0:
            return True
        self.ran_out = True
        return False

    def next_attempt(self):
        """Count one more attempt of the download after a failed one: the seconds to wait before it, or
        None when the retries or the time are spent."""
        if self.attempts > self.policy.retries:
            return None
        wait = self.policy.wait(self.attempts)
        if not self.fits(wait):
            return None
        self.attempts += 1
        return wait

    def receiving(self, chunks):
        """Pass `chunks` on, stopping the clock from one chunk to the next (bytes are arriving). The time
        from the last chunk to a failure is not credited: that is a stall."""
        last = time.monotonic()
        for chunk in chunks:
            now = time.monotonic()
            self.receiving_for += now - last
            last = now
            yield chunk

    def timeout(self):
        """The requests/urllib3 timeout of one request: the policy's, cut at each attempt to what is left."""
        return _BudgetTimeout(self)

    def cut_read_timeout(self, raw):
        """Make the body's reads (of the urllib3 response `raw`) wait at most what is left: the headers
        came within the read timeout, but may have used up most of the budget."""
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(max(min(self.policy.read_timeout, self.left()), SHORTEST))

    def check(self, where):
        """Raise a FetchError naming `where` when no time is left for another request."""
        if not self.fits(0):
            raise errors.FetchError(f"{where}: gave up {self.said(self.attempts)}. Check your network (proxy "
                                    "settings: HTTPS_PROXY / NO_PROXY), or try again later.")

    def said(self, attempts):
        """'after 3 attempts over 2.1 s', and which budget stopped them when it did."""
        text = f"after {attempts} attempt{'s' if attempts != 1 else ''} over {self.elapsed():.1f} s"
        if self.ran_out:
            text += (f"; another would not end within the time budget of {self.seconds:.1f} s (hubfn.fetch.transport.retry: "
                     "(HUBFN_RETRIES + 1) x (connect + read timeout) + the backoff waits)")
        return text


class _BudgetTimeout(Timeout):
    # urllib3 clones the Timeout of a request for each of its attempts (retries included): each clone
    # carries the budget's remainder as its total, which also caps the read timeout after the connect.
    def __init__(self, budget):
        super().__init__(connect=budget.policy.connect_timeout, read=budget.policy.read_timeout)
        self.budget = budget

    def clone(self):
        return Timeout(connect=self._connect, read=self._read, total=max(self.budget.left(), SHORTEST))


def refused(error):
    """A refused connection or an unresolvable host name (urllib3 wraps the OS error)."""
    if isinstance(error, NameResolutionError):
        return True
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ConnectionRefusedError):
            return True
        error = error.__cause__ or error.__context__
    return False


class RequestRetry(Retry):
    """urllib3's Retry with the RetryPolicy's waits, a time budget for refused connections (`refused_give_up`
    seconds after the first refusal of a run), and the download's Budget (no retry that would not end
    within it)."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUS  # honour Retry-After on every status we retry

    policy = RetryPolicy()
    budget = None
    refused_since = None

    def new(self, **kw):
        retry = super().new(**kw)
        retry.policy, retry.budget, retry.refused_since = self.policy, self.budget, self.refused_since
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, SSLError):  # a certificate does not heal by waiting: say so at once
            raise MaxRetryError(_pool, url, error) from error
        if self.budget is not None:
            self.budget.tries = len(self.history) + 1
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if not refused(error):
            retry.refused_since = None
        else:
            retry.refused_since = self.refused_since if self.refused_since is not None else time.monotonic()
            if self._refused_left(retry) <= 0:
                raise MaxRetryError(_pool, url, error) from error
        if self.budget is not None and not self.budget.fits(retry._next_wait(response)):
            # For an answer (503, say) urllib3 then returns it, and hubfn.fetch.transport.ranged reports it.
            raise MaxRetryError(_pool, url, error or ResponseError("the time budget is spent"))
        return retry

    def _refused_left(self, retry):
        return retry.refused_since + self.policy.refused_give_up - MARGIN - time.monotonic()

    def _next_wait(self, response):
        """What urllib3's sleep(response) will wait before the next attempt."""
        after = self.get_retry_after(response) if response is not None else None
        return after if after is not None else self.get_backoff_time()

    def get_backoff_time(self):
        errors_in_a_row = 0
        for record in reversed(self.history):
            if record.redirect_location is not None:
                break
            errors_in_a_row += 1
        if not errors_in_a_row:
            return 0.0
        wait = self.policy.wait(errors_in_a_row)
        if self.refused_since is not None:
            wait = min(wait, self._refused_left(self))
        return max(0.0, wait)

    def parse_retry_after(self, retry_after):
        """Seconds (capped at retry_after_max), or None for a value that is neither seconds nor a date."""
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return None

    def sleep_for_retry(self, response):
        after = self.get_retry_after(response)
        if after is None:
            return False
        time.sleep(after)  # "Retry-After: 0" means now (urllib3 would fall back to the backoff)
        return True

    def attempts(self):
        return len(self.history) + 1
