"""The demo project (examples/demo) as the integration suite serves it.

The same settings, container and views, plus what the suite needs to observe and to break it:
a log line format with the process id, per-worker upstream paths, an exit report, the
containers of the fault tests (picked with ``INTEGRATION_CASE``) and two extra views.
"""
