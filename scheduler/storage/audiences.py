"""Table and repository of each person's choice per program: joined or left (programs for an audience).

The table hangs on the shared declarative ``Base`` of ``orm.py`` (migration 0015 creates it) so the schema check
sees it. A row exists only once a person chose; no row means "never chose", which an ``opt_in`` program reads as
"not in" and any other program as "in". Rows are keyed by the person's id, so deleting a person deletes their
choices with them. Programs are named, not referenced: they live in the configuration file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from scheduler.errors import NotFoundError
from scheduler.storage.orm import Base, PersonRow, UtcDateTime
from scheduler.storage.repositories import dialect_insert, key_email


class ProgramChoiceRow(Base):
    """One person's choice for one program: ``joined`` true (joined) or false (left), and when."""

    __tablename__ = "program_choices"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    program: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    joined: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SqlAlchemyProgramChoiceRepository:
    """People's choices per program (``ports.ProgramChoiceRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def of_program(self, program: str) -> dict[str, bool]:
        """Who chose for ``program``: email → joined (True) or left (False)."""
        rows = self._session.execute(
            select(PersonRow.email, ProgramChoiceRow.joined)
            .join(PersonRow, PersonRow.id == ProgramChoiceRow.person_id)
            .where(ProgramChoiceRow.program == program))
        return {email: joined for email, joined in rows}

    def of_person(self, email: str) -> dict[str, bool]:
        """The programs ``email`` chose for: program name → joined (True) or left (False)."""
        rows = self._session.execute(
            select(ProgramChoiceRow.program, ProgramChoiceRow.joined)
            .join(PersonRow, PersonRow.id == ProgramChoiceRow.person_id)
            .where(PersonRow.email == key_email(email)))
        return {program: joined for program, joined in rows}

    def set(self, email: str, program: str, joined: bool, at: datetime) -> None:
        """Store that ``email`` joined (or left) ``program`` at ``at``, replacing an earlier choice in one atomic
        upsert; ``NotFoundError`` for an unknown person."""
        person_id = self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(email)))
        if person_id is None:
            raise NotFoundError(f"no person with email {email}")
        insert = dialect_insert(self._session, ProgramChoiceRow).values(
            person_id=person_id, program=program, joined=joined, changed_at=at)
        self._session.execute(insert.on_conflict_do_update(
            index_elements=["person_id", "program"], set_={"joined": joined, "changed_at": at}))
