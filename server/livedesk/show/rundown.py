"""排品: the room's products in presenting order, which one is on now, and the product card
that follows it. Pure decisions over the Rundown row; the endpoints lock, log and commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from livedesk.core.errors import ApiError
from livedesk.onair.models import Rundown
from livedesk.rulebook.products import Product

MAX_ITEMS = 200


def check_skus(skus: Sequence[str], catalogue: Mapping[str, Product]) -> None:
    unknown = [sku for sku in skus if sku not in catalogue]
    if unknown:
        raise ApiError(422, f"unknown SKU {', '.join(map(repr, unknown))}", unknown=unknown)


def reorder(rundown: Rundown, skus: list[str]) -> None:
    """Replace the list; the product on now stays on now where it still is in the list (its
    occurrence nearest to where it was), else nothing is on until ops advance."""
    old = rundown.current
    on_now = _sku_at(rundown.skus, old)
    places = [i for i, sku in enumerate(skus) if sku == on_now]
    rundown.current = min(places, key=lambda i: abs(i - (old or 0))) if places else None
    rundown.skus = skus


def go_to(rundown: Rundown, index: int) -> None:
    if not 0 <= index < len(rundown.skus):
        raise ApiError(422, f"the rundown has {len(rundown.skus)} products; no index {index}")
    rundown.current = index


def advance(rundown: Rundown) -> None:
    """The next product on (the first, before any); 409 past the last."""
    if not rundown.skus:
        raise ApiError(409, "the rundown is empty: add products first")
    following = 0 if rundown.current is None else rundown.current + 1
    if following >= len(rundown.skus):
        raise ApiError(409, "the rundown is at its last product")
    rundown.current = following


def message(
    rundown: Rundown, catalogue: Mapping[str, Product], stock: Mapping[str, int]
) -> dict[str, Any]:
    """The `rundown` message: every item with what the host reads, and the current index."""
    items = []
    for sku in rundown.skus:
        product = catalogue.get(sku)
        items.append(
            {
                "sku": sku,
                "name": product.name if product else sku,
                "price_cents": product.price_cents if product else None,
                "stock_left": stock.get(sku),
            }
        )
    return {"items": items, "current": rundown.current, "updated_by": rundown.updated_by}


def product_card(product: Product, stock: Mapping[str, int]) -> dict[str, Any]:
    """The host's product card for a product (the same shape as POST …/product)."""
    return {
        "sku": product.sku,
        "name": product.name,
        "price_cents": product.price_cents,
        "stock_left": stock.get(product.sku),
        "talking_points": product.talking_points,
    }


def current_sku(rundown: Rundown) -> str | None:
    return _sku_at(rundown.skus, rundown.current)


def _sku_at(skus: Sequence[str], index: int | None) -> str | None:
    return skus[index] if index is not None and 0 <= index < len(skus) else None
