"""hubfn's retry policy, as a urllib3 `Retry` on the requests adapter (the one retry layer per request).

What is retried, with waits of HUBFN_BACKOFF seconds doubled each time (at most 30 s), at most
HUBFN_RETRIES times: connection failures, connect and read timeouts before the answer, connections reset,
and the answers 408, 429, 500, 502, 503, 504. A Retry-After header on those answers wins over the
backoff (capped at HUBFN_MAX_RETRY_AFTER; "0" means at once).

A connection that is refused (nothing listens at that port) or a host name that does not resolve is
answered in milliseconds and rarely heals within seconds, so it gets a time budget instead of the full
backoff: HUBFN_REFUSED_GIVE_UP seconds (default 3) after the first refusal, hubfn gives up. A person at
a prompt then waits ~3 s for "could not connect", not the ~15 s the full backoff would take.

A body that breaks after the answer began is not retried here: hubfn.fetch.download resumes it with a
new Range request (which has this same policy).
"""

import time

from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError, SSLError
from urllib3.util.retry import Retry

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT = 30.0
MARGIN = 0.25  # seconds kept for the last attempt (and a busy machine), so the give-up comes within the budget


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


class Policy(Retry):
    """urllib3's Retry with hubfn's waits: `first_wait` doubled per attempt, and a time budget for
    refused connections (`refused_give_up` seconds after the first refusal of a run)."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUS  # honour Retry-After on every status we retry

    first_wait = 1.0
    refused_give_up = 3.0
    refused_since = None

    @classmethod
    def make(cls, retries, first_wait, refused_give_up, max_retry_after):
        policy = cls(total=retries, status_forcelist=RETRY_STATUS, allowed_methods={"GET", "HEAD"},
                     raise_on_status=False, respect_retry_after_header=True, backoff_max=MAX_WAIT,
                     retry_after_max=max_retry_after)
        policy.first_wait, policy.refused_give_up = first_wait, refused_give_up
        return policy

    def new(self, **kw):
        policy = super().new(**kw)
        policy.first_wait, policy.refused_give_up = self.first_wait, self.refused_give_up
        policy.refused_since = self.refused_since
        return policy

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, SSLError):  # a certificate does not heal by waiting: say so at once
            raise MaxRetryError(_pool, url, error) from error
        policy = super().increment(method, url, response, error, _pool, _stacktrace)
        if not refused(error):
            policy.refused_since = None
            return policy
        policy.refused_since = self.refused_since if self.refused_since is not None else time.monotonic()
        if self._refused_left(policy) <= 0:
            raise MaxRetryError(_pool, url, error) from error
        return policy

    def _refused_left(self, policy):
        return policy.refused_since + self.refused_give_up - MARGIN - time.monotonic()

    def get_backoff_time(self):
        errors_in_a_row = 0
        for record in reversed(self.history):
            if record.redirect_location is not None:
                break
            errors_in_a_row += 1
        if not errors_in_a_row:
            return 0.0
        wait = min(self.backoff_max, self.first_wait * 2 ** (errors_in_a_row - 1))
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
