"""A manual red-packet drop's settings: what ops gave, else the first template of its kind in
`rules/red_packets.yaml` (a drop started from the console needs only its kind, title and budget)."""

from __future__ import annotations

from typing import Any

from livedesk.core.errors import ApiError
from livedesk.promotions.schemas import RedPacketIn
from livedesk.rulebook.promotions import RedPacketRules, RedPacketTemplate


def red_packet_config(body: RedPacketIn, rules: RedPacketRules) -> dict[str, Any]:
    """The kind's settings: what the request gives, else the first template of that kind."""
    template: RedPacketTemplate | None = next(
        (t for t in rules.templates if t.kind == body.kind), None
    )

    def pick(name: str) -> Any:
        given = getattr(body, name)
        return given if given is not None else getattr(template, name, None)

    config: dict[str, Any] = {"amount_cents": body.budget_cents // body.quantity}
    if body.kind == "rain":
        config["passphrase"] = body.passphrase
        if body.tier_amounts_cents:
            config["tier_amounts_cents"] = body.tier_amounts_cents
    elif body.kind == "tiered":
        steps = body.steps or (template.steps if template else [])
        if not steps:
            raise ApiError(422, "a tiered campaign needs steps")
        config["steps"] = [step.model_dump() for step in steps]
        config["trigger"] = template.trigger if template else "order"
    elif body.kind == "blind_box":
        low, high = pick("min_cents"), pick("max_cents")
        if not low or not high or low > high:
            raise ApiError(422, "a blind box needs 0 < min_cents <= max_cents")
        config.update(min_cents=low, max_cents=high, min_dwell_s=pick("min_dwell_s") or 0)
    elif body.kind == "points":
        keyword, cost = pick("keyword"), pick("points_cost")
        if not keyword or not cost:
            raise ApiError(422, "a points exchange needs keyword and points_cost")
        config.update(keyword=keyword, points_cost=cost)
        config["amount_cents"] = pick("amount_cents") or config["amount_cents"]
    elif body.kind == "referral":
        config["amount_cents"] = pick("amount_cents") or config["amount_cents"]
    largest = _largest_packet(config)
    if largest > body.budget_cents:
        message = (
            f"one packet of up to {largest} fen is more than the drop's budget_cents"
            f" ({body.budget_cents}): it could never be paid"
        )
        raise ApiError(422, message, fields={"budget_cents": message})
    return config


def _largest_packet(config: dict[str, Any]) -> int:
    """The most one packet of this campaign can pay."""
    amounts = [config.get("amount_cents") or 0, config.get("max_cents") or 0]
    amounts += (config.get("tier_amounts_cents") or {}).values()
    amounts += [step["amount_cents"] for step in config.get("steps") or ()]
    return max(amounts)
