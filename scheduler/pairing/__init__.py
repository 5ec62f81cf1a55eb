"""Pairing: who meets whom this cycle.

The problem (eligible people, hard rules that forbid a pair, soft rules that weight it), the score as one table of
terms, the strategies that solve it (exact matching for small cycles, the LP by column generation and LP blocks
for large ones, greedy growth into groups), and the certified bound a plan is measured against.

Modules, bottom first (each imports only modules above it in this list): ``tuning`` (the frozen values that steer
the engine and the bound, and the choice of strategy by size), ``rules`` (history, hard rules, relaxations,
meeting modes, group sizes), ``score`` (the table of terms and the pair-by-pair score), ``scan`` (every pair's
score at once with numpy), ``lp`` (column generation and everyone's best option by classes), ``bound`` (the
certified bound) and ``engine`` (``pair_people``), which the bound does not need.
"""
