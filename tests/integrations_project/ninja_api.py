"""Django Ninja operations that get the shared session (and a sync service) injected."""

from __future__ import annotations

from aiohttp import ClientSession
from dependency_injector.wiring import Provide
from django.http import HttpRequest
from ninja import NinjaAPI, Router, Schema

from django_lifespan_di import inject
from tests.integrations_project.containers import Container, Greeter

api = NinjaAPI(urls_namespace="integrations-ninja")


# [operation]
@api.get("/forecast")
@inject
async def forecast(
    request: HttpRequest, city: str, session: ClientSession = Provide[Container.http_session]
) -> dict[str, str]:
    async with session.get("/forecast", params={"city": city}) as response:
        return dict(await response.json())


# [operation-end]


# [more]
class Order(Schema):
    city: str
    days: int = 1


router = Router()


@router.post("/orders/{order_id}")
@inject
async def place_order(
    request: HttpRequest,
    order_id: int,
    order: Order,
    priority: bool = False,
    session: ClientSession = Provide[Container.http_session],
) -> dict[str, object]:
    async with session.get("/forecast", params={"city": order.city}) as response:
        sky = (await response.json())["sky"]
    return {
        "order": order_id,
        "city": order.city,
        "days": order.days,
        "priority": priority,
        "sky": sky,
    }


@router.get("/greet")
@inject
def greet(request: HttpRequest, name: str, greeter: Greeter = Provide[Container.greeter]) -> str:
    return greeter.greet(name)


api.add_router("/shop", router)
# [more-end]
