"""The benchmark suite of django-lifespan-di: ``nox -s bench`` (see ``benchmarks/README.md``)."""
