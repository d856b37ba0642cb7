"""The review as tables a spreadsheet opens right: one table per CSV file (or all of them in
one zip), UTF-8 with a byte-order mark (Excel on Windows reads BOM-less UTF-8 as the local code
page and garbles Chinese), Chinese column headers, money in yuan and ratios in percent, times
in Beijing time. The JSON review keeps cents and fractions for programs."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from livedesk.core.clock import CHINA_TZ

BOM = "\ufeff"
# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Figures this module formatted itself (-12.50, 20.15%) are numbers, not outside text.
FIGURE = re.compile(r"-?\d+(\.\d+)?%?")
KIND_LABELS = {
    "tiered": "阶梯红包",
    "rain": "红包雨",
    "blind_box": "盲盒红包",
    "points": "积分红包",
    "referral": "邀请红包",
    "coupon": "优惠券",
}
SEVERITY_LABELS = {"info": "提示", "warning": "警告", "critical": "严重"}


def yuan(cents: Any) -> str:
    """12345 -> "123.45" (a number Excel sums); None -> empty."""
    if not isinstance(cents, int | float):
        return ""
    return f"{cents / 100:.2f}"


def percent(ratio: Any) -> str:
    """0.2015 -> "20.15%" (Excel reads it as a percentage)."""
    if not isinstance(ratio, int | float):
        return ""
    return f"{ratio * 100:.2f}%"


def number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def beijing(iso: Any) -> str:
    """An ISO timestamp as 2026-12-04 20:05:09 in Beijing time."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


# The headline figures: key -> (label, format). Figures not listed keep their key as label.
KPI_ROWS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "gmv_cents": ("GMV（元）", yuan),
    "orders": ("订单数", number),
    "aov_cents": ("客单价（元）", yuan),
    "aov_returning_cents": ("老客客单价（元）", yuan),
    "aov_new_cents": ("新客客单价（元）", yuan),
    "aov_lift": ("老客客单价高出", percent),
    "returning_share_session": ("老客户占比（本场累计）", percent),
    "returning_share": ("老客户占比（结束时在线）", percent),
    "redemption_rate": ("优惠券核销率", percent),
    "carters": ("加购人数", number),
    "cart_conversion": ("加购转化（加购后下单 ÷ 加购人数）", percent),
    "buyers": ("下单人数", number),
    "repurchase_rate_session": ("复购率（本场 2 单及以上 ÷ 下单人数）", percent),
    "repurchase_rate_history": ("复购率（此前买过 ÷ 下单人数）", percent),
    "interaction_rate": ("互动率（全场）", percent),
    "sentiment_index": ("情绪指数（全场，0 负面 – 1 正面）", number),
    "viewers_now": ("结束时在线人数", number),
    "viewers_seen": ("累计观众", number),
    "viewers_seen_estimated": ("其中按互动估算的观众", number),
    "comments": ("弹幕条数", number),
    "comments_per_viewer": ("人均弹幕", number),
    "comments_per_min": ("弹幕（条/分钟，最近）", number),
}


@dataclass(frozen=True)
class Table:
    name: str  # the file name, without .csv
    title: str
    header: list[str]
    rows: list[list[str]]


def tables(report: dict[str, Any]) -> list[Table]:
    """Every table of the review, in the order the review page shows them."""
    return [
        _summary(report),
        Table(
            "drops",
            "红包与优惠券",
            ["类型", "名称", "领取", "核销", "核销率", "成本（元）", "带来 GMV（元）", "ROI"],
            [
                [
                    KIND_LABELS.get(d.get("kind", ""), d.get("kind", "")),
                    d.get("title", ""),
                    number(d.get("claimed")),
                    number(d.get("redeemed")),
                    percent(d["redeemed"] / d["claimed"]) if d.get("claimed") else "",
                    yuan(d.get("cost_cents")),
                    yuan(d.get("gmv_cents")),
                    number(d.get("roi")),
                ]
                for d in report.get("drops", [])
            ],
        ),
        Table(
            "interest",
            "商品关注度（问得最多的商品）",
            ["商品", "SKU", "提及次数"],
            [
                [row.get("name", ""), row.get("sku", ""), number(row.get("mentions"))]
                for row in report.get("interest_ranking", [])
            ],
        ),
        Table(
            "intents",
            "弹幕意图",
            ["意图", "次数"],
            [[label or intent, number(count)] for intent, label, count in report["top_intents"]],
        ),
        Table(
            "customers",
            "贡献最多的客户",
            ["客户", "等级", "GMV（元）", "订单数"],
            [
                [
                    c.get("nickname", ""),
                    c.get("tier_label", ""),
                    yuan(c.get("gmv_cents")),
                    number(c.get("orders")),
                ]
                for c in report["top_customers"]
            ],
        ),
        Table(
            "alerts",
            "告警",
            ["时间", "级别", "告警"],
            [
                [
                    beijing(a.get("ts")),
                    SEVERITY_LABELS.get(a.get("severity", ""), ""),
                    a.get("title", ""),
                ]
                for a in report["alerts"]
            ],
        ),
        Table(
            "viewers",
            "在线人数",
            ["时间", "在线人数", "老客户占比"],
            [
                [beijing(ts), number(n), percent(share)]
                for ts, n, share in report["viewers_timeline"]
            ],
        ),
        Table(
            "sentiment",
            "情绪指数",
            ["时间", "情绪指数"],
            [[beijing(ts), number(index)] for ts, index in report["sentiment_timeline"]],
        ),
    ]


def _summary(report: dict[str, Any]) -> Table:
    rows = [
        ["直播间", report.get("title") or report.get("room_id", "")],
        ["开始", beijing(report.get("started_at"))],
        ["结束", beijing(report.get("ended_at")) or "进行中"],
    ]
    kpis = report.get("kpis", {})
    for key, (label, fmt) in KPI_ROWS.items():
        if kpis.get(key) is not None:
            rows.append([label, fmt(kpis[key])])
    for key, value in kpis.items():
        if key not in KPI_ROWS and isinstance(value, int | float) and not isinstance(value, bool):
            rows.append([key, number(value)])
    return Table("summary", "概览", ["指标", "数值"], rows)


def _neutralise(value: str) -> str:
    """Text that looks like a formula is quoted, so opening the file runs nothing (a nickname
    such as =HYPERLINK(...) comes from a viewer)."""
    if value.startswith(FORMULA_PREFIXES) and not FIGURE.fullmatch(value):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_neutralise(str(cell)) for cell in row])
    return (BOM + out.getvalue()).encode("utf-8")


def to_zip(all_tables: list[Table]) -> bytes:
    """Every table as its own CSV in one zip (ASCII file names: every unzip tool reads them)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, table in enumerate(all_tables, start=1):
            archive.writestr(f"{index:02d}-{table.name}.csv", to_csv(table))
    return out.getvalue()
