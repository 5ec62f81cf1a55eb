"""Entry points: the command line (``cli``), the composition root that turns configuration into adapters
(``bootstrap``), and the demo with its generated organisation (``demo``, ``demo_org``).

Nothing in the domain packages imports these.
"""
