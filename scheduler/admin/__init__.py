"""Admin: the organiser's use cases and figures.

``participants`` (search, pause, CSV import through ``people_csv``), ``cycles`` (preview, calendar gaps,
deliveries) and ``analytics``. Pure of Flask: the admin pages parse a form, call one function here and render.
"""
