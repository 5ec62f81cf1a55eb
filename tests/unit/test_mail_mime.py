"""MIME built from an EmailMessage, parsed back with the stdlib parser; the file and console backends."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage as MimeMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from integrations.invites import render_invite
from integrations.mail import ConsoleMailer, FileMailer, build_mime, file_name_for
from scheduler.errors import DeliveryError
from scheduler.model import Attendee, EmailMessage, Invite

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
START = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


class FixedClock:
    """A clock that always says NOW."""

    def now(self) -> datetime:
        return NOW


def make_invite(**overrides: object) -> Invite:
    fields: dict[str, object] = {
        "uid": "coffeechat-meeting-42",
        "sequence": 1,
        "method": "REQUEST",
        "organizer": Attendee("coffee@example.com", "Coffee Chat"),
        "attendees": (Attendee("ana@example.com", "Ana López"), Attendee("ben@example.com", "Ben Okafor")),
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "Coffee chat: Ana López & Ben Okafor",
        "description": "Why: different departments.",
        "location": "Video call",
        "stamp": NOW,
    }
    fields.update(overrides)
    return Invite(**fields)  # type: ignore[arg-type]


def make_message(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = {
        "to": ("Ana López <ana@example.com>",),
        "subject": "Coffee chat with Ben Okafor: Tuesday 24 November, 10:30 ☕",
        "text": "Hi Ana López,\n\nYou meet Ben.\n",
        "html": "<p>Hi Ana López,</p>\n<p>You meet <strong>Ben</strong>.</p>\n",
        "sender": "Coffee Chat <coffee@example.com>",
        "message_id": "<coffeechat.0123456789abcdef0123456789abcdef@example.com>",
        "invite": None,
        "headers": (("Auto-Submitted", "auto-generated"),),
    }
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


def parse(mime: MimeMessage) -> MimeMessage:
    """What a receiving client sees: the bytes on the wire, parsed back."""
    parsed = message_from_bytes(mime.as_bytes(), policy=default_policy)
    assert isinstance(parsed, MimeMessage)
    return parsed


def body(part: MimeMessage) -> str:
    """A text part's content with the wire's CRLF line ends turned back into newlines."""
    return str(part.get_content()).replace("\r\n", "\n")


def content_types(part: MimeMessage) -> list[str]:
    return [p.get_content_type() for p in part.iter_parts()]


def test_without_invite_it_is_multipart_alternative_text_then_html() -> None:
    message = make_message()

    parsed = parse(build_mime(message, date=NOW))

    assert parsed.get_content_type() == "multipart/alternative"
    assert content_types(parsed) == ["text/plain", "text/html"]
    text, html = parsed.iter_parts()
    assert body(text) == message.text
    assert body(html) == message.html
    assert text.get_content_charset() == "utf-8"


def test_headers_are_set_and_decode_back() -> None:
    message = make_message()

    parsed = parse(build_mime(message, date=NOW))

    assert parsed["From"] == "Coffee Chat <coffee@example.com>"
    assert parsed["To"] == "Ana López <ana@example.com>"
    assert parsed["Subject"] == message.subject
    assert parsed["Message-ID"] == message.message_id
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsedate_to_datetime(parsed["Date"]) == NOW


def test_without_a_date_there_is_no_date_header() -> None:
    assert "Date" not in parse(build_mime(make_message()))


def test_the_wire_form_is_seven_bit_with_crlf_and_short_lines() -> None:
    data = build_mime(make_message(invite=make_invite()), date=NOW).as_bytes()

    data.decode("ascii")  # non-ASCII went into encoded words and quoted-printable/base64 bodies
    lines = data.split(b"\r\n")
    assert all(b"\n" not in line for line in lines)
    assert all(len(line) <= 78 for line in lines)


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_with_invite_it_is_imip_mixed_alternative_with_calendar_and_attachment(method: str) -> None:
    invite = make_invite(method=method, sequence=2 if method == "CANCEL" else 1)
    message = make_message(invite=invite)

    parsed = parse(build_mime(message, date=NOW))

    assert parsed.get_content_type() == "multipart/mixed"
    assert content_types(parsed) == ["multipart/alternative", "application/ics"]
    alternative, attachment = parsed.iter_parts()
    assert content_types(alternative) == ["text/plain", "text/html", "text/calendar"]
    text, html, calendar_part = alternative.iter_parts()
    assert body(text) == message.text
    assert body(html) == message.html

    calendar = Calendar.from_ical(calendar_part.get_content())
    assert str(calendar["METHOD"]) == method
    assert calendar_part.get_param("method") == method
    assert calendar_part.get_content_charset() == "utf-8"
    assert str(calendar.events[0]["UID"]) == "coffeechat-meeting-42"

    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == render_invite(invite).encode("utf-8")


def test_the_method_parameter_follows_the_rendered_calendar() -> None:
    def cancelling_renderer(invite: Invite) -> str:
        return render_invite(dataclasses.replace(invite, method="CANCEL"))

    mime = build_mime(make_message(invite=make_invite()), render_invite=cancelling_renderer)

    calendar_part = next(p for p in mime.walk() if p.get_content_type() == "text/calendar")
    assert calendar_part.get_param("method") == "CANCEL"


def test_a_calendar_without_method_is_refused() -> None:
    with pytest.raises(ValueError, match="no METHOD"):
        build_mime(
            make_message(invite=make_invite()), render_invite=lambda _: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
        )


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nX-Evil: 1"},
        {"subject": "Hello\rX-Evil: 1"},
        {"to": ("ana@example.com\r\nBcc: victim@example.com",)},
        {"sender": "coffee@example.com\nBcc: victim@example.com"},
        {"message_id": "<id@example.com>\r\nX-Evil: 1"},
        {"headers": (("X-Coffee", "a\r\nBcc: victim@example.com"),)},
        {"headers": (("X-Coffee\r\nBcc", "victim@example.com"),)},
    ],
)
def test_header_injection_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"line break|not a valid header name"):
        build_mime(make_message(**overrides))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"headers": (("Bcc", "victim@example.com"),)}, "set by build_mime"),
        ({"headers": (("content-type", "text/plain"),)}, "set by build_mime"),
        ({"headers": (("X-Bad Name", "1"),)}, "not a valid header name"),
        ({"headers": (("X-Bad:Name", "1"),)}, "not a valid header name"),
        ({"to": ()}, "at least one recipient"),
        ({"to": ("not an address",)}, "not an address"),
        ({"sender": "Coffee Chat"}, "not one address"),
        ({"message_id": ""}, "Message-ID"),
    ],
)
def test_malformed_messages_are_refused(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_mime(make_message(**overrides))


def test_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_mime(make_message(), date=datetime(2026, 11, 16, 8, 0))


def test_several_recipients_and_quoted_names_parse_back() -> None:
    message = make_message(to=('"López, Ana" <ana@example.com>', "ben@example.com"))

    parsed = parse(build_mime(message))

    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com", "ben@example.com"]
    assert parsed["To"].addresses[0].display_name == "López, Ana"


# --- FileMailer ---------------------------------------------------------------------------------------------


def test_file_mailer_writes_one_file_per_message_even_when_sent_twice(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "outbox", clock=FixedClock())
    message = make_message(invite=make_invite())

    mailer.send(message)
    mailer.send(message)
    mailer.send(make_message(message_id="<other@example.com>"))
    mailer.close()

    files = sorted(p.name for p in (tmp_path / "outbox").iterdir())
    assert files == ["coffeechat.0123456789abcdef0123456789abcdef@example.com.eml", "other@example.com.eml"]
    parsed = message_from_bytes(mailer.path_for(message).read_bytes(), policy=default_policy)
    assert parsed["Message-ID"] == message.message_id
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed.get_content_type() == "multipart/mixed"


def test_file_mailer_reports_an_unwritable_directory_as_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")

    with pytest.raises(DeliveryError) as caught:
        FileMailer(blocker).send(make_message())

    assert caught.value.transient is True
    assert [p.name for p in tmp_path.iterdir()] == ["outbox"]  # no temporary file left behind


def test_file_mailer_refuses_a_malformed_message_for_good(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="line break") as caught:
        FileMailer(tmp_path).send(make_message(subject="a\nb"))

    assert caught.value.transient is False
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "message_id",
    ["<../../etc/passwd>", "<a/b@example.com>", "<.hidden@x>", "<>", "<a b@example.com>", "<ümlaut@x>"],
)
def test_file_names_are_safe(message_id: str) -> None:
    name = file_name_for(message_id)

    assert name.endswith(".eml")
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert name.isascii()


def test_file_names_of_different_ids_differ_even_after_cleaning() -> None:
    assert file_name_for("<a/b@x>") != file_name_for("<a_b@x>")
    assert file_name_for("<a/b@x>") != file_name_for("<a:b@x>")
    assert file_name_for("<a@x>") == "a@x.eml"


# --- ConsoleMailer ------------------------------------------------------------------------------------------


def test_console_mailer_prints_headers_and_decoded_parts() -> None:
    stream = io.StringIO()

    ConsoleMailer(stream, clock=FixedClock()).send(make_message(invite=make_invite()))

    out = stream.getvalue()
    assert "Subject: Coffee chat with Ben Okafor: Tuesday 24 November, 10:30 ☕" in out
    assert "To: Ana López <ana@example.com>" in out
    assert "Date: Mon, 16 Nov 2026 08:00:00 +0000" in out
    assert "--- text/plain ---\nHi Ana López," in out
    assert "--- text/html ---\n<p>Hi Ana López,</p>" in out
    assert "--- text/calendar; method=REQUEST ---\nBEGIN:VCALENDAR" in out
    assert "--- attachment invite.ics (application/ics," in out


def test_console_mailer_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    mailer = ConsoleMailer()

    mailer.send(make_message())
    mailer.close()

    assert "You meet Ben." in capsys.readouterr().out
