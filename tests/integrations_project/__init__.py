"""A small project using the library with Django Ninja, Django REST framework and Channels.

The how-to pages (``docs/howto/ninja.md``, ``drf.md``, ``channels.md``) show its files.
``tests/test_ninja.py``, ``test_drf.py`` and ``test_channels.py`` run it in-process, by
``override_settings`` of ``ROOT_URLCONF`` and ``DJANGO_LIFESPAN_DI`` (see ``settings.py``);
``tests/integration/test_channels.py`` serves ``asgi.py`` with real daphne and uvicorn
processes.
"""
