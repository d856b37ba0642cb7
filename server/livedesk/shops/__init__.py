"""Shop orders: order notices completed from the shops' APIs and placed in their rooms.

`ingest` stores a notice when a shop says an order exists; `fetcher.OrderFetcher` asks the
shop for the order (`doudian.py`, `wechat.py`, through `http.ShopHttp`), chooses its room
(`routing.py`, from rules/shops.yaml and where the buyer is watching), and stores one inbox
event, which the pipeline then takes like any other.
"""
