"""Pages as a browser sees them over HTTP: sign-in, cookies, roles, escaping, security headers."""

from __future__ import annotations

import uuid

import httpx

from livedesk.auth import service as auth
from livedesk.core.db import commit, create_engine, session_factory
from support import add_operator, event, open_panel, post_events


async def _login(client: httpx.AsyncClient, token: str, next_path: str = "/") -> httpx.Response:
    return await client.post("/login", data={"token": token, "next": next_path})


async def test_sign_in_sets_an_httponly_cookie_and_redirects_locally(server, database_url, room_id):
    token = await add_operator(database_url, "host")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        wrong = await _login(client, "nope")
        assert wrong.status_code == 401 and "令牌无效" in wrong.text
        response = await _login(client, token, f"/host/{room_id}")
        assert response.status_code == 303
        assert response.headers["location"] == f"/host/{room_id}"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        # An offsite destination is never followed: it lands where a sign-in without one
        # does (a room's panel or the overview, whichever other tests left on air).
        offsite = await _login(client, token, "https://evil.example/")
        location = offsite.headers["location"]
        assert location.startswith("/") and not location.startswith("//")
        assert "evil" not in location
        page = await client.get(f"/host/{room_id}")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        forbidden = await client.get(f"/ops/{room_id}")
        assert forbidden.status_code == 403 and "无权访问" in forbidden.text


async def test_pages_need_a_session(server, room_id):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get(f"/ops/{room_id}")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_the_session_cookie_authenticates_the_live_channel(server, database_url, room_id):
    token = await add_operator(database_url, "ops")
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _login(client, token)
        cookie = client.cookies.get(auth.SESSION_COOKIE)
        assert cookie
    import websockets

    ws = await websockets.connect(
        f"{server.ws_url}/ws/rooms/{room_id}",
        additional_headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"},
    )
    await ws.send('{"type":"resume","after_seq":null}')
    assert '"snapshot"' in await ws.recv()
    await ws.close()


async def test_operator_names_and_nicknames_are_text_not_markup(server, database_url, room_id):
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        _op, token = await auth.add_operator(session, f"<b>x{uuid.uuid4().hex[:4]}</b>", "ops")
        await commit(session)
    await engine.dispose()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await _login(client, token)
        page = await client.get(f"/ops/{room_id}")
        assert "<b>x" not in page.text and "&lt;b&gt;x" in page.text
        evil = "<img src=x onerror=alert(1)>"
        panel = await open_panel(server.ws_url, room_id, token)
        await post_events(client, event(room_id, "comment", "bad", nickname=evil, content=evil))
        comment = await panel.until(lambda m: m["type"] == "comment")
        # The channel carries data, not HTML: the page renders it with textContent.
        assert comment["data"]["comments"][0]["user"]["nickname"] == evil
        await panel.close()
