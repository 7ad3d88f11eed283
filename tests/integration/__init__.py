"""The real-server reliability suite: the demo project under each ASGI server (issue #5)."""
