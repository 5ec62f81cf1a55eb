"""Tables and repositories of the match pages: each member's accept/decline answer, and the optional rating of
a "did you meet?" answer.

The tables hang on the shared declarative ``Base`` of ``orm.py`` (migration 0008 creates them) so the schema
check sees them. A rating lives in a table of its own, one row per ``feedback`` row that has one, rather than in
a new ``feedback`` column: it is optional, and ``orm.py`` stays as it is. Repositories speak in dataclasses
(``scheduler.planning.matches``) and never hand out rows; two answers at once are settled by ``INSERT … ON CONFLICT``.
"""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import RSVP_ANSWERS, FeedbackAnswer, Rsvp
from scheduler.storage.orm import CODE_LENGTH, Base, FeedbackRow, MeetingRow, PersonRow, UtcDateTime
from scheduler.storage.repositories import SqlAlchemyFeedbackRepository, dialect_insert, key_email


class MatchRsvpRow(Base):
    """One member's answer to a meeting: ``accepted`` or ``declined``; a later answer replaces the earlier.

    Keyed by the person's id, not their address: deleting a person deletes their answers with them.
    """

    __tablename__ = "match_rsvps"
    __table_args__ = (
        UniqueConstraint("meeting_id", "person_id"),
        CheckConstraint(f"answer IN {RSVP_ANSWERS!r}", name="answer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    answer: Mapped[str] = mapped_column(String(CODE_LENGTH))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FeedbackRatingRow(Base):
    """The 1–5 rating given with a "did you meet?" answer; gone with its answer."""

    __tablename__ = "feedback_ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),)

    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True,
                                             autoincrement=False)
    rating: Mapped[int] = mapped_column(Integer)


def _require_meeting(session: Session, meeting_id: int, *, lock: bool = False) -> None:
    """``NotFoundError`` for an unknown meeting; with ``lock``, hold the meeting's row until the transaction ends
    (``FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time anyway)."""
    query = select(MeetingRow.id).where(MeetingRow.id == meeting_id)
    if session.scalar(query.with_for_update() if lock else query) is None:
        raise NotFoundError(f"no meeting with id {meeting_id}")


class SqlAlchemyMatchRepository:
    """Accept/decline answers (``ports.MatchRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def set_rsvp(self, rsvp: Rsvp) -> None:
        """Store one member's answer, replacing an earlier one. ``NotFoundError`` for an unknown meeting or
        person, ``ValueError`` for an answer other than ``accepted``/``declined``.

        The meeting's row stays locked until the transaction ends, so answers to one meeting take turns: two
        members declining at once cannot each read the answers without the other's decline (and both leave the
        meeting standing)."""
        if rsvp.answer not in RSVP_ANSWERS:
            raise ValueError(f"{rsvp.answer!r} is not an answer ({', '.join(RSVP_ANSWERS)})")
        _require_meeting(self._session, rsvp.meeting_id, lock=True)
        person_id = self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(rsvp.email)))
        if person_id is None:
            raise NotFoundError(f"nobody has the address {rsvp.email}")
        insert = dialect_insert(self._session, MatchRsvpRow).values(
            meeting_id=rsvp.meeting_id, person_id=person_id, answer=rsvp.answer, answered_at=rsvp.answered_at)
        self._session.execute(insert.on_conflict_do_update(
            index_elements=["meeting_id", "person_id"],
            set_={"answer": insert.excluded.answer, "answered_at": insert.excluded.answered_at}))

    def rsvps(self, meeting_id: int) -> builtins.list[Rsvp]:
        """The meeting's answers, by email."""
        rows = self._session.execute(
            select(MatchRsvpRow, PersonRow.email).join(PersonRow, PersonRow.id == MatchRsvpRow.person_id)
            .where(MatchRsvpRow.meeting_id == meeting_id).order_by(PersonRow.email))
        return [Rsvp(row.meeting_id, email, row.answer, row.answered_at) for row, email in rows]

    def clear_rsvps(self, meeting_id: int) -> int:
        """Forget the meeting's answers (its time changed); return how many went."""
        result = self._session.execute(delete(MatchRsvpRow).where(MatchRsvpRow.meeting_id == meeting_id))
        return int(getattr(result, "rowcount", 0) or 0)

    def forget_rsvp(self, meeting_id: int, email: str) -> bool:
        """Forget one member's answer (they took it back); whether there was one. The meeting's row is locked
        as ``set_rsvp`` locks it, so the answers of one meeting keep taking turns."""
        _require_meeting(self._session, meeting_id, lock=True)
        person = select(PersonRow.id).where(PersonRow.email == key_email(email)).scalar_subquery()
        result = self._session.execute(delete(MatchRsvpRow).where(MatchRsvpRow.meeting_id == meeting_id,
                                                                  MatchRsvpRow.person_id == person))
        return bool(getattr(result, "rowcount", 0))


class RatedFeedbackRepository(SqlAlchemyFeedbackRepository):
    """Answers to "did you meet?" with their optional rating (``ports.FeedbackRepository``)."""

    def add(self, meeting_id: int, email: str, met: bool, comment: str = "", *, rating: int | None = None,
            share_comment: bool = False) -> None:
        """Record one person's answer for one meeting, replacing an earlier one (its rating too: an answer
        without a rating removes the earlier rating; and whether the organisers may read the comment).
        ``NotFoundError`` for an unknown meeting, ``ValueError`` for a rating outside 1–5."""
        if rating is not None and not 1 <= rating <= 5:
            raise ValueError(f"a rating is 1 to 5, not {rating}")
        super().add(meeting_id, email, met, comment, share_comment=share_comment)
        feedback_id = self._session.scalar(select(FeedbackRow.id).where(
            FeedbackRow.meeting_id == meeting_id, FeedbackRow.email == key_email(email)))
        if feedback_id is None:  # pragma: no cover - the upsert above just wrote it
            raise StorageError(f"the answer of {email} for meeting {meeting_id} was not stored")
        if rating is None:
            self._session.execute(delete(FeedbackRatingRow).where(FeedbackRatingRow.feedback_id == feedback_id))
            return
        insert = dialect_insert(self._session, FeedbackRatingRow).values(feedback_id=feedback_id, rating=rating)
        self._session.execute(insert.on_conflict_do_update(index_elements=["feedback_id"],
                                                           set_={"rating": insert.excluded.rating}))

    def answers(self, meeting_id: int) -> builtins.list[FeedbackAnswer]:
        """Every answer given for the meeting, by email, with its rating (None when none was given)."""
        rows = self._session.execute(
            select(FeedbackRow, FeedbackRatingRow.rating)
            .outerjoin(FeedbackRatingRow, FeedbackRatingRow.feedback_id == FeedbackRow.id)
            .where(FeedbackRow.meeting_id == meeting_id)
            .order_by(FeedbackRow.email))
        return [FeedbackAnswer(row.meeting_id, row.email, row.met, row.comment, rating, row.answered_at,
                               comment_shared=row.comment_shared)
                for row, rating in rows]
