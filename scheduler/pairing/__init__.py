"""Pairing: who meets whom this cycle.

The problem (eligible people, hard rules that forbid a pair, soft rules that weight it), the score as one table of
terms, the strategies that solve it (exact matching for small cycles, the LP by column generation and LP blocks
for large ones, greedy growth into groups), and the certified bound a plan is measured against.
"""
