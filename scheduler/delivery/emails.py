"""Emails as data: the announcements and notices of a cycle, built from Jinja templates.

The core only builds ``model.EmailMessage`` values (text and HTML bodies, and the ``Invite`` that the mail
adapter turns into the iMIP calendar part); sending lives in ``integrations/mail.py``. Planned emails are
stored in the outbox as JSON, so ``email_to_payload`` / ``email_from_payload`` convert them both ways
without loss.

Templates live in ``scheduler/templates/email/``: ``*.html`` are autoescaped (names come from sign-up forms),
``*.txt`` are not (a plain-text mail shows ``<`` as ``<``). Every time is shown in the reader's own time zone.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from scheduler.model import (
    CADENCE_DAYS,
    Attendee,
    EmailMessage,
    Interval,
    Invite,
    Meeting,
    Person,
    Program,
    as_local,
    require_utc,
)
from scheduler.pairing.starters import conversation_starters
from scheduler.ports import SiteUrls

PAYLOAD_VERSION = 1
KIND_LABELS = {"coffee": "Coffee chat", "lunch": "Lunch", "dinner": "Dinner"}
# What to say about the place when the meeting has no location of its own.
MODE_PLACES = {
    "virtual": "Online: agree on a video-call link between you",
    "in_person": "In person: pick a place together",
    "either": "In person or online, as you both prefer",
}
# Headers on every email: Auto-Submitted (RFC 3834) keeps out-of-office robots from answering a robot.
STANDARD_HEADERS: tuple[tuple[str, str], ...] = (("Auto-Submitted", "auto-generated"),)

# English names, not strftime's %A/%B, so the output does not depend on the process locale.
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@functools.cache
def template_environment() -> Environment:
    """The one Jinja environment of the email templates (``scheduler/templates/email/``), shared by the account
    emails: HTML autoescaped, text not, a misspelt variable an error. Built on first use rather than at import."""
    environment = Environment(
        loader=PackageLoader("scheduler", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,  # a misspelt variable fails loudly instead of leaving a hole in a mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # ``{% if place is video_link %}``: the HTML emails make a meeting's video link a link.
    environment.tests["video_link"] = lambda value: isinstance(value, str) and bool(video_url(value))
    return environment


def _render(name: str, context: Mapping[str, Any]) -> str:
    return template_environment().get_template(name).render(context)


def format_day(moment: datetime) -> str:
    """``Tuesday 24 November`` for a (local) datetime."""
    return f"{_DAY_NAMES[moment.weekday()]} {moment.day} {_MONTH_NAMES[moment.month - 1]}"


def format_slot(slot: Interval, zone: str) -> str:
    """The slot on a wall clock in ``zone``: ``Tuesday 24 November, 10:30–11:00 (Europe/London)``.

    A slot that crosses midnight in ``zone`` names both days.
    """
    start, end = as_local(slot.start, zone), as_local(slot.end, zone)
    if start.date() == end.date():
        return f"{format_day(start)}, {start:%H:%M}–{end:%H:%M} ({zone})"
    return f"{format_day(start)}, {start:%H:%M} – {format_day(end)}, {end:%H:%M} ({zone})"


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the effect ``key``: the same planned email always has the same id.

    Returns ``<coffeechat.{first 32 hex digits of sha256(key)}@{domain}>``, so a mail sent twice by a retrying
    relay is recognisable as one message by servers and clients.
    """
    if not domain or any(c.isspace() or c in '<>@()[]\\,;:"' for c in domain):
        raise ValueError(f"{domain!r} is not a mail domain")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<coffeechat.{digest}@{domain}>"


def sender_domain(sender: str) -> str:
    """The domain of a sender such as ``Coffee Chat <coffee@example.com>``; ``ValueError`` if it has none."""
    _, address = parseaddr(sender)
    _, at, domain = address.rpartition("@")
    if not at or not domain:
        raise ValueError(f"sender {sender!r} has no address with a domain")
    return domain


