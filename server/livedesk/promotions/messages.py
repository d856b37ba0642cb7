"""What panels are told about a campaign: `red_packet` and `coupon` messages."""

from __future__ import annotations

from livedesk.core.clock import iso_local
from livedesk.promotions.models import Campaign
from livedesk.roomlog.messages import Message


def campaign_message(campaign: Campaign, *, redeemed: int | None = None) -> Message:
    config = campaign.config or {}
    common = {
        "title": campaign.title,
        "state": campaign.state,
        "starts_at": iso_local(campaign.starts_at),
        "ends_at": iso_local(campaign.ends_at),
        "quantity": campaign.quantity,
    }
    if redeemed is not None:
        common["redeemed"] = redeemed
    if campaign.kind == "coupon":
        data = {
            "drop_id": campaign.public_id,
            **common,
            "threshold_cents": config.get("threshold_cents", 0),
            "claimed": campaign.granted_count,
            "audience": config.get("audience", "all"),
        }
        for key in ("value_cents", "discount_pct", "min_tier", "segment"):
            if config.get(key) is not None:
                data[key] = config[key]
        return Message("coupon", data)
    data = {
        "campaign_id": campaign.public_id,
        "kind": campaign.kind,
        **common,
        "granted": campaign.granted_count,
        "budget_cents": campaign.budget_cents,
        "spent_cents": campaign.spent_cents,
    }
    if config.get("passphrase"):
        data["passphrase"] = config["passphrase"]
    return Message("red_packet", data)
