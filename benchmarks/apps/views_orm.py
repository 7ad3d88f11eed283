"""The one-query ORM view of section 5: a plain sync view, as most Django views are."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from benchmarks.apps.models import Item


def item(request: HttpRequest) -> HttpResponse:
    """One ``SELECT`` by primary key; the 64-byte name is the body."""
    name = Item.objects.values_list("name", flat=True).get(pk=1)
    return HttpResponse(name, content_type="text/plain")
