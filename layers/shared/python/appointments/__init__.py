"""Domain and data access for the appointment-booking service.

This package is the shared Lambda layer. Modules are layered so each import only
points downward, and a handler pays at cold start only for what it touches:

    web             HTTP glue shared by the handlers (resolver, every error answered once)
    models          pydantic request bodies, built on the rules below
    store           each request's database conversation; booking outcomes
    database        the warm connection holder (psycopg 3), within the invocation's deadline
    schedule        the shop's rules: opening hours, slot length
    deadline        the invocation's deadline; watchdog cancels a statement at it
    observability   logger (passwords masked) and metrics
    credentials     where to connect: DATABASE_URL or a secret; connection_url reads URLs
    redaction       masks passwords in any text
    errors          ClientError and the failures that cross layers
    messages        the error strings of the HTTP contract
    settings        configuration, read once from the environment
    migrations      the migration runner; cloudformation its answer on deploy
"""
