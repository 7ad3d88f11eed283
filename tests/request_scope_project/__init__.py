"""A project whose views use request-scoped providers (``tests/test_request_scope.py``)."""
