"""Deliberately wrong containers, hooks, views and URLconfs for the configuration tests.

The URLconfs are plain classes with a ``urlpatterns`` attribute: Django accepts any object with
one as ``ROOT_URLCONF``, so each case gets a URLconf of its own without a module per case.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import View

from django_lifespan_di import inject as lifespan_inject
from tests.project.containers import Container

NOT_CALLABLE = 42
"""What an ``ON_STARTUP`` / ``ON_SHUTDOWN`` entry must not name."""


class NotAContainer:
    """A plain class where a container class is expected."""


class BrokenWiringContainer(containers.DeclarativeContainer):
    """A container whose own wiring_config names a module that does not exist."""

    wiring_config = containers.WiringConfiguration(modules=["tests.no_such_module_to_wire"])


async def _legacy_client() -> AsyncIterator[str]:
    yield "legacy"


class StockAsyncResourceContainer(containers.DeclarativeContainer):
    """An async resource declared with the stock ``providers.Resource`` (W001)."""

    http_session = providers.Resource(_legacy_client)


# --- views -------------------------------------------------------------------------------------
# This module is not wired to the test project's container unless a test adds it to WIRE.


@inject
async def unwired_view(
    request: HttpRequest, session: object = Provide[Container.http_session]
) -> HttpResponse:
    """Decorated, but its module is not wired: it would get the marker."""
    return HttpResponse("unreachable")


async def not_injected_view(
    request: HttpRequest, session: object = Provide[Container.http_session]
) -> HttpResponse:
    """Asks for a dependency without @inject."""
    return HttpResponse("unreachable")


@inject
async def misnamed_view(
    request: HttpRequest, session: object = Provide["no_such_provider"]
) -> HttpResponse:
    """Asks, by name, for a provider the container does not have."""
    return HttpResponse("unreachable")


class UnwiredClassView(View):
    """A class-based view whose method asks for a dependency from an unwired module."""

    @inject
    async def get(
        self, request: HttpRequest, session: object = Provide[Container.http_session]
    ) -> HttpResponse:
        return HttpResponse("unreachable")


@inject
def sync_asking_for_the_session(
    request: HttpRequest, session: object = Provide[Container.http_session]
) -> HttpResponse:
    """A sync view (stock @inject) asking for the async session."""
    return HttpResponse("unreachable")


@lifespan_inject
def sync_annotated(
    request: HttpRequest, session: Annotated[object, Provide[Container.http_session]]
) -> HttpResponse:
    """A sync view (django_lifespan_di.inject, Annotated) asking for the async session."""
    return HttpResponse("unreachable")


class SyncClassView(View):
    """A class-based view whose sync method asks for the async session."""

    @lifespan_inject
    def get(
        self, request: HttpRequest, session: object = Provide[Container.http_session]
    ) -> HttpResponse:
        return HttpResponse("unreachable")


class OtherContainer(containers.DeclarativeContainer):
    """A container the settings do not name."""

    thing = providers.Object("other")


@lifespan_inject
async def other_containers_view(
    request: HttpRequest, thing: object = Provide[OtherContainer.thing]
) -> HttpResponse:
    """Asks for a provider of a container that is not the process's."""
    return HttpResponse("unreachable")


# --- URLconfs ----------------------------------------------------------------------------------


class EmptyUrls:
    urlpatterns: list[object] = []


class UnwiredUrls:
    urlpatterns = [path("unwired", unwired_view)]


class UnwiredClassViewUrls:
    urlpatterns = [path("unwired-cbv", UnwiredClassView.as_view())]


class NotInjectedUrls:
    # Holds the function as defined: wiring the module later replaces the module attribute,
    # not this reference.
    urlpatterns = [path("not-injected", not_injected_view)]


class MisnamedUrls:
    urlpatterns = [path("misnamed", misnamed_view)]


class SyncViewUrls:
    urlpatterns = [path("sync", sync_asking_for_the_session)]


class SyncAnnotatedUrls:
    urlpatterns = [path("sync-annotated", sync_annotated)]


class SyncClassViewUrls:
    urlpatterns = [path("sync-cbv", SyncClassView.as_view())]


class OtherContainerUrls:
    urlpatterns = [path("other", other_containers_view)]


class IncludedUnwiredUrls:
    # The view sits in a URLconf of its own, included under a prefix.
    urlpatterns = [path("api/", include([path("unwired", unwired_view)]))]


class NotAPatternUrls:
    # Not a path() or re_path(): Django's own check reports it (urls.E004).
    urlpatterns = ["unwired"]


class BuiltinViewUrls:
    # A view whose signature cannot be read, as one compiled to C (Cython) may be.
    urlpatterns = [path("builtin", min)]
