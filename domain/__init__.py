"""Circles' domain: aggregates, value objects, errors and the application's use cases.

Pure Python and eventsourcing: nothing here knows about Flask, HTTP or SQL.
"""