def format_recipient(person: Person) -> str:
    """``Name <address>``, quoted where the name needs it, on one line whatever the name holds."""
    return str(Address(display_name=_one_line(person.name), addr_spec=person.email))


def _compose(template: str, recipient: Person, subject: str, context: Mapping[str, Any], *, sender: str, key: str,
             invite: Invite | None = None) -> EmailMessage:
    """One email to ``recipient`` from ``template``'s .txt and .html, with a one-line subject and the
    deterministic Message-ID of ``key``."""
    return EmailMessage(
        to=(format_recipient(recipient),),
        subject=_one_line(subject),
        text=_render(f"{template}.txt", context),
        html=_render(f"{template}.html", context),
        sender=sender,
        message_id=make_message_id(key, sender_domain(sender)),
        invite=invite,
        headers=STANDARD_HEADERS,
    )


def _one_line(text: str) -> str:
    # Names and subjects end up in headers: a line break there must never reach the mail adapter.
    return " ".join(text.split())


def _join_names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} & {names[-1]}"


def _kind_label(program: Program) -> str:
    return KIND_LABELS.get(program.kind, program.kind.capitalize())


def _place(meeting: Meeting, program: Program) -> str:
    return meeting.location or MODE_PLACES.get(program.meeting_mode, MODE_PLACES["either"])


def video_url(location: str) -> str:
    """``location`` when it is a video link (an https address: what a program's ``video_link`` gives a virtual
    meeting), else "" (a place in words such as "Video call" or "In person, London office")."""
    return location if location.startswith("https://") and not any(c.isspace() for c in location) else ""


def match_url(site: SiteUrls, meeting: Meeting) -> str:
    """The address of the meeting's match page on ``site`` (it needs a sign-in): the one place every email (and
    the invite description) asks for it. The signed one-click links of an email come from
    ``scheduler.planning.links.MatchLinks`` through ``PlanSettings.links``. ``ValueError`` for a meeting that is
    not stored."""
    if meeting.id is None:
        raise ValueError("a meeting has a page only once it is stored")
    return site.match_page(meeting.id)


def _ordered_members(meeting: Meeting, members: Sequence[Person]) -> tuple[Person, ...]:
    """The group's people in the group's order; ``ValueError`` when ``members`` are not exactly the group."""
    by_email = {person.email: person for person in members}
    if set(by_email) != set(meeting.group.members) or len(members) != len(meeting.group.members):
        raise ValueError(
            f"members {sorted(by_email)} are not the meeting's group {sorted(meeting.group.members)}"
        )
    return tuple(by_email[email] for email in meeting.group.members)


def build_invite(
    meeting: Meeting,
    members: Sequence[Person],
    program: Program,
    organizer: Attendee,
    *,
    stamp: datetime,
    match_url: str,
    method: str = "REQUEST",
) -> Invite:
    """The calendar invite of a stored, scheduled meeting, the same for every member.

    UID is ``meeting.uid`` and SEQUENCE ``meeting.sequence``, so updates replace the earlier invite in each
    calendar. ``stamp`` becomes DTSTAMP (the planning time; there is no hidden clock). The description says
    why the group was put together, offers the group a few conversation starters and links to the match page.
    Raises ``ValueError`` for a meeting that is not stored or has no slot, or when ``members`` are not the
    meeting's group.
    """
    if meeting.slot is None:
        raise ValueError("a meeting without a slot has no invite")
    people = _ordered_members(meeting, members)
    names = _join_names([_one_line(person.name) for person in people])
    description = _render(
        "invite_description.txt",
        {
            "label": _kind_label(program),
            "program": program.name,
            "names": names,
            "reasons": meeting.group.reasons,
            "starters": conversation_starters(people),
            "place": _place(meeting, program),
            "match_url": match_url,
        },
    )
    return Invite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        method=method,
        organizer=organizer,
        attendees=tuple(Attendee(person.email, _one_line(person.name)) for person in people),
        start=meeting.slot.start,
        end=meeting.slot.end,
        summary=f"{_kind_label(program)}: {names}",
        description=description.rstrip("\n"),
        location=meeting.location,
        stamp=require_utc(stamp, "stamp"),
        video_url=video_url(meeting.location),
    )


