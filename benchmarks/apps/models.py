"""The one-row table the ORM view reads; the benchmark creates it (``benchmarks.postgres``)."""

from __future__ import annotations

from django.db import models


class Item(models.Model):
    name = models.TextField()

    class Meta:
        db_table = "bench_item"
        managed = False

    def __str__(self) -> str:
        return self.name
