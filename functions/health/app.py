"""GET /health: the function is up. Touches no database, so it stays cheap."""

from appointments.api.web import create_resolver, entrypoint

app = create_resolver()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


handler = entrypoint(app)
