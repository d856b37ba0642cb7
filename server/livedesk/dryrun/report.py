"""A dry-run's report: the candidate rules' outcome beside the rules in force (replayed the same
way) and, when the session really ran here, beside what actually happened. Pure functions."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from livedesk.dryrun.replay import Outcome


def summary(outcome: Outcome) -> dict[str, Any]:
    return {
        "rules": {"version": outcome.rules_version, "label": outcome.rules_label},
        "events": outcome.events,
        "greeted": len({g.customer_id for g in outcome.greeted}),
        "grants": sum(1 for g in outcome.grants if g.state in ("granted", "redeemed")),
        "held": sum(1 for g in outcome.grants if g.state == "held"),
        "cost_cents": outcome.cost_cents,
        "drops": [asdict(drop) for drop in outcome.drops if drop.spent_cents or drop.granted],
    }


def differences(before: Outcome, after: Outcome) -> dict[str, Any]:
    """Who is greeted or paid only in one of them, and the cost change per drop."""
    greeted_before = {g.customer_id: g.nickname for g in before.greeted}
    greeted_after = {g.customer_id: g.nickname for g in after.greeted}
    paid_before = _paid(before)
    paid_after = _paid(after)
    changed = [
        {"campaign": c, "customer_id": p, "before_cents": paid_before[c, p], "after_cents": cents}
        for (c, p), cents in paid_after.items()
        if (c, p) in paid_before and paid_before[c, p] != cents
    ]
    cost_before = _cost_by_drop(before)
    cost_after = _cost_by_drop(after)
    return {
        "greeted_only_after": _people(greeted_after, greeted_before),
        "greeted_only_before": _people(greeted_before, greeted_after),
        "paid_only_after": _grants(paid_after, paid_before),
        "paid_only_before": _grants(paid_before, paid_after),
        "amount_changed": changed,
        "cost_cents": {"before": before.cost_cents, "after": after.cost_cents},
        "cost_by_drop": {
            drop: {"before": cost_before.get(drop, 0), "after": cost_after.get(drop, 0)}
            for drop in sorted({*cost_before, *cost_after})
            if cost_before.get(drop, 0) != cost_after.get(drop, 0)
        },
    }


def build(candidate: Outcome, baseline: Outcome, actual: Outcome | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "candidate": summary(candidate),
        "baseline": summary(baseline),
        "vs_baseline": differences(baseline, candidate),
    }
    if actual is not None:
        report["actual"] = summary(actual)
        report["vs_actual"] = differences(actual, candidate)
    return report


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    lines: list[str] = []
    for name, title in (
        ("candidate", "候选规则"),
        ("baseline", "现行规则（同样回放）"),
        ("actual", "实际发生"),
    ):
        part = report.get(name)
        if part is None:
            continue
        rules = part["rules"]
        named = f"  {rules['version']} “{rules['label']}”" if rules["version"] else ""
        lines.append(
            f"{title}{named}: 事件 {part['events']}，"
            f"迎宾 {part['greeted']} 人，发放 {part['grants']} 份（待审 {part['held']}），"
            f"花费 ¥{part['cost_cents'] / 100:,.2f}"
        )
        for drop in part["drops"]:
            lines.append(
                f"    {drop['campaign']} ({drop['kind']}): ¥{drop['spent_cents'] / 100:,.2f}"
                f" / 预算 ¥{drop['budget_cents'] / 100:,.2f}，"
                f"{drop['granted']}/{drop['quantity']} 份"
            )
    for key, title in (("vs_baseline", "与现行规则相比"), ("vs_actual", "与实际相比")):
        diff = report.get(key)
        if diff is None:
            continue
        cost = diff["cost_cents"]
        lines.append(
            f"{title}: 花费 ¥{cost['before'] / 100:,.2f} → ¥{cost['after'] / 100:,.2f}；"
            f"新增迎宾 {len(diff['greeted_only_after'])}，少了 {len(diff['greeted_only_before'])}；"
            f"新增发放 {len(diff['paid_only_after'])}，少了 {len(diff['paid_only_before'])}，"
            f"金额变化 {len(diff['amount_changed'])}"
        )
        for drop, change in diff["cost_by_drop"].items():
            lines.append(
                f"    {drop}: ¥{change['before'] / 100:,.2f} → ¥{change['after'] / 100:,.2f}"
            )
    return "\n".join(lines)


def _paid(outcome: Outcome) -> dict[tuple[str, int], int]:
    paid: Counter[tuple[str, int]] = Counter()
    for grant in outcome.grants:
        if grant.state in ("granted", "redeemed"):
            paid[grant.campaign, grant.customer_id] += grant.amount_cents
    return dict(paid)


def _cost_by_drop(outcome: Outcome) -> dict[str, int]:
    cost: Counter[str] = Counter()
    for drop in outcome.drops:
        cost[drop.campaign] += drop.spent_cents
    return {name: cents for name, cents in cost.items() if cents}


def _people(these: dict[int, str], minus: dict[int, str]) -> list[dict[str, Any]]:
    return [{"customer_id": c, "nickname": n} for c, n in these.items() if c not in minus]


def _grants(these: dict[tuple[str, int], int], minus: dict[tuple[str, int], int]) -> list[Any]:
    return [
        {"campaign": c, "customer_id": p, "amount_cents": cents}
        for (c, p), cents in these.items()
        if (c, p) not in minus
    ]
