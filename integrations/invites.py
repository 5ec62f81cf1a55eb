"""Render a ``model.Invite`` as an iCalendar (RFC 5545) object for iMIP email (RFC 6047).

The output is a scheduling message per iTIP (RFC 5546): ``METHOD:REQUEST`` to invite or update,
``METHOD:CANCEL`` (with ``STATUS:CANCELLED``) to call the meeting off. Clients match updates and
cancellations to the original event by ``UID`` and keep the one with the highest ``SEQUENCE``, so the
caller raises ``sequence`` on every change.

Times are written in UTC, which needs no ``VTIMEZONE``; each reader's calendar shows them in their own zone.
A meeting's video link (``Invite.video_url``) is its ``LOCATION``, ``URL`` and ``CONFERENCE``.
"""

from __future__ import annotations

from icalendar import STATUS, Calendar, Conference, Event, vCalAddress

from scheduler.model import Invite, require_utc

PRODID = "-//Coffee Chat//coffeechat//EN"
METHODS = ("REQUEST", "CANCEL")


def render_invite(invite: Invite) -> str:
    """Return the iCalendar text (CRLF line endings, folded lines) of ``invite``.

    The same ``Invite`` always renders to the same text: ``DTSTAMP`` is ``invite.stamp`` and no random
    calendar UID is added. Raises ``ValueError`` for an unknown method, a missing stamp, a naive datetime
    or an end before the start.
    """
    if invite.method not in METHODS:
        raise ValueError(f"invite method must be one of {', '.join(METHODS)}, got {invite.method!r}")
    if invite.stamp is None:
        # DTSTAMP is required by iTIP; taking "now" here would make the output differ on every call.
        raise ValueError("invite.stamp is required: it becomes DTSTAMP")
    start = require_utc(invite.start, "Invite.start")
    end = require_utc(invite.end, "Invite.end")
    if end <= start:
        raise ValueError(f"invite ends before it starts: {start.isoformat()} >= {end.isoformat()}")

    event = Event.new(
        uid=invite.uid,
        sequence=invite.sequence,
        stamp=require_utc(invite.stamp, "Invite.stamp"),
        start=start,
        end=end,
        summary=invite.summary,
        description=invite.description or None,
        location=invite.location or None,
        # A video link goes in LOCATION (which every client shows, and Outlook and Google Calendar make a link),
        # URL (RFC 5545, the link field of Apple Calendar) and CONFERENCE (RFC 7986, a video call by its
        # FEATURE, for the clients that offer a "join" button from it).
        url=invite.video_url or None,
        conferences=[Conference(invite.video_url, feature=["VIDEO"], label="Video call")] if invite.video_url
        else None,
        organizer=vCalAddress.new(invite.organizer.email, cn=invite.organizer.name),
        attendees=[
            vCalAddress.new(
                attendee.email,
                cn=attendee.name,
                role="REQ-PARTICIPANT",
                partstat="NEEDS-ACTION",
                rsvp=invite.method == "REQUEST",  # a cancellation asks for no answer (RFC 5546 §3.2.5)
            )
            for attendee in invite.attendees
        ],
        status=STATUS.CANCELLED if invite.method == "CANCEL" else None,
    )
    calendar = Calendar.new(method=invite.method, prodid=PRODID, subcomponents=[event])
    # Calendar.new adds a random calendar-level UID (RFC 7986). iMIP does not need it, and it would make the
    # same invite render differently each time.
    del calendar["UID"]
    return calendar.to_ical().decode("utf-8")
