"""The demo project of django-lifespan-di: a weather dashboard behind one pooled session."""
