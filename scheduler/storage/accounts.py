"""Tables and repository of the web accounts: disabled flags, server-side sessions, used single-use links, and
the rate-limit buckets of the site's sensitive requests.

The tables hang on the shared declarative ``Base`` of ``orm.py`` (migration 0006 creates them), so the schema
check sees them; they live in their own module because nothing else reads them. Like ``repositories.py``, the
repository speaks only in dataclasses (``scheduler.accounts.access``) and never hands out rows; races between two web
workers are settled by the database (``INSERT … ON CONFLICT DO NOTHING``, conditional ``UPDATE``, and for
rate limits one ``INSERT … ON CONFLICT DO UPDATE … WHERE``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Double, ForeignKey, String, Text, case, delete, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import Account, Cycle, Meeting, SessionRecord
from scheduler.storage.orm import (
    CODE_LENGTH,
    Base,
    CalendarGapRow,
    FeedbackRow,
    GroupMemberRow,
    GroupRow,
    MeetingRow,
    OutboxEffectRow,
    PairingHistoryRow,
    PersonRow,
    UnmatchedRow,
    UtcDateTime,
)
from scheduler.storage.repositories import SqlAlchemyCycleRepository, dialect_insert, key_email
from scheduler.storage.thanks import ThanksRow

DIGEST_LENGTH = 64  # SHA-256 in hex
# Every rate limit is an hourly allowance, taken in bursts up to the whole of it.
RATE_WINDOW_SECONDS = 3600.0
# Slack for the rounding of epoch seconds in a double (about 1e-7 s today), so that the last request of an
# allowance is not refused because of it.
RATE_SLACK_SECONDS = 1e-3


class AccountRow(Base):
    """A person's account: created at their first sign-in (or when an admin disables them)."""

    __tablename__ = "accounts"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionRow(Base):
    """A signed-in browser; ``id`` is the SHA-256 of the cookie's token."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class UsedLinkRow(Base):
    """An emailed link that was used, by the SHA-256 of its nonce; kept until the link would expire anyway."""

    __tablename__ = "used_links"

    nonce_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(CODE_LENGTH))
    used_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RateLimitRow(Base):
    """A token bucket of one client in one area, as the time (epoch seconds) at which it would be full again."""

    __tablename__ = "rate_limits"

    area: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    client: Mapped[str] = mapped_column(Text, primary_key=True)
    full_at: Mapped[float] = mapped_column(Double)


def _rowcount(result: Any) -> int:
    return cast("CursorResult[Any]", result).rowcount



class SqlAlchemyAccountRepository:
    """Accounts, sessions and used links (``ports.AccountRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _person_id(self, email: str) -> int | None:
        return self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(email)))

    def _require_person_id(self, email: str) -> int:
        person_id = self._person_id(email)
        if person_id is None:
            raise NotFoundError(f"nobody has the address {email}")
        return person_id

    def get(self, email: str) -> Account | None:
        """The person's account, or ``None``."""
        row = self._session.execute(
            select(AccountRow, PersonRow.email)
            .join(PersonRow, PersonRow.id == AccountRow.person_id)
            .where(PersonRow.email == key_email(email))
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            return None
        account, stored_email = row
        return Account(email=stored_email, created_at=account.created_at, disabled_at=account.disabled_at,
                       last_sign_in_at=account.last_sign_in_at)

    def ensure(self, email: str, now: datetime) -> Account:
        """The person's account, created enabled if missing; ``NotFoundError`` for an unknown address."""
        person_id = self._require_person_id(email)
        self._session.execute(
            dialect_insert(self._session, AccountRow)
            .values(person_id=person_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["person_id"])
        )
        account = self.get(email)
        if account is None:  # pragma: no cover - the row was just inserted or already there
            raise StorageError(f"the account of {email} vanished while being created")
        return account

    def set_disabled(self, email: str, disabled_at: datetime | None) -> None:
        """Disable the account from ``disabled_at`` or enable it (``None``); ``NotFoundError`` without an
        account."""
        changed = self._session.execute(
            update(AccountRow).where(AccountRow.person_id == self._require_person_id(email))
            .values(disabled_at=disabled_at).execution_options(synchronize_session=False)
        )
        if _rowcount(changed) == 0:
            raise NotFoundError(f"{email} has no account")

    def record_sign_in(self, email: str, now: datetime) -> None:
        """Note the person's latest sign-in."""
        self._session.execute(
            update(AccountRow).where(AccountRow.person_id == self._require_person_id(email))
            .values(last_sign_in_at=now).execution_options(synchronize_session=False)
        )

    def add_session(self, session: SessionRecord) -> None:
        """Store a new session of a stored person; ``NotFoundError`` for an unknown address."""
        self._session.add(SessionRow(id=session.token_hash, person_id=self._require_person_id(session.email),
                                     created_at=session.created_at, last_seen_at=session.last_seen_at,
                                     expires_at=session.expires_at, revoked_at=session.revoked_at))
        self._session.flush()

    def find_session(self, token_hash: str) -> SessionRecord | None:
        """The session with this token hash, or ``None``."""
        row = self._session.execute(
            select(SessionRow, PersonRow.email)
            .join(PersonRow, PersonRow.id == SessionRow.person_id)
            .where(SessionRow.id == token_hash)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            return None
        stored, email = row
        return SessionRecord(token_hash=stored.id, email=email, created_at=stored.created_at,
                             last_seen_at=stored.last_seen_at, expires_at=stored.expires_at,
                             revoked_at=stored.revoked_at)

    def touch_session(self, token_hash: str, now: datetime) -> None:
        """Set ``last_seen_at``."""
        self._session.execute(update(SessionRow).where(SessionRow.id == token_hash).values(last_seen_at=now)
                              .execution_options(synchronize_session=False))

    def revoke_session(self, token_hash: str, now: datetime) -> bool:
        """Revoke one session; True when it was live."""
        result = self._session.execute(
            update(SessionRow).where(SessionRow.id == token_hash, SessionRow.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False)
        )
        return _rowcount(result) > 0

    def revoke_sessions(self, email: str, now: datetime) -> int:
        """Revoke every session of the person that is not revoked yet; return how many."""
        person_id = self._person_id(email)
        if person_id is None:
            return 0
        result = self._session.execute(
            update(SessionRow).where(SessionRow.person_id == person_id, SessionRow.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    def use_link(self, nonce_hash: str, purpose: str, now: datetime, expires_at: datetime) -> bool:
        """Record a first use; False when the nonce was used before. The database decides between racers."""
        inserted = self._session.execute(
            dialect_insert(self._session, UsedLinkRow)
            .values(nonce_hash=nonce_hash, purpose=purpose, used_at=now, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["nonce_hash"])
            .returning(UsedLinkRow.nonce_hash)
        ).first()
        return inserted is not None

    def link_used(self, nonce_hash: str) -> bool:
        """True when the nonce was used."""
        return self._session.scalar(select(UsedLinkRow.nonce_hash).where(UsedLinkRow.nonce_hash == nonce_hash)) \
            is not None

    def purge(self, now: datetime) -> int:
        """Delete expired sessions, the records of links that have expired and the rate-limit buckets that are
        full again (the same as none); return the number of rows."""
        sessions = self._session.execute(delete(SessionRow).where(SessionRow.expires_at < now)
                                         .execution_options(synchronize_session=False))
        links = self._session.execute(delete(UsedLinkRow).where(UsedLinkRow.expires_at < now)
                                      .execution_options(synchronize_session=False))
        buckets = self._session.execute(delete(RateLimitRow).where(RateLimitRow.full_at < now.timestamp())
                                        .execution_options(synchronize_session=False))
        return _rowcount(sessions) + _rowcount(links) + _rowcount(buckets)

    def count_request(self, area: str, client: str, per_hour: int, now: datetime) -> float | None:
        """Count one request of ``client`` in ``area``; ``None`` when allowed, else the seconds to wait.

        A token bucket kept as one number (the generic cell rate algorithm): ``full_at``, when the bucket would
        be full again. Each allowed request pushes it ``3600 / per_hour`` seconds later than ``max(full_at,
        now)``; a request is allowed while that stays within the hour ahead. One statement reads and writes the
        bucket, and the database serialises racers on the row (PostgreSQL's row lock of ``ON CONFLICT DO
        UPDATE``, SQLite's write lock), so several processes share one allowance exactly. A refused request
        writes nothing.
        """
        interval = RATE_WINDOW_SECONDS / per_hour
        at = now.timestamp()
        start = case((RateLimitRow.full_at > at, RateLimitRow.full_at), else_=at)
        allowed = self._session.execute(
            dialect_insert(self._session, RateLimitRow)
            .values(area=area, client=client, full_at=at + interval)
            .on_conflict_do_update(
                index_elements=["area", "client"], set_={"full_at": start + interval},
                where=start <= at + RATE_WINDOW_SECONDS - interval + RATE_SLACK_SECONDS)
            .returning(RateLimitRow.full_at)
        ).first()
        if allowed is not None:
            return None
        full_at = self._session.scalar(select(RateLimitRow.full_at).where(RateLimitRow.area == area,
                                                                          RateLimitRow.client == client))
        # Rounded to the millisecond: epoch seconds in a double carry noise below that.
        return round(max(full_at or at, at) - at + interval - RATE_WINDOW_SECONDS, 3)

    # --- the account pages: history, export, deletion -------------------------------------------------------

    def meetings_of(self, email: str) -> list[tuple[Cycle, Meeting]]:
        """The meetings the person is a member of, with their cycles, newest first (by slot, then id)."""
        address = key_email(email)
        ids = self._session.execute(
            select(MeetingRow.id, GroupRow.cycle_id)
            .join(GroupRow, GroupRow.id == MeetingRow.group_id)
            .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
            .where(GroupMemberRow.email == address)
            .order_by(MeetingRow.slot_start.desc(), MeetingRow.id.desc())
        ).all()
        cycles = SqlAlchemyCycleRepository(self._session)
        found: list[tuple[Cycle, Meeting]] = []
        for meeting_id, cycle_id in ids:
            cycle, meeting = cycles.get(cycle_id), cycles.meeting(meeting_id)
            if cycle is not None and meeting is not None:
                found.append((cycle, meeting))
        return found

    def delete_person(self, email: str, scrub: Callable[[Any], Any]) -> dict[str, int]:
        """Delete the person and every row naming their address; return how many rows went, by table.

        The person's row goes (their account and sessions with it, by foreign key), and so do their group
        memberships, feedback, thank-you notes (written or received), ``unmatched``, ``calendar_gaps`` and
        ``pairing_history`` rows and the outbox effects addressed to them (the recipient is the last part of an
        effect's key). Other effects that mention the address get ``scrub(payload)``; other people lose the
        address from their wishlist, block list and manager field. ``NotFoundError`` for an unknown address.
        """
        address = key_email(email)
        person_id = self._require_person_id(address)
        removed: dict[str, int] = {}

        def gone(table: str, statement: Any) -> None:
            removed[table] = removed.get(table, 0) + _rowcount(
                self._session.execute(statement.execution_options(synchronize_session=False)))

        gone("group_members", delete(GroupMemberRow).where(
            or_(GroupMemberRow.email == address, GroupMemberRow.person_id == person_id)))
        gone("feedback", delete(FeedbackRow).where(FeedbackRow.email == address))
        gone("thanks", delete(ThanksRow).where(or_(ThanksRow.writer == address, ThanksRow.recipient == address)))
        gone("unmatched", delete(UnmatchedRow).where(UnmatchedRow.email == address))
        gone("calendar_gaps", delete(CalendarGapRow).where(CalendarGapRow.email == address))
        gone("pairing_history", delete(PairingHistoryRow).where(
            or_(PairingHistoryRow.person_a == address, PairingHistoryRow.person_b == address)))
        # A substring search finds every candidate (it may find a longer address too); Python decides.
        mentioned = self._session.execute(
            select(OutboxEffectRow.id, OutboxEffectRow.key, OutboxEffectRow.payload).where(or_(
                func.lower(OutboxEffectRow.key).contains(address, autoescape=True),
                func.lower(sql_cast(OutboxEffectRow.payload, Text)).contains(address, autoescape=True)))
        ).all()
        addressed = [effect_id for effect_id, key, _ in mentioned if key.rpartition("/")[2].lower() == address]
        if addressed:
            gone("outbox_effects", delete(OutboxEffectRow).where(OutboxEffectRow.id.in_(addressed)))
        for effect_id, _, payload in mentioned:
            if effect_id not in addressed and (cleaned := scrub(payload)) != payload:
                self._session.execute(update(OutboxEffectRow).where(OutboxEffectRow.id == effect_id)
                                      .values(payload=cleaned).execution_options(synchronize_session=False))
                removed["outbox_effects_scrubbed"] = removed.get("outbox_effects_scrubbed", 0) + 1
        others = self._session.execute(
            select(PersonRow.id, PersonRow.wishlist, PersonRow.blocked, PersonRow.manager).where(
                PersonRow.id != person_id,
                or_(func.lower(sql_cast(PersonRow.wishlist, Text)).contains(address, autoescape=True),
                    func.lower(sql_cast(PersonRow.blocked, Text)).contains(address, autoescape=True),
                    func.lower(PersonRow.manager) == address))
        ).all()
        for other_id, wishlist, blocked, manager in others:
            self._session.execute(update(PersonRow).where(PersonRow.id == other_id).values(
                wishlist=[entry for entry in wishlist if entry.lower() != address],
                blocked=[entry for entry in blocked if entry.lower() != address],
                manager="" if manager.strip().lower() == address else manager,
            ).execution_options(synchronize_session=False))
        removed["people_lists_cleaned"] = len(others)
        gone("people", delete(PersonRow).where(PersonRow.id == person_id))
        return removed
