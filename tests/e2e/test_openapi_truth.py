"""/openapi.json tells the truth (issue 15.8, the app-wide part): the sign-in schemes, every
error status in the contract's `{"error": …}` shape (400 for an unreadable body, never
FastAPI's `{"detail": …}`), and OPTIONS / wrong methods answered with the path's own methods."""

from __future__ import annotations

import httpx

from support import add_operator


async def test_the_document_declares_sign_in_and_every_error(server):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        document = (await client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["operatorToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["operatorToken"]["description"],
    }
    assert schemes["sessionCookie"]["in"] == "cookie"
    coupons = document["paths"]["/api/v1/rooms/{room_id}/coupons"]["post"]
    assert coupons["security"] == [{"operatorToken": []}, {"sessionCookie": []}]
    assert {"400", "401", "403", "404", "422", "503"} <= set(coupons["responses"])
    generic = document["paths"]["/api/v1/webhooks/{platform}"]["post"]
    assert "404" in generic["responses"]  # an unknown platform
    for path, item in document["paths"].items():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and "application/json" in response.get("content", {}):
                    schema = response["content"]["application/json"]["schema"]
                    # /readyz's 503 is its report, saying which backend is not ok.
                    shape = "Readiness" if path == "/readyz" else "Error"
                    assert schema == {"$ref": f"#/components/schemas/{shape}"}, (status, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_refusals_are_error_json_and_options_names_the_methods(server, database_url):
    ops = {"Authorization": f"Bearer {await add_operator(database_url, 'ops')}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=ops) as client:
        for body in (b"\x83\xff", b"{"):
            response = await client.put(
                "/api/v1/rooms/r1/kind", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, response.text
            assert set(response.json()) == {"error"}
        options = await client.options("/api/v1/customers/import")
        assert options.status_code == 204 and options.headers["allow"] == "POST"
        options = await client.options("/api/v1/rooms/r1/thresholds")
        assert options.headers["allow"] == "GET, PUT"
        wrong = await client.patch("/api/v1/rooms/r1/thresholds")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, PUT"
        assert "PATCH is not allowed" in wrong.json()["error"]
        missing = await client.get("/api/v1/nothing-here")
        assert missing.status_code == 404 and missing.json() == {"error": "not found"}
        unknown = await client.post("/api/v1/webhooks/nosuchplatform", content=b"{}")
        assert unknown.status_code == 404 and "unknown platform" in unknown.json()["error"]
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        refused = await anonymous.get("/api/v1/rooms")
        assert refused.status_code == 401 and "error" in refused.json()
