"""Table and repository of introductions: a connector asked to introduce someone to a person on their wishlist
(``scheduler.planning.introductions``).

The table hangs on the shared declarative ``Base`` of ``orm.py`` (migration 0019 creates it) so the schema check
sees it. One row per (asker, wished), whatever its state, so a wish asks a connector once at most. Deleting the
asker or the person wished for deletes the row; deleting the connector only empties ``connector_id``, so a
"no" stays recorded and the wish does not ask again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from scheduler.errors import NotFoundError
from scheduler.model import INTRODUCTION_STATES, Introduction, require_utc
from scheduler.storage.orm import Base, PersonRow, UtcDateTime
from scheduler.storage.repositories import key_email


class IntroductionRow(Base):
    """One request to a connector to introduce the asker to the person they wished for, and its answer."""

    __tablename__ = "introductions"
    __table_args__ = (UniqueConstraint("asker_id", "wished_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    wished_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


_ASKER = aliased(PersonRow)
_WISHED = aliased(PersonRow)
_CONNECTOR = aliased(PersonRow)


def _select_introductions() -> Any:  # a Select of (row, asker, wished, connector)
    statement = (
        select(IntroductionRow, _ASKER.email, _WISHED.email, _CONNECTOR.email)
        .join(_ASKER, _ASKER.id == IntroductionRow.asker_id)
        .join(_WISHED, _WISHED.id == IntroductionRow.wished_id)
        .outerjoin(_CONNECTOR, _CONNECTOR.id == IntroductionRow.connector_id)
    )
    return statement


def _introduction(row: IntroductionRow, asker: str, wished: str, connector: str | None) -> Introduction:
    return Introduction(id=row.id, asker=asker, wished=wished, connector=connector or "", state=row.state,
                        created_at=row.created_at, answered_at=row.answered_at)


class SqlAlchemyIntroductionRepository:
    """Introductions, one per (asker, wished) (``ports.IntroductionRepository``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _person_id(self, email: str) -> int:
        person_id = self._session.scalar(select(PersonRow.id).where(PersonRow.email == key_email(email)))
        if person_id is None:
            raise NotFoundError(f"nobody has the address {email}")
        return person_id

    def add(self, asker: str, wished: str, connector: str, now: datetime) -> Introduction | None:
        """Store a request ``asked`` at ``now``; None when the asker already has one for ``wished``."""
        asker_id, wished_id = self._person_id(asker), self._person_id(wished)
        connector_id = self._person_id(connector)
        exists = self._session.scalar(select(IntroductionRow.id).where(
            IntroductionRow.asker_id == asker_id, IntroductionRow.wished_id == wished_id))
        if exists is not None:
            return None
        row = IntroductionRow(asker_id=asker_id, wished_id=wished_id, connector_id=connector_id, state="asked",
                              created_at=require_utc(now, "now"))
        self._session.add(row)
        self._session.flush()
        return self.get(row.id)

    def get(self, introduction_id: int) -> Introduction | None:
        """The request with this id, or None."""
        found = self._session.execute(_select_introductions().where(IntroductionRow.id == introduction_id)).first()
        return None if found is None else _introduction(found[0], found[1], found[2], found[3])

    def asked_pairs(self) -> set[tuple[str, str]]:
        """Every (asker, wished) that already has a request, in any state."""
        rows = self._session.execute(
            select(_ASKER.email, _WISHED.email)
            .select_from(IntroductionRow)
            .join(_ASKER, _ASKER.id == IntroductionRow.asker_id)
            .join(_WISHED, _WISHED.id == IntroductionRow.wished_id)
        )
        return {(asker, wished) for asker, wished in rows}

    def set_state(self, introduction_id: int, state: str, now: datetime) -> None:
        """Record the answer ``state`` given at ``now``."""
        if state not in INTRODUCTION_STATES:
            raise ValueError(f"{state!r} is not an introduction state ({', '.join(INTRODUCTION_STATES)})")
        row = self._session.get(IntroductionRow, introduction_id)
        if row is None:
            raise NotFoundError(f"no introduction {introduction_id}")
        row.state = state
        row.answered_at = require_utc(now, "now")
        self._session.flush()

    def of_asker(self, email: str) -> list[Introduction]:
        """The requests made for ``email``'s wishes, newest first."""
        rows = self._session.execute(
            _select_introductions().where(_ASKER.email == key_email(email))
            .order_by(IntroductionRow.created_at.desc(), IntroductionRow.id.desc())
        )
        return [_introduction(row[0], row[1], row[2], row[3]) for row in rows]
