"""Planning: the walk of one cycle and what happens to its meetings afterwards.

``run`` plans a program's next cycle and stores it; ``cycle`` is that walk top to bottom (snapshot, availability,
pairing, slots, planned effects); ``matches`` holds the members' answers (accept, decline, another time, did you
meet?) with ``links`` signing the emailed buttons; ``meetings`` cancels or moves a meeting; ``report`` sums a plan
up; ``instance`` solves an offline pairing instance without a database.
"""
