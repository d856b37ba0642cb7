"""The review's downloads open right in Excel (issue 20, point 10): the page's links give one
table per CSV (UTF-8 with BOM, Chinese headers, yuan) and all of them in one zip."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from pathlib import Path

import httpx
import pytest
from browser_support import OpenPage, assert_clean

from support import LiveServer, add_operator, event, eventually, post_events

pytestmark = pytest.mark.browser


async def test_the_review_downloads_tables_excel_opens(
    open_page: OpenPage, server: LiveServer, database_url: str, room_id: str, tmp_path: Path
) -> None:
    token = await add_operator(database_url, "ops")
    order = {
        "order_id": f"o-{room_id}",
        "amount_cents": 29_900,
        "items": [{"sku": "SKU-SERUM-AA30", "qty": 1, "price_cents": 29_900}],
        "status": "paid",
    }
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        batch = [
            event(room_id, "comment", "a1", content="太贵了"),
            event(room_id, "order", "a1", order=order),
        ]
        assert (await post_events(client, batch)).status_code == 202

        async def ordered() -> bool:
            kpis = await client.get(f"/api/v1/rooms/{room_id}/kpis")
            return kpis.status_code == 200 and kpis.json().get("orders") == 1

        await eventually(ordered, what="the order in the room's KPIs")

    report = await open_page(f"/rooms/{room_id}/report", role="ops", token=token)
    page = report.page
    await page.get_by_test_id("report-returning_share").wait_for()

    async with page.expect_download() as download:
        await page.get_by_test_id("download-csv-summary").click()
    summary = tmp_path / "summary.csv"
    await (await download.value).save_as(summary)
    raw = summary.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["指标", "数值"]
    assert ["GMV（元）", "299.00"] in rows

    async with page.expect_download() as download:
        await page.get_by_test_id("download-zip").click()
    bundle = tmp_path / "all.zip"
    await (await download.value).save_as(bundle)
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        drops = archive.read("02-drops.csv")
    assert "03-interest.csv" in names and "05-customers.csv" in names
    assert drops.startswith(codecs.BOM_UTF8)
    assert (
        drops.decode("utf-8-sig")
        .splitlines()[0]
        .startswith("类型,名称,领取,核销,核销率,成本（元）")
    )
    assert_clean(report)
