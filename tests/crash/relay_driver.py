"""A test-only driver: run the real relay (``deliver_due`` with ``standard_performers`` and an ``SmtpMailer``)
in a process of its own, and SIGKILL that process at a chosen step. The crash tests start it as a subprocess.

The hook lives here, not in production code: the driver wraps the unit of work and the performers it hands to
the relay, and kills its own process

- ``claim``: right after the claim of a matching effect was committed (in flight, nothing performed);
- ``perform``: right after the performer returned (the remote effect happened, nothing recorded);
- ``record``: right after the outcome of a matching effect was committed.

Provider events go to ``FileEventCalendar``, a JSON file that survives the kill (an ``EventCalendar`` as
idempotent as the port requires), so the test can count events after the crash; or, with ``--google``, through
the real ``GoogleCalendar`` connector to a (fake) Google server the test runs (``--microsoft``: the real
``GraphCalendar`` to a fake Graph).

Usage: python -m tests.crash.relay_driver --database URL --smtp-port N --events FILE --now ISO
       [--kill-at claim|perform|record --kill-match SUBSTRING] [--slow SECONDS] [--log FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from integrations.mail import SmtpMailer
from scheduler.delivery.outbox import Performer, RetryPolicy, deliver_due, standard_performers
from scheduler.model import Effect, Invite
from scheduler.ports import UnitOfWork
from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

LEASE = timedelta(minutes=5)


def die() -> None:
    """SIGKILL this process: no cleanup, no rollback, no flush, as a power cut would."""
    os.kill(os.getpid(), signal.SIGKILL)


class FileEventCalendar:
    """Events by UID in a JSON file, written atomically on every change. ``creates`` counts real creations."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else {"events": {}, "creates": 0, "calls": 0}

    def _save(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, sort_keys=True))
        os.replace(temporary, self.path)

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        data = self._load()
        data["calls"] += 1
        if invite.uid not in data["events"]:
            data["events"][invite.uid] = {"status": "confirmed", "sequence": invite.sequence,
                                          "start": invite.start.isoformat()}
            data["creates"] += 1
        self._save(data)
        return invite.uid

    def update_event(self, invite: Invite) -> None:
        data = self._load()
        data["calls"] += 1
        data["events"][invite.uid].update(sequence=invite.sequence, start=invite.start.isoformat())
        self._save(data)

    def cancel_event(self, invite: Invite) -> None:
        data = self._load()
        data["calls"] += 1
        if invite.uid in data["events"]:
            data["events"][invite.uid].update(status="cancelled", sequence=invite.sequence)
        self._save(data)


class _Outbox:
    """The outbox repository, noting which matching effects were claimed or recorded in this transaction."""

    def __init__(self, inner: Any, match: str, noted: list[str]) -> None:
        self._inner, self._match, self._noted = inner, match, noted

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def claim(self, key: str, now: datetime, lease: timedelta) -> bool:
        claimed: bool = self._inner.claim(key, now, lease)
        if claimed and self._match in key:
            self._noted.append("claim")
        return claimed

    def mark_done(self, key: str, now: datetime) -> None:
        self._inner.mark_done(key, now)
        if self._match in key:
            self._noted.append("record")


class _KillingUnitOfWork:
    """A unit of work that kills the process right after committing the step the test chose."""

    def __init__(self, inner: SqlAlchemyUnitOfWork, kill_at: str, match: str) -> None:
        self._inner, self._kill_at, self._match = inner, kill_at, match
        self._noted: list[str] = []

    def __enter__(self) -> _KillingUnitOfWork:
        self._inner.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        if name == "outbox":
            return _Outbox(self._inner.outbox, self._match, self._noted)
        return getattr(self._inner, name)

    def commit(self) -> None:
        self._inner.commit()
        if self._kill_at in self._noted:
            die()

    def rollback(self) -> None:
        self._inner.rollback()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--kill-at", choices=("claim", "perform", "record"))
    parser.add_argument("--kill-match", default="")
    parser.add_argument("--slow", type=float, default=0.0, help="seconds each performer takes (for races)")
    parser.add_argument("--log", type=Path, help="append the key of every effect performed here")
    parser.add_argument("--google", type=Path, help="a JSON file {key_info, organizer, endpoint, token_uri}: send "
                        "provider events to that (fake) Google Calendar instead of the events file")
    parser.add_argument("--microsoft", type=Path, help="a JSON file of GraphCalendar's arguments: send provider "
                        "events to that (fake) Microsoft Graph instead of the events file")
    args = parser.parse_args()

    engine = create_engine_for(args.database)
    sessions = make_session_factory(engine)
    now = datetime.fromisoformat(args.now)

    class Clock:
        def now(self) -> datetime:
            return now

    def uow_factory() -> UnitOfWork:
        plain = SqlAlchemyUnitOfWork(sessions)
        if args.kill_at in ("claim", "record"):
            return _KillingUnitOfWork(plain, args.kill_at, args.kill_match)  # type: ignore[return-value]
        return plain

    mailer = SmtpMailer("127.0.0.1", args.smtp_port, security="none", timeout=10)
    event_calendar: Any = FileEventCalendar(args.events)
    if args.google:
        from integrations.google_calendar import GoogleCalendar

        google = json.loads(args.google.read_text())
        event_calendar = GoogleCalendar(google["key_info"], organizer=google["organizer"],
                                        endpoint=google["endpoint"], token_uri=google["token_uri"], timeout=10.0)
    if args.microsoft:
        from integrations.microsoft_graph import GraphCalendar

        event_calendar = GraphCalendar(**json.loads(args.microsoft.read_text()))
    performers = standard_performers(mailer, {"google": event_calendar, "microsoft": event_calendar})

    def wrap(perform: Performer) -> Performer:
        def run(effect: Effect) -> None:
            if args.slow:
                time.sleep(args.slow)
            perform(effect)
            if args.log:
                with args.log.open("a") as log:  # one short line per write: O_APPEND keeps lines whole
                    log.write(f"{os.getpid()} {effect.key}\n")
            if args.kill_at == "perform" and args.kill_match in effect.key:
                die()

        return run

    wrapped: dict[str, Callable[[Effect], None]] = {kind: wrap(perform) for kind, perform in performers.items()}
    try:
        report = deliver_due(uow_factory, wrapped, Clock(), RetryPolicy(max_attempts=3, lease=LEASE), batch_size=10)
    finally:
        mailer.close()
        if hasattr(event_calendar, "close"):
            event_calendar.close()
        engine.dispose()
    print(json.dumps({"done": report.done, "retried": report.retried, "dead": report.dead,
                      "skipped": report.skipped}))


if __name__ == "__main__":
    main()
