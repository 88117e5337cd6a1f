"""PostgreSQL: the warm connection, each request's statements, the migration runner."""
