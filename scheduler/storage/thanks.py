"""Table and repository of thank-you notes (``ports.ThanksRepository``, ``scheduler.planning.thanks``).

The table hangs on the shared declarative ``Base`` of ``orm.py`` (migration 0017 creates it) so the schema check
sees it. A row says who thanked whom after which meeting, whether the writer told the recipient's manager, and
when; never the note's text, which lives only in the email. Rows go with their meeting (foreign key) and with
either person when an account is deleted (``SqlAlchemyAccountRepository.delete_person``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.model import Thanks, require_utc
from scheduler.storage.orm import EMAIL_LENGTH, Base, UtcDateTime
from scheduler.storage.repositories import dialect_insert, key_email


class ThanksRow(Base):
    """One thank-you note: meeting, writer, recipient, whether shared with the recipient's manager, when."""

    __tablename__ = "thanks"
    __table_args__ = (UniqueConstraint("meeting_id", "writer", "recipient"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    writer: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    recipient: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    shared_with_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    thanked_at: Mapped[datetime] = mapped_column(UtcDateTime)


def _thanks(row: ThanksRow) -> Thanks:
    return Thanks(meeting_id=row.meeting_id, writer=row.writer, recipient=row.recipient,
                  shared_with_manager=row.shared_with_manager, thanked_at=row.thanked_at)


class SqlAlchemyThanksRepository:
    """Thank-you notes by meeting and by person (``ports.ThanksRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, thanks: Thanks) -> bool:
        """Store ``thanks``; False, and nothing changed, when the writer already thanked that recipient for that
        meeting (one statement, so two requests at once store one row)."""
        statement = dialect_insert(self._session, ThanksRow).values(
            meeting_id=thanks.meeting_id, writer=key_email(thanks.writer), recipient=key_email(thanks.recipient),
            shared_with_manager=thanks.shared_with_manager, thanked_at=require_utc(thanks.thanked_at),
        ).on_conflict_do_nothing(index_elements=["meeting_id", "writer", "recipient"]).returning(ThanksRow.id)
        return self._session.execute(statement).first() is not None

    def of_meeting(self, meeting_id: int) -> list[Thanks]:
        """The notes written after meeting ``meeting_id``, oldest first."""
        rows = self._session.scalars(select(ThanksRow).where(ThanksRow.meeting_id == meeting_id)
                                     .order_by(ThanksRow.thanked_at, ThanksRow.id))
        return [_thanks(row) for row in rows]

    def of_person(self, email: str) -> list[Thanks]:
        """The notes ``email`` wrote or received, oldest first."""
        address = key_email(email)
        rows = self._session.scalars(select(ThanksRow)
                                     .where(or_(ThanksRow.writer == address, ThanksRow.recipient == address))
                                     .order_by(ThanksRow.thanked_at, ThanksRow.id))
        return [_thanks(row) for row in rows]
