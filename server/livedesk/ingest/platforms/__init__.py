"""Platform adapters: each accepts one platform's push format and signature scheme unchanged
and turns it into livedesk's events (or, for a shop's order notification that carries only an
order id, into an order notice that the order fetcher completes from the shop's API).

| module | platform | URL |
| --- | --- | --- |
| `douyin_open` | Douyin open platform (抖音开放平台) webhooks | `/api/v1/webhooks/douyin_open` |
| `doudian` | 抖店 message push | `/api/v1/webhooks/doudian` |
| `kuaishou` | Kuaishou interactive-live push | `/api/v1/webhooks/kuaishou` |
| `wechat_shop` | 微信小店 / 视频号 event push | `/api/v1/webhooks/wechat_shop` |

Douyin's live-room push (`ingest/douyin.py`) and the generic format predate this package.
"""
