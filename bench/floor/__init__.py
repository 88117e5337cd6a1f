"""The floor: bare Lambda handlers, json + psycopg, each sending its function's statement.

What the same answers cost with nothing between the event and the SQL: the
bench's cold start measures each real function beside its floor, and a test
proves each floor answers the seed contract as the function does. The SQL is
copied from the layer, never imported: importing it is what a floor must not pay.
The shop is the default one (UTC, every day 09:00-17:00, hourly, one bay).
"""
