"""Benchmark: reading free/busy for a whole organisation through the Google and Microsoft connectors.

Each connector talks, through its real client library (google-api-python-client + google-auth; msal +
requests over TLS), to the wire-level fake of its provider on loopback (tests/fakes), which enforces the real
limits (50 calendars per freeBusy call, 20 schedules per getSchedule call, 4 concurrent requests per mailbox).
Every person has 4–10 meetings in the 5-day window, with titles and places the connector must drop.

Printed per provider: HTTP calls, seconds and people per second for
- coffeechat: one ``fetch_busy`` for everyone (batched, ``--concurrency`` calls at once);
- baseline: one request per person, one at a time — what a connector without batching does — measured on
  ``--baseline-sample`` people and extrapolated to the full size (it is linear: one call per person).

Targets (issue 5): 10,000 people in <= 200 calls (Google) and <= 500 calls (Microsoft), each under 30 s.
Usage: python bench/calendars.py [--people 10000] [--concurrency 1,4] [--baseline-sample 300]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fakes live in the repository's tests/

from integrations.google_calendar import EVENTS_SCOPE, FREEBUSY_SCOPE, GoogleCalendar
from integrations.microsoft_graph import GraphCalendar
from scheduler.model import CalendarSource, Interval, Person
from scheduler.ports import CalendarProvider
from tests.fakes.google_server import GOOGLE_TOKEN_AUDIENCE, FakeGoogle
from tests.fakes.graph_server import GraphFake, make_tls_files

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
WINDOW = Interval(MONDAY, MONDAY + timedelta(days=5))
ORGANIZER = "coffee@example.com"
GRAPH_SECRET = "bench-client-secret"  # noqa: S105 - the fake's own secret

# How to connect at a given concurrency, and how many freeBusy / getSchedule calls the fake has answered.
World = tuple[Callable[[int], CalendarProvider], Callable[[], int]]


def meetings(rng: random.Random) -> list[tuple[datetime, datetime]]:
    """4–10 meetings on the 15-minute grid inside 08:00–18:00 UTC of the window's days."""
    spans = []
    for _ in range(rng.randint(4, 10)):
        start = MONDAY + timedelta(days=rng.randrange(5), hours=8, minutes=15 * rng.randrange(36))
        spans.append((start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))))
    return spans


def people_of(kind: str, size: int) -> list[Person]:
    return [Person(f"p{n:06d}@example.com", f"Person {n}", f"team{n % 97}",
                   calendar=CalendarSource(kind, f"p{n:06d}@example.com")) for n in range(size)]


@contextmanager
def google_world(people: Sequence[Person], seed: int) -> Iterator[World]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    info = {"type": "service_account", "project_id": "bench", "private_key_id": "00", "private_key": pem,
            "client_email": "coffeechat@bench.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": GOOGLE_TOKEN_AUDIENCE}
    rng = random.Random(seed)
    with FakeGoogle() as fake:
        fake.register_service_account(info["client_email"], key.public_key(), FREEBUSY_SCOPE, EVENTS_SCOPE)
        fake.add_calendar(ORGANIZER)
        for person in people:
            fake.add_calendar(person.email)
            for start, end in meetings(rng):
                fake.add_busy(person.email, start, end, summary="Confidential 1:1", location="Room 5")

        def connect(concurrency: int) -> CalendarProvider:
            return GoogleCalendar(info, organizer=ORGANIZER, endpoint=fake.endpoint, token_uri=fake.token_uri,
                                  concurrency=concurrency)

        yield connect, lambda: fake.calls["freeBusy"]


@contextmanager
def graph_world(people: Sequence[Person], seed: int) -> Iterator[World]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        tls = make_tls_files(Path(folder))
        with GraphFake(tls=tls, client_secret=GRAPH_SECRET, organizer=ORGANIZER) as fake:
            for person in people:
                fake.add_mailbox(person.email)
                for start, end in meetings(rng):
                    fake.add_item(person.email, start, end, rng.choice(("busy", "busy", "tentative", "oof")),
                                  subject="Confidential 1:1", location="Room 5")

            def connect(concurrency: int) -> CalendarProvider:
                return GraphCalendar(tenant_id=fake.tenant_id, client_id=fake.client_id, credential=GRAPH_SECRET,
                                     organizer=ORGANIZER, authority_host=fake.authority_host,
                                     graph_endpoint=fake.graph_endpoint, verify=str(tls.cert),
                                     concurrency=concurrency)

            yield connect, lambda: fake.calls["getSchedule"]


def measure(connect: Callable[[int], CalendarProvider], calls: Callable[[], int], people: Sequence[Person],
            concurrency: int, *, one_by_one: bool = False) -> tuple[int, float, int]:
    """HTTP calls, seconds and unreadable calendars for one read of ``people``."""
    provider = connect(concurrency)
    before = calls()
    started = time.perf_counter()
    if one_by_one:
        answers = {}
        for person in people:
            answers.update(provider.fetch_busy([person], WINDOW))
    else:
        answers = provider.fetch_busy(people, WINDOW)
    seconds = time.perf_counter() - started
    errors = sum(1 for answer in answers.values() if answer.error)
    getattr(provider, "close", lambda: None)()
    return calls() - before, seconds, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--concurrency", default="1,4", help="comma-separated levels to measure")
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--providers", default="google,microsoft")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    print(f"{'provider':<10} {'method':<28} {'people':>7} {'calls':>6} {'seconds':>8} {'people/s':>9} {'errors':>6}")
    for name in args.providers.split(","):
        kind = "google" if name == "google" else "microsoft"
        people = people_of(kind, args.people)
        world = google_world if name == "google" else graph_world
        setup = time.perf_counter()
        with world(people, args.seed) as (connect, calls):
            print(f"# {name}: fake filled with {len(people)} calendars in {time.perf_counter() - setup:.1f} s",
                  flush=True)
            sample = people[: args.baseline_sample]
            made, seconds, errors = measure(connect, calls, sample, 1, one_by_one=True)
            scale = len(people) / len(sample)
            print(f"{name:<10} {'baseline: 1 per call (extrap.)':<28} {len(people):>7} {round(made * scale):>6} "
                  f"{seconds * scale:>8.1f} {len(sample) / seconds:>9.0f} {errors:>6}", flush=True)
            for level in levels:
                made, seconds, errors = measure(connect, calls, people, level)
                print(f"{name:<10} {f'coffeechat, concurrency {level}':<28} {len(people):>7} {made:>6} "
                      f"{seconds:>8.1f} {len(people) / seconds:>9.0f} {errors:>6}", flush=True)


if __name__ == "__main__":
    main()
