"""Administration of users: PUT /users/{user_id} creates or renames one, GET looks one up;
PUT /users/{user_id}/calendar-token gives them a new calendar feed, DELETE revokes it.

Behind API Gateway's IAM authorizer: only SigV4-signed requests of principals
allowed execute-api:Invoke on these routes get here. The function checks that
the authorizer's verdict is in the event (a route that lost its authorizer is
refused, not served), then the request; who the principal is, is IAM's call.
"""

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from appointments import messages
from appointments.api import auth
from appointments.api.models import UserUpdate, parse_body
from appointments.api.web import create_resolver, entrypoint, json_response
from appointments.data import user_records
from appointments.domain.schedule import rfc3339_utc
from appointments.domain.user_ids import is_user_id
from appointments.errors import ClientError
from appointments.platform.observability import record_outcome

app = create_resolver()

USER_NOT_FOUND = ClientError(messages.USER_NOT_FOUND, outcome="UserNotFound", status=404)


@app.put("/users/<user_id>")
def put_user(user_id: str) -> Any:
    auth.require_iam(app.request.event)
    user_id = _decoded(user_id)
    if not is_user_id(user_id):
        raise ClientError(messages.INVALID_USER_ID)
    update = parse_body(app.request.body(), UserUpdate)
    user, created = user_records.save(user_id, update.name)
    record_outcome("UserCreated" if created else "UserRenamed")
    return json_response(HTTPStatus.CREATED if created else HTTPStatus.OK, _user_body(user))


@app.get("/users/<user_id>")
def get_user(user_id: str) -> Any:
    auth.require_iam(app.request.event)
    user_id = _decoded(user_id)
    # An id no user could have is not looked up: it is not found all the same.
    user = user_records.find(user_id) if is_user_id(user_id) else None
    if user is None:
        raise USER_NOT_FOUND
    return _user_body(user)


@app.put("/users/<user_id>/calendar-token")
def put_calendar_token(user_id: str) -> Any:
    """A new calendar feed token: the feed's URL path, shown once; the old token stops working."""
    from appointments.api import calendar_views

    auth.require_iam(app.request.event)
    user_id = _known_user_id(user_id)
    token, token_hash = calendar_views.new_feed_token()
    if not user_records.set_calendar_token(user_id, token_hash):
        raise USER_NOT_FOUND
    record_outcome("CalendarTokenIssued")
    return {
        "token": token,
        "feed_path": f"/users/{quote(user_id, safe='')}/calendar.ics?token={token}",
    }


@app.delete("/users/<user_id>/calendar-token")
def delete_calendar_token(user_id: str) -> Any:
    """No feed any more: whatever token it had stops working."""
    auth.require_iam(app.request.event)
    if not user_records.set_calendar_token(_known_user_id(user_id), None):
        raise USER_NOT_FOUND
    record_outcome("CalendarTokenRevoked")
    return {"user_id": _decoded(user_id), "calendar_feed": False}


def _known_user_id(raw_segment: str) -> str:
    """The path's user id; one no user could have is not found."""
    user_id = _decoded(raw_segment)
    if not is_user_id(user_id):
        raise USER_NOT_FOUND
    return user_id


def _decoded(raw_segment: str) -> str:
    """The user id as API Gateway decoded it from the path ("user%20x" is "user x").

    The router matches the raw path, so its argument is still percent-encoded.
    """
    return str(app.request.path_parameters.get("user_id", raw_segment))


def _user_body(user: user_records.User) -> dict[str, Any]:
    return {"user_id": user.user_id, "name": user.name, "created_at": rfc3339_utc(user.created_at)}


handler = entrypoint(app)
