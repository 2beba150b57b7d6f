"""Tools the model may call: defining them (``registry``, ``schema``), loading them from a module
(``loading``), running and answering a round of calls exactly once (``answering``, ``outputs``),
and keeping what they print off standard output (``stdout``).
"""
