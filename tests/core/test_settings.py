from __future__ import annotations

import pytest

from livedesk.core.settings import DEMO_WEBHOOK_SECRETS, Settings
from livedesk.ingest.platforms.secrets import secrets_for


def test_env_and_dotenv_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LIVEDESK_REDIS_URL=redis://example:6379/2\n")
    monkeypatch.setenv(
        "LIVEDESK_WEBHOOK_SECRETS", "generic=whsec_abc, douyin=s1,douyin.live_gift=s2"
    )
    settings = Settings()
    assert settings.redis_url == "redis://example:6379/2"
    assert secrets_for(settings, "generic") == ["whsec_abc"]
    assert secrets_for(settings, "douyin", "live_gift") == ["s2"]
    assert secrets_for(settings, "douyin", "live_comment") == ["s1"]


def test_demo_secrets_only_in_demo_mode(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert secrets_for(Settings(), "generic") == []
    assert secrets_for(Settings(demo_mode=True), "generic") == [DEMO_WEBHOOK_SECRETS["generic"]]


def test_malformed_secret_list_is_an_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVEDESK_WEBHOOK_SECRETS", "generic")
    with pytest.raises(ValueError):
        Settings()


def test_a_platform_named_twice_has_both_secrets_in_order(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "LIVEDESK_WEBHOOK_SECRETS",
        "generic=whsec_b2xk,douyin=d1,generic=whsec_bmV3,generic=whsec_bmV3",
    )
    settings = Settings(demo_mode=True)  # configured ones replace the demo secret
    assert secrets_for(settings, "generic") == ["whsec_b2xk", "whsec_bmV3"]
    assert secrets_for(settings, "douyin", "live_gift") == ["d1"]
