"""What any function needs: settings, credentials, redaction, logs, metrics, deadlines, tracing."""
