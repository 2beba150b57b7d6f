"""The run rules, free of I/O: :func:`assistdb.runner.rules.drive.drive` yields effects and
receives their results; the session, poll schedule, learned durations, status meanings and
per-call decisions it consults live beside it, so they are tested without a network or a clock.
"""
