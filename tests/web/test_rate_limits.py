"""Rate limits kept in the database (migration 0011): one allowance per (area, client) however many processes
serve the site, on SQLite and PostgreSQL; buckets that are full again are forgotten by ``tick``'s purge."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import inspect

from scheduler.accounts import access as accounts
from scheduler.storage.migrate import downgrade_database, head_revision, upgrade_database
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import PROGRAMS, SECRET, SITE_CONFIG, Site

NOW = SUNDAY_NOON
NewUow = Callable[[], SqlAlchemyUnitOfWork]
CLIENT = "203.0.113.5"


def count(new_uow: NewUow, area: str, client: str, per_hour: int, clock: FakeClock) -> float | None:
    return accounts.count_request(new_uow, clock, area, client, per_hour)


def test_a_bucket_allows_its_hourly_burst_then_refills_over_time(new_uow: NewUow) -> None:
    clock = FakeClock(NOW)

    assert count(new_uow, "sign_up", "a", 2, clock) is None
    assert count(new_uow, "sign_up", "a", 2, clock) is None
    wait = count(new_uow, "sign_up", "a", 2, clock)
    assert wait == pytest.approx(1800.0, abs=0.01)
    assert count(new_uow, "sign_up", "a", 2, clock) == pytest.approx(1800.0, abs=0.01)  # refused: not counted
    assert count(new_uow, "sign_up", "b", 2, clock) is None  # another client
    assert count(new_uow, "sign_in", "a", 2, clock) is None  # another area

    clock.advance(timedelta(seconds=1799))
    assert count(new_uow, "sign_up", "a", 2, clock) == pytest.approx(1.0, abs=0.01)
    clock.advance(timedelta(seconds=1))
    assert count(new_uow, "sign_up", "a", 2, clock) is None
    assert count(new_uow, "sign_up", "a", 2, clock) is not None

    clock.advance(timedelta(hours=5))  # a long rest refills the bucket only up to the hour's allowance
    assert [count(new_uow, "sign_up", "a", 2, clock) is None for _ in range(3)] == [True, True, False]


def test_purge_forgets_buckets_that_are_full_again(new_uow: NewUow) -> None:
    clock = FakeClock(NOW)
    assert count(new_uow, "links", "early", 4, clock) is None  # full again 15 minutes later
    clock.advance(timedelta(minutes=10))
    assert count(new_uow, "links", "late", 4, clock) is None  # full again at 25 minutes

    with new_uow() as uow:
        assert uow.accounts.purge(NOW + timedelta(minutes=20)) == 1
        uow.commit()

    with new_uow() as uow:
        # "late" still holds its request of ten minutes ago (3.67 tokens left); "early" starts afresh with four.
        for _ in range(3):
            assert uow.accounts.count_request("links", "late", 4, NOW + timedelta(minutes=20)) is None
        assert uow.accounts.count_request("links", "late", 4, NOW + timedelta(minutes=20)) is not None
        for _ in range(4):
            assert uow.accounts.count_request("links", "early", 4, NOW + timedelta(minutes=20)) is None


def test_concurrent_requests_share_one_allowance_exactly(new_uow: NewUow) -> None:
    clock = FakeClock(NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: count(new_uow, "sign_in", CLIENT, 25, clock), range(80)))

    assert sum(answer is None for answer in answers) == 25


def test_migration_0011_adds_the_table_and_its_downgrade_removes_it(database_url: str) -> None:
    def tables() -> set[str]:
        engine = create_engine_for(database_url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    upgrade_database(database_url)
    assert "rate_limits" in tables()
    assert downgrade_database(database_url, "0010") == "0010"
    assert "rate_limits" not in tables()
    assert "used_links" in tables()
    assert upgrade_database(database_url) == head_revision()


def test_two_sites_on_one_database_share_the_allowance(make_site: Callable[..., Site], database_url: str) -> None:
    first = make_site(database_url=database_url, web="links_per_hour = 3")
    second = make_site(database_url=database_url, web="links_per_hour = 3")
    clients = [site.new_client(CLIENT) for site in (first, second)]

    answers = [clients[n % 2].get("/confirm/not-a-token") for n in range(4)]

    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    assert int(answers[3].headers["Retry-After"]) == 1200  # a request every 20 minutes
    assert second.new_client("203.0.113.6").get("/confirm/not-a-token").status_code == 400


def _serve_links(config_path: str, requests: int, start: Barrier, results: Queue[list[int]]) -> None:
    """In a process of its own: build the site from its config file (its own engine and connections), wait for
    the other process, then open a link ``requests`` times from one address; put the statuses on ``results``."""
    from scheduler.config import load_config
    from scheduler.entrypoints.bootstrap import bootstrap
    from tests.fakes import FakeCalendarProvider, FakeMailer
    from web import create_app
    from web.urls import WebUrls

    config = load_config(Path(config_path))
    services = bootstrap(config, site=WebUrls.from_config(config), clock=FakeClock(NOW),
                         calendar=FakeCalendarProvider(), mailer_factory=FakeMailer)
    try:
        client = create_app(config, services=services).test_client()
        client.environ_base["REMOTE_ADDR"] = CLIENT
        start.wait(timeout=60)
        results.put([client.get("/confirm/not-a-token").status_code for _ in range(requests)])
    finally:
        services.dispose()


@pytest.mark.slow
def test_the_allowance_holds_across_processes(migrated_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", SECRET)  # inherited by the processes
    config = tmp_path / "coffeechat.toml"
    config.write_text(SITE_CONFIG.format(name="Example Corp", base_url="https://coffee.example.com",
                                         database_url=migrated_url, web="links_per_hour = 10",
                                         programs=PROGRAMS), encoding="utf-8")
    context = multiprocessing.get_context("spawn")  # fresh interpreters: nothing shared but the database
    start, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_serve_links, args=(str(config), 12, start, results)) for _ in range(2)]
    for process in processes:
        process.start()
    try:
        statuses = [status for _ in processes for status in results.get(timeout=120)]
    finally:
        for process in processes:
            process.join(timeout=30)

    assert [process.exitcode for process in processes] == [0, 0]
    assert len(statuses) == 24
    assert statuses.count(400) == 10  # one allowance of ten, not ten per process
    assert statuses.count(429) == 14
