"""The serving tests use ``serving_workspace`` from the top-level conftest (shared with tests/reliability)."""
