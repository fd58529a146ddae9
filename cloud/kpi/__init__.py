"""Indicators of the IOC (vietnam.md §6), computed in SQL over the stores.

:mod:`cloud.kpi.events` reads the event database (SQLite or PostgreSQL, the same
statements on both); :mod:`cloud.kpi.air` reads the embedded time-series file.
Each function takes a half-open window ``[lo, hi)`` in integer nanoseconds (None:
unbounded) and returns small frozen dataclasses the API turns into JSON.
"""
