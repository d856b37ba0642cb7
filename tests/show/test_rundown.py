"""The rundown's decisions without I/O: what stays on when ops reorder, advancing past the end,
jumping to a position, and what the host is sent."""

from __future__ import annotations

import pytest

from livedesk.core.errors import ApiError
from livedesk.onair.models import Rundown
from livedesk.rulebook.products import Product
from livedesk.show import rundown


def _rundown(skus: list[str], current: int | None) -> Rundown:
    return Rundown(room_id="r", skus=skus, current=current, updated_by="ops")


def test_the_product_on_now_stays_on_where_ops_moved_it():
    on = _rundown(["A", "B", "C"], 1)
    rundown.reorder(on, ["C", "A", "B"])
    assert on.current == 2 and rundown.current_sku(on) == "B"
    # Listed twice (a product that comes back later): the occurrence nearest its old place.
    twice = _rundown(["A", "B", "C", "B"], 3)
    rundown.reorder(twice, ["B", "A", "C", "B"])
    assert twice.current == 3
    # Taken out of the list: nothing is on until ops advance.
    gone = _rundown(["A", "B"], 0)
    rundown.reorder(gone, ["B"])
    assert gone.current is None


def test_advance_from_before_the_first_to_the_last_and_no_further():
    on = _rundown(["A", "B"], None)
    rundown.advance(on)
    assert on.current == 0
    rundown.advance(on)
    assert on.current == 1
    with pytest.raises(ApiError) as last:
        rundown.advance(on)
    assert last.value.status == 409 and on.current == 1
    with pytest.raises(ApiError) as empty:
        rundown.advance(_rundown([], None))
    assert empty.value.status == 409


def test_go_to_a_position_in_the_list():
    on = _rundown(["A", "B", "C"], 2)
    rundown.go_to(on, 0)
    assert on.current == 0
    with pytest.raises(ApiError) as outside:
        rundown.go_to(on, 3)
    assert outside.value.status == 422 and on.current == 0


def test_the_message_names_each_product_with_its_price_and_stock():
    catalogue = {"A": Product(sku="A", name="抗老精华", price_cents=29900, talking_points=["好"])}
    data = rundown.message(_rundown(["A", "GONE"], 0), catalogue, {"A": 7})
    assert data == {
        "items": [
            {"sku": "A", "name": "抗老精华", "price_cents": 29900, "stock_left": 7},
            {"sku": "GONE", "name": "GONE", "price_cents": None, "stock_left": None},
        ],
        "current": 0,
        "updated_by": "ops",
    }
    with pytest.raises(ApiError) as unknown:
        rundown.check_skus(["A", "GONE"], catalogue)
    assert unknown.value.extra == {"unknown": ["GONE"]}
