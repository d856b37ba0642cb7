"""A batch's stage timings: the pipeline's stages each lap under their timer name, several in
a row share one (livedesk.stages: hints, alerts and the KPI frames are all `cues`), and each
run of the same name is one observation, so the histogram counts batches per stage."""

from __future__ import annotations

from prometheus_client import REGISTRY

from livedesk.core.metrics import StageTimer


def _count(stage: str) -> float:
    found = REGISTRY.get_sample_value("livedesk_pipeline_stage_seconds_count", {"stage": stage})
    return found or 0.0


def test_laps_of_one_stage_in_a_row_are_one_observation():
    before = {stage: _count(stage) for stage in ("t-first", "t-second")}
    timer = StageTimer()
    for stage in ("t-first", "t-first", "t-second", "t-second", "t-second", "t-first"):
        timer.lap(stage)
    timer.observe()
    assert _count("t-first") - before["t-first"] == 2  # two runs: before and after t-second
    assert _count("t-second") - before["t-second"] == 1
