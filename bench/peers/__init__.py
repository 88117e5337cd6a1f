"""Peers: what a Python team would write instead, in a bench-only virtualenv (.venv-bench-peers)."""
