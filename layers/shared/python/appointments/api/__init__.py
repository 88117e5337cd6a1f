"""HTTP: the resolver glue, request bodies, sign-in claims and the bookings routes' views."""
