"""The floor of GET /health: a bare handler answering JSON (the function sends no statement)."""


def handler(event: object, context: object) -> dict[str, object]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": '{"status":"ok"}',
    }
