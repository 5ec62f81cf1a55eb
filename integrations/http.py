"""Shared plumbing of the calendar connectors: one retry policy, Retry-After parsing, and bounded concurrency.

Every connector calls its provider through ``call_with_retries``: exponential backoff with full jitter (a random
wait between 0 and ``base × 2^attempt``, capped), never shorter than the server's ``Retry-After``, for a bounded
number of attempts, and only for failures the connector marks ``Transient`` (429, 5xx, timeouts, Google's 403
rate limits). Anything else is permanent and is raised at once. The policy lives here so that the three
connectors cannot drift apart.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

T = TypeVar("T")
R = TypeVar("R")

# HTTP statuses that say "try again later"; 403 is transient only for Google's rate-limit reasons.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Transient(Exception):
    """A failure that may succeed if tried again later. ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class CallRetry:
    """How a connector retries one call: ``attempts`` in all, waits drawn from [0, base × 2^n] capped at
    ``max_wait``. A ``Retry-After`` longer than ``max_retry_after`` is not waited for in-process: the call fails
    (transiently) and the caller's own schedule (the outbox ladder, the next cycle) takes over."""

    attempts: int = 5
    base: float = 0.5
    max_wait: float = 30.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds: either delta-seconds or an HTTP date.

    ``None`` when there is no header or it cannot be read; never negative.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def call_with_retries(
    call: Callable[[], T],
    policy: CallRetry,
    *,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run ``call`` until it returns, raises something other than ``Transient``, or ``policy.attempts`` are spent
    (the last ``Transient`` is then raised). Waits honour ``Transient.retry_after``."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = jitter() * min(policy.max_wait, policy.base * 2 ** (state.attempt_number - 1))
        hint = error.retry_after if isinstance(error, Transient) else None
        return max(backoff, hint or 0.0)

    def worth_waiting(error: BaseException) -> bool:
        # A Retry-After too long to wait in-process hands the failure back at once.
        return isinstance(error, Transient) and (error.retry_after or 0.0) <= policy.max_retry_after

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(worth_waiting),
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)


def run_concurrently(work: Callable[[T], R], items: Iterable[T], *, limit: int) -> list[R]:
    """``[work(item) for item in items]`` with at most ``limit`` calls at once; results in input order.

    On the first failure (in input order) the calls not yet started are dropped, and the exception is raised
    here once the calls already running have finished: a provider that is down costs one round of retries,
    not one per remaining item.
    """
    batch: Sequence[T] = list(items)
    if limit <= 1 or len(batch) <= 1:
        return [work(item) for item in batch]
    with ThreadPoolExecutor(max_workers=min(limit, len(batch)), thread_name_prefix="calendar") as pool:
        futures = [pool.submit(work, item) for item in batch]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive slices of at most ``size``."""
    return [items[i:i + size] for i in range(0, len(items), size)]
