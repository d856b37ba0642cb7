"""流失预警 (issue 18 point 3): risk levels and reasons by hand-computed scenarios, the rules'
checks, and the list and its spreadsheet export on a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from livedesk.core.spreadsheet import BOM
from livedesk.customers.churn import churn_warning
from livedesk.customers.csv_format import COLUMNS
from livedesk.customers.profile import ItemLine, PaidOrder, history_from_orders
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.loader import RulesInvalid, load_document
from support import REPO, add_operator

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def bought(*orders: tuple[int, int]):  # type: ignore[no-untyped-def]
    """A history from (days ago, yuan) pairs."""
    return history_from_orders(
        PaidOrder(f"O{i}", NOW - timedelta(days=days), yuan * 100, (ItemLine("S", "精华"),))
        for i, (days, yuan) in enumerate(orders)
    )


def test_two_orders_a_hundred_days_ago_never_seen_is_high_risk(tier_rules: TierRules) -> None:
    history = bought((130, 100), (100, 100))
    warning = churn_warning(history, None, tier_rules, NOW)
    assert warning is not None and warning.level == "high"
    # Their interval is 30 days: 100 / 30 = 3.3 × (high from 3 ×); not seen for 100 days
    # (high from 90); 100 days without an order (medium from 60). Spend: nothing in the last
    # 90 days against ¥200 in the 90 before: a decline too (medium).
    assert [(r.kind, r.level.value) for r in warning.reasons] == [
        ("overdue", "high"),
        ("silent", "high"),
        ("no_order", "medium"),
        ("spend_decline", "medium"),
    ]
    assert warning.reasons[0].text == "100 天未下单，约为平时间隔（30 天）的 3.3 倍"
    assert warning.reasons[1].text == "100 天未出现（未进直播间、未下单）"
    assert warning.reasons[3].text == "近 90 天消费较前 90 天下降 100%"


def test_seventy_days_without_an_order_is_medium(tier_rules: TierRules) -> None:
    history = bought((100, 100), (70, 100))
    # 70 / 30 = 2.3 × (medium), 70 days without an order (medium), not seen for 70 (medium).
    warning = churn_warning(history, None, tier_rules, NOW)
    assert warning is not None and warning.level == "medium"
    assert [r.kind for r in warning.reasons] == ["overdue", "no_order", "silent"]
    # Seen in a live room five days ago: watching, not buying.
    watching = churn_warning(history, NOW - timedelta(days=5), tier_rules, NOW)
    assert watching is not None and watching.level == "medium"
    assert [r.kind for r in watching.reasons] == ["overdue", "no_order"]


def test_a_weekly_buyer_twelve_days_quiet_is_overdue(tier_rules: TierRules) -> None:
    history = bought((40, 200), (33, 200), (26, 200), (19, 200), (12, 200))
    warning = churn_warning(history, NOW - timedelta(days=1), tier_rules, NOW)
    # (40 - 12) / 4 = 7 days apart; 12 / 7 = 1.7 ×: medium. 12 days: no other signal.
    assert warning is not None and warning.level == "medium"
    assert [r.kind for r in warning.reasons] == ["overdue"]


def test_spend_that_fell_by_seventy_percent(tier_rules: TierRules) -> None:
    history = bought((170, 500), (120, 500), (60, 200), (10, 100))
    warning = churn_warning(history, NOW - timedelta(days=2), tier_rules, NOW)
    # Last 90 days ¥300 (days 60 and 10), the 90 before ¥1,000 (days 170 and 120): -70 %.
    assert warning is not None and warning.level == "medium"
    assert [(r.kind, r.text) for r in warning.reasons] == [
        ("spend_decline", "近 90 天消费较前 90 天下降 70%")
    ]


def test_no_risk_without_a_signal_or_without_orders(tier_rules: TierRules) -> None:
    assert churn_warning(bought((20, 100), (5, 100)), None, tier_rules, NOW) is None
    assert churn_warning(bought(), NOW, tier_rules, NOW) is None
    # 30 days without an order but seen yesterday: low (still watching).
    low = churn_warning(bought((30, 100)), NOW - timedelta(days=1), tier_rules, NOW)
    assert low is not None and low.level == "low" and [r.kind for r in low.reasons] == ["no_order"]


def test_level_days_must_increase(tmp_path: Path) -> None:
    text = (REPO / "rules" / "tiers.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "tiers.yaml"
    broken.write_text(
        text.replace("{low: 30, medium: 60, high: 90}", "{low: 30, medium: 90, high: 60}"), "utf-8"
    )
    with pytest.raises(RulesInvalid) as invalid:
        load_document(broken, TierRules)
    assert "high must be more days than the level below" in str(invalid.value)


def _crm(tag: str) -> str:
    """Three members, dated from today: lost (high), overdue weekly buyer (medium), fine."""
    today = datetime.now(UTC)
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    plans = {
        "lost": [130, 100],
        "weekly": [40, 33, 26, 19, 12],
        "fine": [20, 5],
    }
    for name, days in plans.items():
        for k, ago in enumerate(days):
            writer.writerow(
                {
                    **dict.fromkeys(COLUMNS, ""),
                    "member_id": f"{tag}-{name}",
                    "nickname": f"{tag}-{name}",
                    "order_id": f"{tag}-{name}-{k}",
                    "ordered_at": (today - timedelta(days=ago)).isoformat(timespec="seconds"),
                    "amount_cents": "10000",
                    "sku": "SKU-SERUM-AA30",
                    "qty": "1",
                    "status": "paid",
                }
            )
    return out.getvalue()


async def test_the_list_filters_and_exports_for_a_spreadsheet(server, database_url):
    tag = f"churn-{uuid.uuid4().hex[:6]}"
    token = await add_operator(database_url)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        imported = await client.post(
            "/api/v1/customers/import",
            content=_crm(tag).encode(),
            headers={"content-type": "text/csv"},
        )
        assert imported.status_code == 200 and imported.json()["rejected_rows"] == 0

        async def ours(**query: str) -> dict[str, dict]:
            found: dict[str, dict] = {}
            after = 0
            while True:
                page = await client.get(
                    "/api/v1/customers/churn", params={**query, "after": after, "limit": 50}
                )
                assert page.status_code == 200, page.text
                body = page.json()
                found.update({c["nickname"]: c for c in body["customers"] if tag in c["nickname"]})
                if body["next_after"] is None:
                    return found
                after = body["next_after"]

        everyone = await ours()
        assert set(everyone) == {f"{tag}-lost", f"{tag}-weekly"}
        assert everyone[f"{tag}-lost"]["risk"]["level"] == "high"
        assert everyone[f"{tag}-weekly"]["risk"]["reasons"][0]["kind"] == "overdue"
        assert set(await ours(risk="high")) == {f"{tag}-lost"}
        assert set(await ours(reason="overdue")) == {f"{tag}-lost", f"{tag}-weekly"}
        refused = await client.get("/api/v1/customers/churn", params={"tier": "黄金"})
        assert refused.status_code == 422 and "gold (黄金)" in refused.json()["error"]

        exported = await client.get("/api/v1/customers/churn", params={"format": "csv"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(BOM.encode("utf-8"))
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    mine = {row["昵称"]: row for row in table if tag in row["昵称"]}
    assert set(mine) == {f"{tag}-lost", f"{tag}-weekly"}
    lost = mine[f"{tag}-lost"]
    assert lost["风险等级"] == "高风险" and lost["未下单天数"] == "100"
    assert "100 天未出现" in lost["原因"] and lost["累计消费（元）"] == "200.00"
