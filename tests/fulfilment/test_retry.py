"""The retry policy, without I/O: exponential, capped, jittered, and dead after max attempts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from livedesk.fulfilment.retry import RetryPolicy

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    base_delay_s=st.floats(0.001, 120, allow_nan=False),
    max_delay_s=st.floats(0.001, 86_400, allow_nan=False),
)
attempts = st.integers(1, 10_000)
jitters = st.floats(0.0, 1.0, exclude_max=True, allow_nan=False)


@given(policies, attempts, jitters)
def test_the_delay_is_jittered_within_half_to_all_of_a_capped_bound(policy, attempt, jitter):
    ceiling = policy.ceiling_s(attempt)
    delay = policy.delay_s(attempt, jitter)
    assert ceiling <= policy.max_delay_s
    assert ceiling / 2 <= delay <= ceiling


@given(policies, attempts)
def test_the_bound_doubles_until_the_cap_and_then_stays(policy, attempt):
    now, after = policy.ceiling_s(attempt), policy.ceiling_s(attempt + 1)
    assert after >= now
    assert after == min(policy.max_delay_s, policy.base_delay_s * 2.0 ** min(attempt, 62))
    if now < policy.max_delay_s / 2:
        assert after == now * 2


def test_first_retries_grow_from_the_base_and_far_ones_sit_at_the_cap():
    policy = RetryPolicy(max_attempts=20, base_delay_s=2.0, max_delay_s=900.0)
    assert [policy.ceiling_s(n) for n in range(1, 6)] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert policy.ceiling_s(10) == 900.0
    assert policy.ceiling_s(10**9) == 900.0  # no overflow however long a receiver is down
    assert policy.delay_s(1, 0.0) == 1.0 and policy.delay_s(1, 0.999) < 2.0


def test_rows_that_failed_together_do_not_retry_together():
    """A receiver outage fails every pending row at once; jitter spreads their next tries."""
    policy = RetryPolicy(max_attempts=20, base_delay_s=2.0, max_delay_s=900.0)
    draw = random.Random(7).random
    delays = [policy.delay_s(6, draw()) for _ in range(200)]
    assert len(set(delays)) == 200
    assert min(delays) >= 32.0 and max(delays) <= 64.0
    assert max(delays) - min(delays) > 0.8 * 32.0  # spread over most of the jitter window


@given(policies, st.integers(1, 60), jitters)
def test_dead_exactly_once_max_attempts_are_spent(policy, spent, jitter):
    failed = policy.after_failure(spent, NOW, jitter)
    assert failed.dead == (spent >= policy.max_attempts)
    if not failed.dead:
        wait = failed.next_attempt_at - NOW
        ceiling = timedelta(seconds=policy.ceiling_s(spent))
        assert (
            ceiling / 2 - timedelta(microseconds=1) <= wait <= ceiling + timedelta(microseconds=1)
        )
