"""Domain and data access for the appointment-booking service: the shared Lambda layer.

Laid out by floor; an import points only down a floor (tests/unit/test_layer_floors.py):

    api        HTTP: the resolver glue (web), request bodies (models), sign-in claims
               (auth), the bookings routes' views (booking_views)
    domain     the shop's rules: dates and times (schedule), opening hours and slots
               (shop), user ids, and availability (slots against the bookings)
    data       PostgreSQL: the warm connection (database), each request's statements
               (store, booking_records, user_records), the migration runner
    platform   what any Lambda function needs: settings, credentials and URLs,
               redaction, logging and metrics, the deadline and its watchdog,
               tracing, the CloudFormation answer

and at the root the vocabulary every floor shares: `errors` (ClientError and the
failures that cross floors) and `messages` (the contract's error strings).

A handler imports its own route's modules, directly; the floors' `__init__`s are
empty so that importing one module never imports its neighbours.
"""
