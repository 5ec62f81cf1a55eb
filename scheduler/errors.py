"""The error hierarchy of Coffee Chat.

Errors carry fields, not just text, so the edges (CLI, web) can map them to exit codes or HTTP answers in one
place. Adapters translate library failures into these types; nothing catches bare ``Exception``.
"""

from __future__ import annotations


class CoffeeChatError(Exception):
    """Base of every error that Coffee Chat raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(CoffeeChatError):
    """A configuration file is missing, malformed, or has an unknown key or a wrong type."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ", ".join(part for part in (path, f"key {key!r}" if key else None) if part)
        super().__init__(f"{where}: {message}" if where else message)


class InputError(CoffeeChatError):
    """Bad input from a person: a CSV row, a command-line value, a form field. ``where`` names the place."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class NotFoundError(CoffeeChatError):
    """A named thing (person, program, cycle) does not exist."""

    exit_code = 3


class CalendarError(CoffeeChatError):
    """A calendar could not be read for one person (file unreadable, malformed, not found, no permission).

    It belongs to that person alone: the cycle records it and goes on.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class ProviderUnavailable(CoffeeChatError):
    """A calendar provider or mail server is down or refuses service after bounded retries."""

    exit_code = 4


class DeliveryError(CoffeeChatError):
    """One side effect (an email, a calendar event) could not be performed.

    ``transient`` says whether trying again later may succeed (server down, rate limit) or not (recipient
    refused, malformed address). ``retry_after`` is the server's own hint in seconds, when it gave one.
    """

    exit_code = 4

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        self.transient = transient
        self.retry_after = retry_after
        super().__init__(message)


class ServiceRefused(DeliveryError):
    """The delivery service itself refuses Coffee Chat (the mail server rejects its login, a calendar provider
    its credentials): not the fault of the effect being performed, and every other effect sent through that
    service would fail the same way until an admin fixes a setting.

    The relay therefore puts the effect back as pending without counting the attempt, sends nothing more
    through that service for the rest of the pass, and reports one alert for all of them instead of a dead
    effect each. ``service`` names the service in that alert (``"email"``); ``setting`` is what the admin should
    check (an environment variable's *name*, never a secret). ``transient`` is always true: a later try
    succeeds once the setting is fixed, so code that knows nothing of pauses retries rather than gives up.
    """

    def __init__(self, message: str, *, service: str, setting: str | None = None,
                 retry_after: float | None = None) -> None:
        self.service = service
        self.setting = setting
        super().__init__(message, transient=True, retry_after=retry_after)


class StorageError(CoffeeChatError):
    """The database cannot be reached, or its schema is not at the version this code needs."""

    exit_code = 5
