from __future__ import annotations

import pytest

from livedesk.core.settings import DEMO_WEBHOOK_SECRETS, Settings


def test_env_and_dotenv_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LIVEDESK_REDIS_URL=redis://example:6379/2\n")
    monkeypatch.setenv(
        "LIVEDESK_WEBHOOK_SECRETS", "generic=whsec_abc, douyin=s1,douyin.live_gift=s2"
    )
    settings = Settings()
    assert settings.redis_url == "redis://example:6379/2"
    assert settings.secret_for("generic") == "whsec_abc"
    assert settings.secret_for("douyin", "live_gift") == "s2"
    assert settings.secret_for("douyin", "live_comment") == "s1"


def test_demo_secrets_only_in_demo_mode(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings().secret_for("generic") is None
    assert Settings(demo_mode=True).secret_for("generic") == DEMO_WEBHOOK_SECRETS["generic"]


def test_malformed_secret_list_is_an_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIVEDESK_WEBHOOK_SECRETS", "generic")
    with pytest.raises(ValueError):
        Settings()
