"""The connectors' shared retry policy, Retry-After parsing and bounded concurrency (integrations/http.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.http import (
    BatchFailed,
    BatchRound,
    CallRetry,
    ProviderRefused,
    Transient,
    call_with_retries,
    chunks,
    read_in_halves,
    retry_after_seconds,
    run_concurrently,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Flaky:
    """Fails with the given errors in turn, then answers ``"ok"``."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retry_after_reads_delta_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=90), usegmt=True), now=NOW) == 90.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0  # in the past: no wait
    assert retry_after_seconds("-5") == 0.0
    for unreadable in (None, "", "soon", "Mon, 99 Foo 2026"):
        assert retry_after_seconds(unreadable) is None


def test_transient_failures_are_retried_and_the_server_hint_is_honoured() -> None:
    waits: list[float] = []
    call = Flaky(Transient("429", retry_after=7), Transient("503"))
    result = call_with_retries(call, CallRetry(attempts=5, base=0.5), sleep=waits.append, jitter=lambda: 1.0)
    assert result == "ok"
    assert call.calls == 3
    assert waits == [7.0, 1.0]  # Retry-After 7 s beats a 0.5 s backoff; then full backoff 0.5 × 2


def test_the_last_transient_error_is_raised_when_attempts_run_out() -> None:
    waits: list[float] = []
    call = Flaky(*(Transient(f"503 #{n}") for n in range(10)))
    with pytest.raises(Transient, match="503 #2"):
        call_with_retries(call, CallRetry(attempts=3), sleep=waits.append)
    assert call.calls == 3
    assert len(waits) == 2


def test_permanent_errors_are_not_retried() -> None:
    waits: list[float] = []
    call = Flaky(PermissionError("403 quotaExceeded"))
    with pytest.raises(PermissionError):
        call_with_retries(call, CallRetry(), sleep=waits.append)
    assert call.calls == 1
    assert waits == []


def test_a_retry_after_too_long_to_wait_in_process_fails_at_once() -> None:
    waits: list[float] = []
    call = Flaky(Transient("429", retry_after=3600))
    with pytest.raises(Transient):
        call_with_retries(call, CallRetry(max_retry_after=120), sleep=waits.append)
    assert call.calls == 1
    assert waits == []


@given(attempt_errors=st.integers(1, 8), base=st.floats(0.01, 5), cap=st.floats(0.01, 60),
       jitter=st.floats(0, 1), hint=st.none() | st.floats(0, 100))
def test_waits_are_full_jitter_backoff_capped_and_never_below_the_hint(
        attempt_errors: int, base: float, cap: float, jitter: float, hint: float | None) -> None:
    waits: list[float] = []
    policy = CallRetry(attempts=10, base=base, max_wait=cap, max_retry_after=100)
    call = Flaky(*(Transient("x", retry_after=hint) for _ in range(attempt_errors)))
    call_with_retries(call, policy, sleep=waits.append, jitter=lambda: jitter)
    assert len(waits) == attempt_errors
    for n, wait in enumerate(waits):
        backoff = jitter * min(cap, base * 2**n)
        assert wait == pytest.approx(max(backoff, hint or 0.0))
        assert wait <= max(cap, hint or 0.0)


def test_run_concurrently_keeps_order_and_never_exceeds_the_limit() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return n * n

    assert run_concurrently(work, range(20), limit=3) == [n * n for n in range(20)]
    assert 1 < most <= 3


def test_run_concurrently_raises_the_first_failure() -> None:
    def work(n: int) -> int:
        if n == 4:
            raise ValueError("four")
        return n

    with pytest.raises(ValueError, match="four"):
        run_concurrently(work, range(8), limit=4)


def test_chunks_cut_in_order_with_a_short_last_slice() -> None:
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunks([], 50) == []


def test_run_concurrently_drops_calls_not_yet_started_after_a_failure() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            started.append(n)
        if n == 0:
            raise ValueError("down")
        time.sleep(0.05)
        return n

    with pytest.raises(ValueError, match="down"):
        run_concurrently(work, range(40), limit=2)
    assert len(started) < 40


# --- batches read in halves (issue 13) -----------------------------------------------------------------------


