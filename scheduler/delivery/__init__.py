"""Delivery: the effects a plan decides (emails, calendar invites, provider events) performed exactly once.

``outbox`` claims, performs, records and retries effects with dead letters; ``emails`` composes the messages and
invites as data; ``dead_letters`` is the operator's view of the outbox.
"""
