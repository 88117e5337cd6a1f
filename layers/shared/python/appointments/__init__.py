"""Domain and data access for the appointment-booking service.

This package is the shared Lambda layer. Modules are layered so each import only
points downward, and a handler pays at cold start only for what it touches:

    web        HTTP glue shared by the handlers (resolver, JSON errors)
    models     pydantic request bodies, built on the rules below
    store      one SQL statement per function, on a connection from ``database``
    database   the warm connection holder (psycopg 3)
    schedule   the shop's rules: opening hours, slot length, booking outcomes
    messages   the error strings of the HTTP contract
    settings   configuration, read once from the environment
"""