class Provider:
    """Answers each batch with its items squared, unless it holds a bad item: then ``BatchFailed`` (the text
    names the bad item, or is ``same`` for every batch when given) or, with ``refuse``, ``ProviderRefused``."""

    def __init__(self, bad: Iterable[int] = (), *, same: str | None = None, refuse: bool = False,
                 down: bool = False) -> None:
        self.bad, self.same, self.refuse, self.down = set(bad), same, refuse, down
        self.asked: list[list[int]] = []

    def __call__(self, part: Sequence[int]) -> list[int]:
        self.asked.append(list(part))
        if self.refuse:
            raise ProviderRefused("sign-in refused")
        if self.down:
            raise BatchFailed("HTTP 503")
        culprits = sorted(self.bad & set(part))
        if culprits:
            raise BatchFailed(self.same or f"item {culprits[0]} upsets the provider")
        return [n * n for n in part]


def test_issue_13_a_failing_batch_is_read_in_halves_down_to_the_item_that_upsets_it() -> None:
    provider = Provider(bad={7})
    batch = list(range(20))

    outcome = read_in_halves(provider, batch, BatchRound())

    assert outcome.failed == [([7], "item 7 upsets the provider")]
    assert sorted(n for part, _ in outcome.read for n in part) == [n for n in batch if n != 7]
    assert all(answer == [n * n for n in part] for part, answer in outcome.read)
    # The batch, then two halves at each of the 4 halvings (20 → 10 → 5 → 3 → 1): never more than 1 + 2⌈log₂ n⌉.
    assert len(provider.asked) == 1 + 2 * 4


def test_issue_13_halves_failing_the_same_way_stop_the_splitting_and_the_batches_not_yet_asked() -> None:
    provider = Provider(down=True)
    round_ = BatchRound()

    first = read_in_halves(provider, list(range(20)), round_)
    second = read_in_halves(provider, list(range(20, 40)), round_)

    assert provider.asked == [list(range(20)), list(range(10)), list(range(10, 20))]  # 3 calls, then nothing
    assert round_.down == "HTTP 503"
    assert sorted(n for part, reason in first.failed for n in part) == list(range(20))
    assert second.failed == [(list(range(20, 40)), "HTTP 503")]
    assert first.read == second.read == []


def test_issue_13_once_something_was_read_a_batch_failing_all_over_does_not_stop_the_others() -> None:
    round_ = BatchRound()
    read_in_halves(Provider(), [1, 2], round_)
    provider = Provider(bad={3, 4, 5, 6}, same="HTTP 500")

    failed = read_in_halves(provider, [3, 4, 5, 6], round_)
    after = read_in_halves(provider, [7, 8], round_)

    assert sorted(n for part, _ in failed.failed for n in part) == [3, 4, 5, 6]
    assert len(provider.asked) == 1 + 2 + 1  # the batch, its halves (both failed: no further halving), the next
    assert round_.down is None
    assert after.read == [([7, 8], [49, 64])]


def test_issue_13_halves_failing_differently_are_each_halved_again() -> None:
    provider = Provider(bad={1, 6})

    outcome = read_in_halves(provider, list(range(8)), BatchRound())

    assert sorted(outcome.failed) == [([1], "item 1 upsets the provider"), ([6], "item 6 upsets the provider")]


def test_issue_13_a_refusal_is_not_halved_and_stops_the_round() -> None:
    provider = Provider(refuse=True)
    round_ = BatchRound()

    outcome = read_in_halves(provider, list(range(20)), round_)
    later = read_in_halves(provider, [99], round_)

    assert provider.asked == [list(range(20))]
    assert outcome.failed == [(list(range(20)), "sign-in refused")]
    assert later.failed == [([99], "sign-in refused")]
    assert round_.down == "sign-in refused"


def test_issue_13_each_failure_is_logged_with_its_traceback_the_first_time_only() -> None:
    round_ = BatchRound()
    assert round_.first_time(RecursionError("deep"))
    assert not round_.first_time(RecursionError("deep"))
    assert round_.first_time(RecursionError("deeper"))
    assert round_.first_time(ValueError("deep"))


@given(size=st.integers(1, 60), bad=st.sets(st.integers(0, 59), max_size=4))
def test_issue_13_halving_answers_every_item_once_and_fails_only_around_bad_ones(size: int, bad: set[int]) -> None:
    bad = {n for n in bad if n < size}
    provider = Provider(bad=bad)

    outcome = read_in_halves(provider, list(range(size)), BatchRound())

    parts = [n for part, _ in outcome.read for n in part] + [n for part, _ in outcome.failed for n in part]
    assert sorted(parts) == list(range(size))  # every item exactly once
    failed = {n for part, _ in outcome.failed for n in part}
    assert bad <= failed
    if len(bad) <= 1:
        assert failed == bad  # one bad item costs only itself
    assert len(provider.asked) <= 1 + 2 * len(bad) * max(1, (size - 1).bit_length())
