"""Accounts: the people who use the site.

``access`` is sign-up with double opt-in, sign-in by emailed link and revocable sessions; ``emails`` the messages
those send; ``profile`` the signed-in person's own data, calendar source, export and deletion.
"""
