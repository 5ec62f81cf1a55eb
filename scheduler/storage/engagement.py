"""Table and repository of people who stop answering: the links they used, the "still in?" questions and the
pauses for silence (``scheduler.planning.nonresponders``).

The table hangs on the shared declarative ``Base`` of ``orm.py`` (migration 0013 creates it) so the schema check
sees it. One row per person who ever used a link or was asked, keyed by the person's id: deleting a person
deletes it. The other signs of life are read where they already are (``match_rsvps``, ``feedback``,
``accounts``, ``sessions``), so nothing is written twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.errors import NotFoundError
from scheduler.model import Engagement, require_utc
from scheduler.storage.accounts import AccountRow, SessionRow
from scheduler.storage.matches import MatchRsvpRow
from scheduler.storage.orm import (
    Base,
    CycleRow,
    FeedbackRow,
    GroupMemberRow,
    GroupRow,
    MeetingRow,
    PersonRow,
    UtcDateTime,
)
from scheduler.storage.repositories import dialect_insert, key_email


class EngagementRow(Base):
    """When a person last used one of our signed links, was last asked "still in?", and was last paused for
    silence (each empty until it happens)."""

    __tablename__ = "engagement"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    link_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    asked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def _pairs(rows: Any) -> dict[Any, Any]:
    """``{first column: second column}`` of two-column rows."""
    return {key: value for key, value in rows}


def _latest(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


class SqlAlchemyEngagementRepository:
    """Signs of life, placements, questions and pauses (``ports.EngagementRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _require_person_id(self, email: str) -> int:
        person_id = self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(email)))
        if person_id is None:
            raise NotFoundError(f"nobody has the address {email}")
        return person_id

    def by_person(self) -> dict[str, Engagement]:
        """Everyone stored, by email, with their latest sign of life, placements, question and pause."""
        session = self._session
        people: dict[int, str] = _pairs(session.execute(select(PersonRow.id, PersonRow.email)).all())
        rsvps: dict[int, datetime] = _pairs(session.execute(
            select(MatchRsvpRow.person_id, func.max(MatchRsvpRow.answered_at)).group_by(MatchRsvpRow.person_id)
        ).all())
        feedback: dict[str, datetime] = _pairs(session.execute(
            select(FeedbackRow.email, func.max(FeedbackRow.answered_at)).group_by(FeedbackRow.email)
        ).all())
        sign_ins: dict[int, datetime | None] = _pairs(session.execute(
            select(AccountRow.person_id, AccountRow.last_sign_in_at)).all())
        visits: dict[int, datetime] = _pairs(session.execute(
            select(SessionRow.person_id, func.max(SessionRow.last_seen_at)).group_by(SessionRow.person_id)
        ).all())
        marks = {row.person_id: row for row in session.scalars(select(EngagementRow))}
        placed: dict[str, set[tuple[int, datetime]]] = {}
        rows = session.execute(
            select(GroupMemberRow.email, CycleRow.id, CycleRow.created_at)
            .join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
            .join(MeetingRow, MeetingRow.group_id == GroupRow.id)
            .join(CycleRow, CycleRow.id == GroupRow.cycle_id)
            .where(MeetingRow.state != "cancelled")
        )
        for email, cycle_id, created_at in rows:
            placed.setdefault(email, set()).add((cycle_id, created_at))
        found = {}
        for person_id, email in people.items():
            mark = marks.get(person_id)
            found[email] = Engagement(
                email=email,
                last_sign_of_life=_latest(rsvps.get(person_id), feedback.get(email), sign_ins.get(person_id),
                                          visits.get(person_id), mark.link_used_at if mark else None),
                placed_at=tuple(sorted(moment for _, moment in placed.get(email, set()))),
                asked_at=mark.asked_at if mark else None,
                paused_at=mark.paused_at if mark else None,
            )
        return found

    def note_sign_of_life(self, email: str, at: datetime) -> None:
        """Record a link used at ``at``, unless a later one is recorded already; ``NotFoundError`` for an unknown
        address. One statement, so two requests of one person at once cannot both insert."""
        at = require_utc(at, "at")
        insert = dialect_insert(self._session, EngagementRow).values(
            person_id=self._require_person_id(email), link_used_at=at)
        self._session.execute(insert.on_conflict_do_update(
            index_elements=["person_id"], set_={"link_used_at": insert.excluded.link_used_at},
            where=or_(EngagementRow.link_used_at.is_(None), EngagementRow.link_used_at < insert.excluded.link_used_at)))

    def mark_asked(self, email: str, at: datetime) -> None:
        """The person was asked "still in?" at ``at``; an earlier pause for silence is over."""
        self._mark(email, asked_at=require_utc(at, "at"), paused_at=None)

    def mark_paused(self, email: str, at: datetime) -> None:
        """The person was paused for silence at ``at``."""
        self._mark(email, paused_at=require_utc(at, "at"))

    def _mark(self, email: str, **values: datetime | None) -> None:
        insert = dialect_insert(self._session, EngagementRow).values(person_id=self._require_person_id(email),
                                                                    **values)
        self._session.execute(insert.on_conflict_do_update(
            index_elements=["person_id"], set_={name: getattr(insert.excluded, name) for name in values}))
