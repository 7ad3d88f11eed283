"""The applications the HTTP benchmarks serve, one module per framework or entry point."""
