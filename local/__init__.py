"""Docker-free local tooling: an embedded PostgreSQL, API Gateway events, a Lambda context.

Used by `make migrate`/`make seed`, by the tests, and by the local server. None
of it is deployed.
"""
