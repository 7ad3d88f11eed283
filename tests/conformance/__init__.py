"""The conformance project: each injection style as a view, served in each way Django runs one.

``tests/test_conformance.py`` runs it in-process (Django's test clients, the test case classes,
the pytest plugin's fixtures, plain sync code); ``tests/integration/test_conformance.py`` serves
it with real server processes. ``matrix.py`` holds the styles and what every cell must show.
"""
