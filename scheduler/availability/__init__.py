"""Availability: when each person is free.

Calendar routing per person with its failure boundary (``calendars``), busy time turned into a free-time index and
meeting slots inside working hours, lunch hours and holidays (``slots``), and which network addresses a calendar
URL given by a person may reach (``addresses``).
"""
