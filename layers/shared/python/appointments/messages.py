"""Error strings sent to clients.

The first group is fixed by the HTTP contract inherited from the original
service; clients match on them, so they never change. The rest are ours.
"""

# Contract strings.
INVALID_DATE = "Invalid date format"
SLOT_FULL = "Slot full"
SHOP_CLOSED = "Shop closed"
USER_NOT_FOUND = "User not found"

# Our own, for cases the contract leaves open.
INVALID_TIME = "Invalid time format"
TIME_NOT_ON_THE_HOUR = "Time must be on the hour"
INVALID_JSON = "Request body must be valid JSON"
BODY_NOT_OBJECT = "Request body must be a JSON object"
BODY_TOO_LARGE = "Request body too large"
NOT_FOUND = "Not found"
SERVICE_UNAVAILABLE = "Service unavailable"
INTERNAL_ERROR = "Internal server error"
