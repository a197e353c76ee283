"""Which byte ranges of an archive a parallel download (hubfn.fetch.transport.parallel) still waits for,
has in flight and has whole, and how far from byte 0 it is whole: the prefix the decoder may read.

Not locked on its own: the download calls it under its lock.
"""

import collections

from .partmap import merged

MIN_STOLEN = 2 << 20  # an idle connection takes over the back half of a running part when both halves
#                      are at least this big (or a quarter part), so the last parts end together


class Part:
    """A byte range in flight: [first, end), written up to pos. `end` shrinks when another connection
    takes over its back half."""

    __slots__ = ("end", "first", "pos")

    def __init__(self, first, end):
        self.first, self.end, self.pos = first, end, first


class Parts:
    """The parts of one download: waiting (in order), in flight, whole; and the contiguous prefix."""

    def __init__(self, plan):
        self.part_size = plan.part_size
        self.waiting = collections.deque(Part(s, e) for s, e in plan.missing())
        self.running = []
        self.whole = list(plan.done)
        self.prefix = 0
        self.advance()

    def take_first(self):
        """The waiting part that starts at byte 0 (the first answer's), or None."""
        if self.waiting and self.waiting[0].first == 0:
            return self._run(self.waiting.popleft())
        return None

    def take(self):
        """The next part to fetch: the first waiting one, else the back half of the running part with the
        most left; None when there is nothing worth a request."""
        if self.waiting:
            return self._run(self.waiting.popleft())
        smallest = min(MIN_STOLEN, max(1, self.part_size // 4))
        victim = max(self.running, key=lambda p: p.end - p.pos, default=None)
        if victim is None or victim.end - victim.pos < 2 * smallest:
            return None
        middle = victim.pos + (victim.end - victim.pos) // 2
        part = Part(middle, victim.end)
        victim.end = middle
        return self._run(part)

    def _run(self, part):
        self.running.append(part)
        return part

    def finish(self, part):
        self.running.remove(part)
        self.whole = merged(self.whole + [(part.first, part.end)])
        self.advance()

    def written(self):
        """The byte ranges written so far, whole parts and the written heads of running ones (merged)."""
        return merged(self.whole + [(p.first, p.pos) for p in self.running if p.pos > p.first])

    def advance(self):
        """Recompute the contiguous prefix."""
        prefix = 0
        for s, e in sorted(self.whole + [(p.first, p.pos) for p in self.running if p.pos > p.first]):
            if s > prefix:
                break
            prefix = max(prefix, e)
        self.prefix = prefix
