"""When to try a failed delivery again, and when to give up. Pure: no clock, no randomness of
its own (the caller passes `now` and a jitter draw), so it is tested without I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# 2**62 × any sane base delay is far above any cap; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 62


@dataclass(frozen=True, slots=True)
class Failed:
    """What a failed attempt leads to: the next try at `next_attempt_at`, or the dead letters."""

    dead: bool
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_delay_s: float
    max_delay_s: float

    def ceiling_s(self, attempt: int) -> float:
        """The delay bound after failure number `attempt` (from 1): base × 2^(attempt-1), capped."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return min(self.max_delay_s, self.base_delay_s * 2.0**exponent)

    def delay_s(self, attempt: int, jitter: float) -> float:
        """ "Equal jitter": half the bound for sure, plus `jitter` (a draw in [0, 1)) of the other
        half. Retries keep spreading out (never near zero, never past the cap) while rows that
        failed together — a receiver outage fails them all at once — do not retry together."""
        ceiling = self.ceiling_s(attempt)
        return ceiling / 2 + ceiling / 2 * min(max(jitter, 0.0), 1.0)

    def after_failure(self, attempts: int, now: datetime, jitter: float) -> Failed:
        """`attempts` counts every try so far, this one included."""
        if attempts >= self.max_attempts:
            return Failed(dead=True, next_attempt_at=now)
        delay = timedelta(seconds=self.delay_s(attempts, jitter))
        return Failed(dead=False, next_attempt_at=now + delay)