def match_announcement(
    meeting: Meeting,
    members: Sequence[Person],
    recipient: Person,
    program: Program,
    organizer: Attendee,
    *,
    sender: str,
    stamp: datetime,
    site: SiteUrls,
    key: str,
    attach_invite: bool = True,
    actions: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The email telling ``recipient`` whom they meet, why, when (in their own and each other's time zone)
    and where, with a few conversation starters addressed to them and a link to the match page, and one link
    per answer in ``actions`` (``accept``, ``decline``, ``reschedule`` → signed URL; see
    ``scheduler.planning.links.MatchLinks``) when given.

    A scheduled meeting carries its invite (the mail adapter adds the calendar part), unless ``attach_invite``
    is False: then the calendar provider sends the invitation itself and the email says so. A meeting without a
    slot gets an announcement without invite that asks the group to pick a time together. The Message-ID comes
    from ``key``. Raises ``ValueError`` when ``recipient`` is not in the meeting or the meeting is not stored.
    """
    people = _ordered_members(meeting, members)
    if recipient.email not in meeting.group.members:
        raise ValueError(f"{recipient.email} is not in meeting {meeting.id}")
    others = [person for person in people if person.email != recipient.email]
    page = match_url(site, meeting)
    label = _kind_label(program)
    other_names = _join_names([_one_line(person.name) for person in others])
    slot = meeting.slot
    context = {
        "label": label,
        "program": program.name,
        "recipient_name": recipient.name,
        "others": [
            {
                "name": person.name,
                "email": person.email,
                "details": [
                    f"{what}: {value}"
                    for what, value in (
                        ("Team", person.team),
                        ("Department", person.department),
                        ("Office", person.office),
                    )
                    if value
                ],
                "when": format_slot(slot, person.timezone) if slot is not None else None,
            }
            for person in others
        ],
        "other_names": other_names,
        "reasons": meeting.group.reasons,
        "starters": conversation_starters(people, recipient),
        "when": format_slot(slot, recipient.timezone) if slot is not None else None,
        "minutes": program.duration_minutes,
        "place": _place(meeting, program),
        "match_url": page,
        "invite_attached": attach_invite,
        "actions": dict(actions or {}),
    }
    if slot is None:
        subject = f"{label} with {other_names}: pick a time together"
        invite = None
    else:
        local_start = as_local(slot.start, recipient.timezone)
        subject = f"{label} with {other_names}: {format_day(local_start)}, {local_start:%H:%M}"
        invite = (build_invite(meeting, people, program, organizer, stamp=stamp, match_url=page)
                  if attach_invite else None)
    return _compose("match_announcement", recipient, subject, context, sender=sender, key=key, invite=invite)


def meeting_reminder(
    meeting: Meeting,
    members: Sequence[Person],
    recipient: Person,
    program: Program,
    *,
    sender: str,
    site: SiteUrls,
    key: str,
) -> EmailMessage:
    """A short reminder, sent the day before, of whom ``recipient`` meets, when (in their own time zone) and
    where. It carries no invite: the one sent with the announcement already holds the time. Raises
    ``ValueError`` for a meeting without a slot, one not stored, or a recipient not in it."""
    people = _ordered_members(meeting, members)
    if recipient.email not in meeting.group.members:
        raise ValueError(f"{recipient.email} is not in meeting {meeting.id}")
    if meeting.slot is None:
        raise ValueError(f"meeting {meeting.id} has no time to remind anyone of")
    others = [person for person in people if person.email != recipient.email]
    label = _kind_label(program)
    other_names = _join_names([_one_line(person.name) for person in others])
    local_start = as_local(meeting.slot.start, recipient.timezone)
    context = {
        "label": label,
        "recipient_name": recipient.name,
        "other_names": other_names,
        "when": format_slot(meeting.slot, recipient.timezone),
        "place": _place(meeting, program),
        "match_url": match_url(site, meeting),
    }
    subject = f"Reminder: {label.lower()} with {other_names}, {format_day(local_start)} {local_start:%H:%M}"
    return _compose("meeting_reminder", recipient, subject, context, sender=sender, key=key)


def _others(meeting: Meeting, members: Sequence[Person], recipient: Person) -> tuple[tuple[Person, ...], str]:
    """The meeting's people in order and the names of everyone but ``recipient``; ``ValueError`` for a recipient
    who is not in the meeting or members who are not its group."""
    people = _ordered_members(meeting, members)
    if recipient.email not in meeting.group.members:
        raise ValueError(f"{recipient.email} is not in meeting {meeting.id}")
    others = [person for person in people if person.email != recipient.email]
    return people, _join_names([_one_line(person.name) for person in others])


def feedback_request(
    meeting: Meeting,
    members: Sequence[Person],
    recipient: Person,
    program: Program,
    *,
    sender: str,
    site: SiteUrls,
    key: str,
    actions: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The "did you meet?" email, sent a few hours after the meeting ended, linking to the match page where
    ``recipient`` answers, or with ``actions`` (``met`` and ``not-met`` → signed URL) to its one-click
    answers. Raises ``ValueError`` for a meeting without a slot, one not stored, or a recipient
    not in it."""
    _, other_names = _others(meeting, members, recipient)
    if meeting.slot is None:
        raise ValueError(f"meeting {meeting.id} has no time to ask about")
    label = _kind_label(program)
    context = {
        "label": label,
        "recipient_name": recipient.name,
        "other_names": other_names,
        "when": format_slot(meeting.slot, recipient.timezone),
        "match_url": match_url(site, meeting),
        "actions": dict(actions or {}),
    }
    if actions and not {"met", "not-met"} <= set(actions):
        raise ValueError("a feedback request with links needs both 'met' and 'not-met'")
    return _compose("feedback_request", recipient, f"Did you meet {other_names}?", context, sender=sender, key=key)


def meeting_cancellation(
    meeting: Meeting,
    members: Sequence[Person],
    recipient: Person,
    program: Program,
    organizer: Attendee,
    *,
    sender: str,
    stamp: datetime,
    site: SiteUrls,
    key: str,
    reason: str = "",
    attach_invite: bool = True,
    next_step: str = "",
) -> EmailMessage:
    """The email telling ``recipient`` that the meeting is called off, and why when ``reason`` is given.
    ``next_step`` says what happens to them now (re-paired with someone else, say); without it, that they stay
    in the program for the next round.

    ``meeting`` is the cancelled meeting, its ``sequence`` already raised. When it had a time and
    ``attach_invite`` holds, the email carries a ``METHOD:CANCEL`` invite (same UID, that higher SEQUENCE)
    that removes the event from the reader's calendar; with a provider sending invitations it carries none.
    """
    people, other_names = _others(meeting, members, recipient)
    label = _kind_label(program)
    slot = meeting.slot
    context = {
        "label": label,
        "recipient_name": recipient.name,
        "other_names": other_names,
        "when": format_slot(slot, recipient.timezone) if slot is not None else None,
        "reason": reason,
        "next_step": next_step,
        "invite_attached": attach_invite and slot is not None,
        "match_url": match_url(site, meeting),
    }
    invite = None
    if slot is not None and attach_invite:
        invite = build_invite(meeting, people, program, organizer, stamp=stamp,
                              match_url=match_url(site, meeting), method="CANCEL")
    subject = f"Cancelled: {label.lower()} with {other_names}"
    return _compose("meeting_cancelled", recipient, subject, context, sender=sender, key=key, invite=invite)


def meeting_rescheduled(
    meeting: Meeting,
    members: Sequence[Person],
    recipient: Person,
    program: Program,
    organizer: Attendee,
    *,
    sender: str,
    stamp: datetime,
    site: SiteUrls,
    key: str,
    previous: Interval | None,
    attach_invite: bool = True,
    actions: Mapping[str, str] | None = None,
    change: str = "",
) -> EmailMessage:
    """The email telling ``recipient`` the meeting moved from ``previous`` to ``meeting.slot`` (both in their
    own time zone). It carries the updated ``METHOD:REQUEST`` invite (same UID, the raised SEQUENCE), which
    moves the event in their calendar, unless a provider sends invitations (``attach_invite`` False), and the
    answer links of ``actions`` as the announcement does. With ``change`` (its group changed, the time did not:
    "Ben cannot make it"), it says what changed instead of announcing a new time.
    Raises ``ValueError`` for a meeting without a new slot, one not stored, or a recipient not in it."""
    people, other_names = _others(meeting, members, recipient)
    if meeting.slot is None:
        raise ValueError(f"meeting {meeting.id} has no new time")
    label = _kind_label(program)
    local_start = as_local(meeting.slot.start, recipient.timezone)
    page = match_url(site, meeting)
    context = {
        "label": label,
        "recipient_name": recipient.name,
        "other_names": other_names,
        "when": format_slot(meeting.slot, recipient.timezone),
        "previous": format_slot(previous, recipient.timezone) if previous is not None else None,
        "place": _place(meeting, program),
        "invite_attached": attach_invite,
        "match_url": page,
        "actions": dict(actions or {}),
        "change": change,
    }
    invite = (build_invite(meeting, people, program, organizer, stamp=stamp, match_url=page)
              if attach_invite else None)
    subject = f"{'Changed' if change else 'New time'}: {label.lower()} with {other_names}, " \
              f"{format_day(local_start)} {local_start:%H:%M}"
    return _compose("meeting_rescheduled", recipient, subject, context, sender=sender, key=key, invite=invite)


def unmatched_notice(
    person: Person,
    reason: str,
    program: Program,
    *,
    sender: str,
    site: SiteUrls,
    key: str,
    window_start: datetime,
) -> EmailMessage:
    """The email telling ``person`` they have no match in the cycle starting ``window_start``, why, and that
    they stay in the program for the next cycle. The Message-ID comes from ``key``."""
    window_start = as_local(window_start, person.timezone)
    next_start = window_start + timedelta(days=CADENCE_DAYS[program.cadence])
    label = _kind_label(program)
    context = {
        "label": label,
        "program": program.name,
        "recipient_name": person.name,
        "reason": reason,
        "window_day": format_day(window_start),
        "next_day": format_day(next_start),
        "settings_url": site.account_settings(),
    }
    subject = f"No {label.lower()} match this time: you stay in for the next round"
    return _compose("unmatched_notice", person, subject, context, sender=sender, key=key)


def still_in_request(person: Person, *, cycles: int, sender: str, site: SiteUrls, key: str,
                     actions: Mapping[str, str] | None = None) -> EmailMessage:
    """The "still in?" email to someone silent for ``cycles`` cycles: they are left out of this round, and
    ``actions`` (``stay`` and ``pause``: signed one-click links, see ``scheduler.planning.still_in_links``) keep
    them in or pause them; without links, signing in keeps them in. ``ValueError`` for links without both."""
    if actions and not {"stay", "pause"} <= set(actions):
        raise ValueError("a still-in request with links needs both 'stay' and 'pause'")
    context = {"recipient_name": person.name, "cycles": cycles, "actions": dict(actions or {}),
               "settings_url": site.account_settings()}
    return _compose("still_in_request", person, "Still in for coffee chats?", context, sender=sender, key=key)


def silence_pause_notice(person: Person, *, asked_at: datetime, sender: str, site: SiteUrls, key: str,
                         stay_url: str | None = None) -> EmailMessage:
    """The email telling ``person`` they are paused because nothing came back after the "still in?" email of
    ``asked_at`` (shown as a day in their zone), and how to come back: ``stay_url`` (a signed link) or signing
    in."""
    context = {"recipient_name": person.name, "asked_day": format_day(as_local(asked_at, person.timezone)),
               "stay_url": stay_url, "settings_url": site.account_settings()}
    return _compose("silence_paused", person, "We have paused your coffee chats", context, sender=sender, key=key)


def thanks_note(meeting: Meeting, program: Program | None, writer: Person, partner: Person, *, note: str,
                sender: str, site: SiteUrls, key: str, manager: Person | None = None) -> EmailMessage:
    """The thank-you note ``writer`` wrote to ``partner`` after their meeting, with the optional ``note``.

    Without ``manager`` it goes to ``partner``. With ``manager`` (the writer chose to tell them) it goes to the
    manager instead and says who thanked whom for which kind of meeting, with the note, which the writer chose
    to share by telling them. A meeting whose program is gone is a coffee chat. ``ValueError`` for a meeting not
    stored."""
    label = _kind_label(program) if program is not None else KIND_LABELS["coffee"]
    context = {
        "label": label,
        "writer_name": writer.name,
        "partner_name": partner.name,
        "manager_name": manager.name if manager is not None else "",
        "for_manager": manager is not None,
        "note": note,
        "when": format_day(as_local(meeting.slot.start, (manager or partner).timezone))
        if meeting.slot is not None else "",
        "match_url": match_url(site, meeting),
    }
    if manager is None:
        return _compose("thanks_note", partner, f"{writer.name} says thank you for your {label.lower()}",
                        context, sender=sender, key=key)
    subject = f"{writer.name} thanked {partner.name} for a {label.lower()}"
    return _compose("thanks_note", manager, subject, context, sender=sender, key=key)


def introduction_request(connector: Person, asker: Person, wished: Person, *, sender: str, key: str,
                         actions: Mapping[str, str]) -> EmailMessage:
    """The email asking ``connector``, who met both, to introduce ``asker`` to ``wished``: ``actions``
    (``introduce`` and ``not-now``, signed one-click links, see ``scheduler.planning.introduction_links``).
    ``ValueError`` without both links."""
    if not {"introduce", "not-now"} <= set(actions):
        raise ValueError("an introduction request needs both 'introduce' and 'not-now' links")
    context = {"recipient_name": connector.name, "asker_name": asker.name, "wished_name": wished.name,
               "actions": dict(actions)}
    subject = f"Would you introduce {asker.name} to {wished.name}?"
    return _compose("introduction_request", connector, subject, context, sender=sender, key=key)


def introduction_email(recipient: Person, other: Person, connector: Person, *, wished: bool, sender: str,
                       key: str, rather_not_url: str | None = None) -> EmailMessage:
    """The introduction of ``recipient`` to ``other`` from Coffee Chat, naming ``connector`` as the one who
    introduces them. To the person wished for (``wished``), ``rather_not_url`` is their signed "I'd rather not"
    link; to the asker there is none."""
    context = {"recipient_name": recipient.name, "other_name": other.name, "other_email": other.email,
               "connector_name": connector.name, "wished": wished, "rather_not_url": rather_not_url}
    subject = f"{connector.name} introduces you to {other.name}"
    return _compose("introduction", recipient, subject, context, sender=sender, key=key)


def introduction_closed(asker: Person, wished: Person, *, sender: str, site: SiteUrls, key: str) -> EmailMessage:
    """The email telling ``asker`` that the introduction to ``wished`` could not happen this time: never who
    said no, nor that anyone did."""
    context = {"recipient_name": asker.name, "wished_name": wished.name,
               "introductions_url": site.account_introductions()}
    subject = f"Your introduction to {wished.name}"
    return _compose("introduction_closed", asker, subject, context, sender=sender, key=key)


def email_to_payload(message: EmailMessage) -> dict[str, object]:
    """A JSON-safe dict (str, int, list, dict, None only) of ``message`` for the outbox.

    Datetimes become ISO 8601 strings in UTC with their offset. ``email_from_payload`` gives back an equal
    message. Raises ``ValueError`` for a naive datetime in the invite.
    """
    invite = message.invite
    return {
        "version": PAYLOAD_VERSION,
        "to": list(message.to),
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "sender": message.sender,
        "message_id": message.message_id,
        "headers": [[name, value] for name, value in message.headers],
        "invite": None if invite is None else invite_to_payload(invite),
    }


def invite_to_payload(invite: Invite) -> dict[str, object]:
    """A JSON-safe dict of ``invite`` (times as ISO 8601 UTC); ``invite_from_payload`` reads it back."""
    return {
        "uid": invite.uid,
        "sequence": invite.sequence,
        "method": invite.method,
        "organizer": _attendee_to_payload(invite.organizer),
        "attendees": [_attendee_to_payload(attendee) for attendee in invite.attendees],
        "start": require_utc(invite.start, "Invite.start").isoformat(),
        "end": require_utc(invite.end, "Invite.end").isoformat(),
        "summary": invite.summary,
        "description": invite.description,
        "location": invite.location,
        "stamp": None if invite.stamp is None else require_utc(invite.stamp, "Invite.stamp").isoformat(),
        # Only when set, so the payloads of invites without a video link stay as they were.
        **({"video_url": invite.video_url} if invite.video_url else {}),
    }


def _attendee_to_payload(attendee: Attendee) -> dict[str, object]:
    return {"email": attendee.email, "name": attendee.name}


def email_from_payload(payload: Mapping[str, object]) -> EmailMessage:
    """The ``EmailMessage`` stored by ``email_to_payload``; ``ValueError`` naming the field if malformed."""
    version = payload.get("version")
    if version != PAYLOAD_VERSION:
        raise ValueError(f"email payload version {version!r} is not {PAYLOAD_VERSION}")
    headers = []
    for pair in _list(payload, "headers"):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise ValueError(f"email payload field 'headers' holds {pair!r}, not a [name, value] pair")
        headers.append((pair[0], pair[1]))
    invite = payload.get("invite")
    return EmailMessage(
        to=tuple(_str_items(payload, "to")),
        subject=_str(payload, "subject"),
        text=_str(payload, "text"),
        html=_str(payload, "html"),
        sender=_str(payload, "sender"),
        message_id=_str(payload, "message_id"),
        invite=None if invite is None else invite_from_payload(_mapping(invite, "invite")),
        headers=tuple(headers),
    )


def invite_from_payload(payload: Mapping[str, object]) -> Invite:
    """The ``Invite`` stored by ``invite_to_payload``; ``ValueError`` naming the field if malformed."""
    stamp = payload.get("stamp")
    return Invite(
        uid=_str(payload, "uid"),
        sequence=_int(payload, "sequence"),
        method=_str(payload, "method"),
        organizer=_attendee_from_payload(_mapping(payload.get("organizer"), "organizer")),
        attendees=tuple(
            _attendee_from_payload(_mapping(item, "attendees")) for item in _list(payload, "attendees")
        ),
        start=_datetime(payload.get("start"), "start"),
        end=_datetime(payload.get("end"), "end"),
        summary=_str(payload, "summary"),
        description=_str(payload, "description"),
        location=_str(payload, "location"),
        stamp=None if stamp is None else _datetime(stamp, "stamp"),
        video_url=_str(payload, "video_url") if "video_url" in payload else "",
    )


def _attendee_from_payload(payload: Mapping[str, object]) -> Attendee:
    return Attendee(email=_str(payload, "email"), name=_str(payload, "name"))


def _str(payload: Mapping[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise ValueError(f"email payload field {name!r} is {value!r}, not a string")
    return value


def _int(payload: Mapping[str, object], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"email payload field {name!r} is {value!r}, not an integer")
    return value


def _list(payload: Mapping[str, object], name: str) -> list[object]:
    value = payload.get(name)
    if not isinstance(value, list):
        raise ValueError(f"email payload field {name!r} is {value!r}, not a list")
    return value


def _str_items(payload: Mapping[str, object], name: str) -> list[str]:
    items = _list(payload, name)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"email payload field {name!r} holds something other than strings")
    return [str(item) for item in items]


def _mapping(value: object, name: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"email payload field {name!r} is {value!r}, not an object")
    return value


def _datetime(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"email payload field {name!r} is {value!r}, not an ISO datetime")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"email payload field {name!r} is {value!r}, not an ISO datetime") from exc
    return require_utc(moment, name)
