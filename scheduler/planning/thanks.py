"""Thank-you notes after a meeting (issue 15, part 4): one click on the match page after "we met".

A member who said they met in a meeting that has begun (and is not cancelled) may thank each partner once, with
an optional short note; the writer may also tell the partner's manager (``Person.manager``, when that address is a
stored person other than the writer). The note is stored nowhere: a ``thanks`` row says only who thanked whom,
whether the manager was told, and when, so the admin's analytics count notes without ever reading them. The
emails are planned as outbox effects in the same transaction as the row: nothing is sent from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler.delivery import emails
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Effect, Meeting, Person, Program, Thanks, require_utc
from scheduler.planning.matches import check_comment
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    from scheduler.planning.cycle import PlanSettings
    from scheduler.ports import Clock, UnitOfWork

MAX_NOTE = 500


@dataclass(frozen=True)
class ThanksOffer:
    """What the match page offers its viewer for one partner: "Say thank you to <partner>", with "Also tell
    <manager>" when ``manager`` is set (the partner's manager is stored), or ``thanked`` once they did."""

    partner: Person
    manager: Person | None = None
    thanked: Thanks | None = None


@dataclass(frozen=True)
class ThanksGiven:
    """What ``thank_partner`` stored and planned: the row, and the emails queued in the outbox (to the partner,
    and to the partner's manager when the writer chose so)."""

    thanks: Thanks
    effects: tuple[Effect, ...]

    @property
    def manager_told(self) -> bool:
        """Whether an email to the partner's manager is queued too."""
        return self.thanks.shared_with_manager


def check_note(text: str) -> str:
    """The note stripped; ``InputError`` (where ``note``) when longer than ``MAX_NOTE`` characters or holding
    control characters other than line breaks and tabs (the checks of ``matches.check_comment``)."""
    return check_comment(text, limit=MAX_NOTE, where="note")


def thanks_key(meeting: Meeting, writer: str, partner: str, recipient: str) -> str:
    """The outbox key of a thank-you email: the members by their place in the group (so the key names nobody
    but its recipient, whose address ends it, as ``delete_person`` expects), then the recipient."""
    members = list(meeting.group.members)
    who = f"{members.index(writer)}-{members.index(partner)}"
    role = "partner" if recipient == partner else "manager"
    return f"thanks/meeting-{meeting.id}/{who}/{role}/{recipient}"


def _meeting_of(uow: UnitOfWork, meeting_id: int, email: str) -> tuple[Meeting, Program | None]:
    """The meeting and its program; ``NotFoundError`` alike for a meeting that does not exist and one ``email``
    is not in."""
    meeting = uow.cycles.meeting(meeting_id)
    if meeting is None or email not in meeting.group.members:
        raise NotFoundError(f"no match {meeting_id} of yours")
    cycle = uow.cycles.get(meeting.cycle_id) if meeting.cycle_id is not None else None
    return meeting, uow.programs.get(cycle.program) if cycle is not None else None


def _refusal(uow: UnitOfWork, meeting: Meeting, email: str, now: datetime) -> str | None:
    """Why ``email`` may not thank anyone for ``meeting`` (yet), or None when they may."""
    if meeting.state == "cancelled":
        return "this meeting was cancelled"
    if meeting.slot is not None and meeting.slot.start > now:
        return "this meeting has not happened yet"
    said = [answer for answer in uow.feedback.answers(_id(meeting)) if answer.email == email]
    if not said or not said[0].met:
        return "say first that you met: only people who met can thank each other"
    return None


def _id(meeting: Meeting) -> int:
    if meeting.id is None:
        raise ValueError("a meeting without an id is not stored")
    return meeting.id


def _manager_of(uow: UnitOfWork, partner: Person, writer: str) -> Person | None:
    """The partner's manager when that address is a stored person other than the writer, else None."""
    if not partner.manager or partner.manager.strip().lower() == writer:
        return None
    return uow.people.get(partner.manager)


def thanks_offers(uow_factory: UowFactory, meeting_id: int, email: str, now: datetime) -> tuple[ThanksOffer, ...]:
    """One offer per partner of ``email`` in the meeting, or none at all when ``email`` may not thank anyone for
    it (not said "we met", not begun, cancelled). Raises ``NotFoundError`` as ``matches.load_match`` does.
    Changes nothing."""
    with uow_factory() as uow:
        meeting, _ = _meeting_of(uow, meeting_id, email)
        if _refusal(uow, meeting, email, require_utc(now)) is not None:
            return ()
        written = {thanks.recipient: thanks for thanks in uow.thanks.of_meeting(meeting_id) if thanks.writer == email}
        offers = []
        for member in meeting.group.members:
            if member == email:
                continue
            partner = uow.people.get(member)
            if partner is None:  # gone since: nobody left to thank
                continue
            offers.append(ThanksOffer(partner, _manager_of(uow, partner, email), written.get(member)))
    return tuple(offers)


def thank_partner(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, meeting_id: int, email: str,
                  partner_email: str, *, note: str = "", tell_manager: bool = False) -> ThanksGiven:
    """``email`` thanks ``partner_email`` for meeting ``meeting_id``: store who thanked whom (never ``note``) and
    queue the email to the partner, and, when ``tell_manager``, one to the partner's manager, in one transaction.

    Raises ``NotFoundError`` as ``matches.load_match`` does; ``InputError`` for a bad note (``check_note``), a
    partner who is not in the meeting (where ``partner``), a meeting cancelled, not begun or not said to have
    taken place by ``email`` (where ``match``), a second note to the same partner for the same meeting, and
    ``tell_manager`` for a partner without a stored manager (where ``manager``).
    """
    text = check_note(note)
    now = require_utc(clock.now())
    with uow_factory() as uow:
        meeting, program = _meeting_of(uow, meeting_id, email)
        refusal = _refusal(uow, meeting, email, now)
        if refusal is not None:
            raise InputError(refusal, where="match")
        partner = uow.people.get(partner_email) if partner_email in meeting.group.members else None
        if partner is None or partner.email == email:
            raise InputError("choose a partner of this meeting to thank", where="partner")
        writer = uow.people.get(email)
        if writer is None:
            raise NotFoundError(f"no match {meeting_id} of yours")
        manager = _manager_of(uow, partner, email) if tell_manager else None
        if tell_manager and manager is None:
            raise InputError(f"{partner.name} has no manager we know of", where="manager")
        thanks = Thanks(meeting_id, email, partner.email, shared_with_manager=manager is not None, thanked_at=now)
        if not uow.thanks.add(thanks):
            raise InputError(f"you have already thanked {partner.name} for this meeting", where="partner")
        effects = []
        for recipient in (partner, manager):
            if recipient is None:
                continue
            key = thanks_key(meeting, email, partner.email, recipient.email)
            message = emails.thanks_note(meeting, program, writer, partner, note=text, sender=settings.sender,
                                         site=settings.site, key=key,
                                         manager=recipient if recipient is manager else None)
            effect = Effect(key=key, kind="email", payload=emails.email_to_payload(message),
                            cycle_id=meeting.cycle_id)
            uow.outbox.add(effect)
            effects.append(effect)
        uow.commit()
    return ThanksGiven(thanks, tuple(effects))
