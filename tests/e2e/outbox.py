"""Reading what the file mail backend wrote: .eml files, and the calendar invite inside each."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import icalendar


@dataclass(frozen=True)
class Invite:
    """The iMIP calendar part of one email, as a calendar client would read it."""

    path: Path
    recipient: str
    content_type_method: str | None
    method: str
    uid: str
    start: datetime
    end: datetime
    organizer: str
    attendees: tuple[str, ...]


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Each .eml file in ``directory`` by name, with its modification time (ns) and contents."""
    if not directory.exists():
        return {}
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(directory.glob("*.eml"))}


def read_email(path: Path) -> EmailMessage:
    """Parse an .eml file with the standard library's email parser."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def recipient_of(message: EmailMessage) -> str:
    """The one address in To, lower-cased."""
    (address,) = message["To"].addresses
    return str(address.addr_spec).lower()


def _address(value: object) -> str:
    return str(value).removeprefix("mailto:").removeprefix("MAILTO:").lower()


def read_invite(path: Path) -> Invite | None:
    """The invite in the email at ``path`` (None when it has no text/calendar part)."""
    message = read_email(path)
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    if not parts:
        return None
    assert len(parts) == 1, f"{path.name}: more than one text/calendar part"
    (part,) = parts
    calendar = icalendar.Calendar.from_ical(part.get_content())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1, f"{path.name}: expected one VEVENT, found {len(events)}"
    (event,) = events
    attendees = event.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    method_param = part.get_param("method")
    assert method_param is None or isinstance(method_param, str), f"{path.name}: odd method parameter"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert isinstance(start, datetime), f"{path.name}: DTSTART is not a date-time"
    assert isinstance(end, datetime), f"{path.name}: DTEND is not a date-time"
    assert start.tzinfo is not None, f"{path.name}: DTSTART is floating"
    return Invite(
        path=path,
        recipient=recipient_of(message),
        content_type_method=method_param,
        method=str(calendar.get("METHOD", "")),
        uid=str(event["UID"]),
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        organizer=_address(event.get("ORGANIZER", "")),
        attendees=tuple(sorted(_address(a) for a in attendees)),
    )


def read_invites(directory: Path) -> list[Invite]:
    """Every invite among the .eml files in ``directory``."""
    invites = (read_invite(path) for path in sorted(directory.glob("*.eml")))
    return [invite for invite in invites if invite is not None]
