"""The test project as served by a real uvicorn process; ``LIFESPAN_DI_CASE`` picks the setup."""
