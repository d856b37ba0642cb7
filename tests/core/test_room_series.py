"""The per-room lag gauge keeps a bounded set of series (core.metrics.RoomSeries): Prometheus
keeps every label value it ever saw, so a room id per series forever would grow without end."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Gauge

from livedesk.core.metrics import RoomSeries


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def series(registry: CollectorRegistry) -> dict[str, float]:
    return {
        sample.labels["room_id"]: sample.value
        for family in registry.collect()
        for sample in family.samples
    }


@pytest.fixture
def gauge() -> tuple[Gauge, CollectorRegistry]:
    registry = CollectorRegistry()
    return Gauge("room_lag", "test", ["room_id"], registry=registry), registry


def test_an_idle_room_loses_its_series(gauge, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metric, registry = gauge
    clock = Clock()
    rooms = RoomSeries(metric, idle_s=60, max_rooms=10, clock=clock)
    rooms.set("quiet", 1.5)
    rooms.set("busy", 0.2)
    clock.now += 50
    rooms.set("busy", 0.3)
    assert series(registry) == {"quiet": 1.5, "busy": 0.3}
    clock.now += 20  # quiet last reported 70 s ago
    rooms.set("busy", 0.1)
    assert series(registry) == {"busy": 0.1}
    rooms.set("quiet", 0.0)  # back: a series again
    assert series(registry) == {"busy": 0.1, "quiet": 0.0}


def test_past_the_cap_the_room_quiet_the_longest_goes_first(gauge, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metric, registry = gauge
    clock = Clock()
    rooms = RoomSeries(metric, idle_s=600, max_rooms=3, clock=clock)
    for name in ("a", "b", "c"):
        clock.now += 1
        rooms.set(name, 1.0)
    clock.now += 1
    rooms.set("a", 2.0)  # a is fresh again: b is now the quietest
    rooms.set("d", 3.0)
    assert series(registry) == {"a": 2.0, "c": 1.0, "d": 3.0}
    for i in range(1000):
        rooms.set(f"room-{i}", 0.0)
    assert len(series(registry)) == 3


def test_in_multiprocess_mode_series_are_zeroed_and_new_rooms_past_the_cap_share_one(
    gauge, monkeypatch, tmp_path
):
    # prometheus_client cannot remove a series there: the label values themselves are capped.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metric, registry = gauge
    clock = Clock()
    rooms = RoomSeries(metric, idle_s=60, max_rooms=2, clock=clock)
    rooms.set("a", 1.0)
    clock.now += 100
    rooms.set("b", 2.0)
    assert series(registry) == {"a": 0.0, "b": 2.0}
    for i in range(100):
        rooms.set(f"room-{i}", 5.0)
    assert series(registry) == {"a": 0.0, "b": 2.0, "other": 5.0}
    rooms.set("a", 3.0)  # a room with its own series keeps it
    assert series(registry)["a"] == 3.0
