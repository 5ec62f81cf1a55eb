"""Table and repository of the leaders managers suggest their reports meet (a leader program, issue 15 part 4).

The table hangs on the shared declarative ``Base`` of ``orm.py`` (migration 0018 creates it) so the schema check
sees it. One row per report and leader, keyed by both people's ids, so deleting either person deletes the
suggestion with them; ``suggested_by`` keeps the manager's address as written when suggesting.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from scheduler.errors import NotFoundError
from scheduler.storage.orm import Base, PersonRow, UtcDateTime
from scheduler.storage.repositories import dialect_insert, key_email


class LeaderSuggestionRow(Base):
    """A manager's suggestion that their report meets a leader."""

    __tablename__ = "leader_suggestions"

    report_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    leader_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False, index=True)
    suggested_by: Mapped[str] = mapped_column(String(320))
    suggested_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SqlAlchemyLeaderSuggestionRepository:
    """Managers' leader suggestions (``ports.LeaderSuggestionRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> dict[str, frozenset[str]]:
        """Every suggestion: report email → the leaders' emails."""
        report, leader = aliased(PersonRow), aliased(PersonRow)
        rows = self._session.execute(
            select(report.email, leader.email)
            .join(LeaderSuggestionRow, LeaderSuggestionRow.report_id == report.id)
            .join(leader, leader.id == LeaderSuggestionRow.leader_id))
        found: dict[str, set[str]] = {}
        for report_email, leader_email in rows:
            found.setdefault(report_email, set()).add(leader_email)
        return {email: frozenset(leaders) for email, leaders in found.items()}

    def of_report(self, email: str) -> frozenset[str]:
        """The leaders suggested to ``email``."""
        return self.all().get(key_email(email), frozenset())

    def set(self, report: str, leaders: frozenset[str], by: str, at: datetime) -> None:
        """Make ``leaders`` the suggestions of ``report`` (replacing the earlier ones); ``NotFoundError`` naming
        an unknown person."""
        ids: dict[str, int] = {}
        for email in (report, *sorted(leaders)):
            person_id = self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(email)))
            if person_id is None:
                raise NotFoundError(f"no person with email {email}")
            ids[email] = person_id
        self._session.execute(delete(LeaderSuggestionRow).where(LeaderSuggestionRow.report_id == ids[report]))
        for email in sorted(leaders):
            self._session.execute(dialect_insert(self._session, LeaderSuggestionRow).values(
                report_id=ids[report], leader_id=ids[email], suggested_by=key_email(by), suggested_at=at))
