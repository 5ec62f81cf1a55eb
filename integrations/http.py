"""Shared plumbing of the calendar connectors: one retry policy, Retry-After parsing, and bounded concurrency.

Every connector calls its provider through ``call_with_retries``: exponential backoff with full jitter (a random
wait between 0 and ``base × 2^attempt``, capped), never shorter than the server's ``Retry-After``, for a bounded
number of attempts, and only for failures the connector marks ``Transient`` (429, 5xx, timeouts, Google's 403
rate limits). Anything else is permanent and is raised at once. The policy lives here so that the three
connectors cannot drift apart.

Connectors that ask for many people per call (Google freeBusy, Graph getSchedule) read each batch through
``read_in_halves``: a batch whose call still fails after its retries, or whose answer cannot be read, is asked
again in halves, down to single people, so that whatever upset the provider costs only the people it concerns.
A ``BatchRound`` shared by the batches of one read stops the splitting (and the batches not yet asked) once the
failure is plainly the provider's, so that a provider that is down costs a few rounds of retries, not one per
person.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

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


# --- batches that fail ---------------------------------------------------------------------------------------


class BatchFailed(Exception):
    """One batch's call failed for good in a way that may lie in the batch itself: its transient failures
    outlasted the retries, or its answer could not be read. ``message`` is in plain words, for the people of
    the batch. ``read_in_halves`` answers it by asking each half of the batch alone."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ProviderRefused(Exception):
    """The provider refuses every call whatever the batch (a refused sign-in, a spent quota, no permission):
    asking in halves cannot help, so the batches not yet asked are not asked."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class BatchRound:
    """What the batches of one ``fetch_busy`` share, across threads: whether anything has been read, the failure
    that showed the provider down (once set, nothing more is asked) and the unexpected failures already logged
    with their traceback."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: str | None = None
        self._read = False
        self._logged: set[tuple[str, str]] = set()

    @property
    def down(self) -> str | None:
        """Why the provider is taken to be down for the rest of this read, or ``None``."""
        with self._lock:
            return self._down

    def answered(self) -> None:
        """Record that a call was answered: the provider is up, whatever one batch meets."""
        with self._lock:
            self._read = True

    def provider_down(self, message: str, *, refused: bool = False) -> None:
        """Record that the provider is down (the first reason is kept). A failure is only taken for the
        provider's while nothing has been read in this round; a refusal (``refused``) always is."""
        with self._lock:
            if self._down is None and (refused or not self._read):
                self._down = message

    def first_time(self, error: BaseException) -> bool:
        """Whether this kind of failure (type and text) is met for the first time in this read: its traceback
        is then logged; the same failure met again is logged without one."""
        signature = (type(error).__name__, str(error))
        with self._lock:
            if signature in self._logged:
                return False
            self._logged.add(signature)
            return True

    def unforeseen(self, error: Exception, logger: logging.Logger, what: str, provider: str) -> str:
        """Log a failure nobody foresaw while reading one batch (``what``: "a getSchedule answer for 20
        mailboxes"), with its traceback the first time it is met in this read, and return the plain-words
        reason for the batch's people."""
        if self.first_time(error):
            logger.exception("%s could not be read", what)
        else:
            logger.error("%s could not be read (%s, as above)", what, type(error).__name__)
        return (f"{provider} gave an answer Coffee Chat could not make sense of ({type(error).__name__}); the "
                "administrators have the details in the log")


@dataclass
class BatchOutcome(Generic[T, R]):
    """What reading one batch gave: the parts that were read with their answers, and the parts that were not
    with the reason in plain words. Together the parts hold every item of the batch exactly once."""

    read: list[tuple[Sequence[T], R]] = field(default_factory=list)
    failed: list[tuple[Sequence[T], str]] = field(default_factory=list)


def read_in_halves(read: Callable[[Sequence[T]], R], batch: Sequence[T], round_: BatchRound) -> BatchOutcome[T, R]:
    """``read(batch)``, and when it raises ``BatchFailed``, each half of the batch read alone, and so on down to
    single items: a batch that one item upsets gives its other items' answers all the same.

    ``read`` raises ``BatchFailed`` for a failure that may lie in the batch and ``ProviderRefused`` for one that
    does not. The splitting stops where the cause is plainly not one part of the batch:

    - both halves of a split fail the same way (same text): the provider is down, unreachable, or answers every
      call the same wrong way; the whole part gets that failure. While nothing has been read in this round,
      ``round_`` then records the provider down, so that the batches not yet asked are not asked either;
    - ``read`` raises ``ProviderRefused``: ``round_`` records the provider down at once.

    Calls per batch (each with its own retries): 1 when it is read; at most 1 + 2·⌈log₂ n⌉ for one item that
    upsets the provider; 3 for a provider that fails every call; 0 once the provider is known down.
    """
    outcome: BatchOutcome[T, R] = BatchOutcome()
    failure = _try(read, batch, round_, outcome)
    if failure is not None:
        _split(read, batch, failure, round_, outcome)
    return outcome


def _try(read: Callable[[Sequence[T]], R], part: Sequence[T], round_: BatchRound,
         outcome: BatchOutcome[T, R]) -> str | None:
    """Read ``part`` into ``outcome``; the reason when it failed in a way worth splitting, else ``None``."""
    down = round_.down
    if down is not None:
        outcome.failed.append((part, down))
        return None
    try:
        outcome.read.append((part, read(part)))
    except ProviderRefused as exc:
        round_.provider_down(exc.message, refused=True)
        outcome.failed.append((part, exc.message))
    except BatchFailed as exc:
        return exc.message
    else:
        round_.answered()
    return None


def _split(read: Callable[[Sequence[T]], R], part: Sequence[T], failure: str, round_: BatchRound,
           outcome: BatchOutcome[T, R]) -> None:
    if len(part) < 2:
        outcome.failed.append((part, failure))
        return
    middle = len(part) // 2
    halves = (part[:middle], part[middle:])
    tried: BatchOutcome[T, R] = BatchOutcome()
    failures = [_try(read, half, round_, tried) for half in halves]
    outcome.read.extend(tried.read)
    outcome.failed.extend(tried.failed)
    if failures[0] is not None and failures[0] == failures[1]:
        # Both halves failed the same way: the failure is not in one part of this batch, and halving again
        # would only multiply the calls (and their retries) against a provider that answers none of them.
        round_.provider_down(failures[0])
        outcome.failed.extend((half, failures[0]) for half in halves)
        return
    for half, half_failure in zip(halves, failures, strict=True):
        if half_failure is not None:
            _split(read, half, half_failure, round_, outcome)
