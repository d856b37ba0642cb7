"""Pure decisions of each campaign kind: who matches, and how much they get."""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any


def normalize_passphrase(text: str) -> str:
    """The one normalisation for passphrases (口令), applied to both sides: Unicode NFKC
    (full-width ６６６ → 666), trim surrounding whitespace, casefold. Nothing else is folded."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def passphrase_matches(comment: str, passphrase: str) -> bool:
    wanted = normalize_passphrase(passphrase)
    return bool(wanted) and normalize_passphrase(comment) == wanted


def blind_box_amount(campaign_id: str, customer_id: int, min_cents: int, max_cents: int) -> int:
    """A random amount in [min, max], seeded by (campaign, customer): a retry draws the same."""
    seed = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return random.Random(seed).randint(min_cents, max_cents)


def tiered_amount(steps: Sequence[Mapping[str, int]], order_count: int) -> int | None:
    """The highest step the customer's paid-order count reaches, or None."""
    reached = [step for step in steps if order_count >= step["min_orders"]]
    if not reached:
        return None
    return max(reached, key=lambda step: step["min_orders"])["amount_cents"]


def rain_amount(config: Mapping[str, Any], tier_id: str | None) -> int:
    """Rain packets: a per-tier amount when the campaign sets one, else the even share."""
    by_tier: Mapping[str, int] = config.get("tier_amounts_cents") or {}
    if tier_id is not None and tier_id in by_tier:
        return int(by_tier[tier_id])
    return int(config["amount_cents"])


def in_audience(
    config: Mapping[str, Any],
    *,
    returning: bool,
    tier_rank: int,
    min_tier_rank: int | None,
    segment: str | None,
    churn_rank: int = 0,
    min_churn_rank: int = 0,
) -> bool:
    """Coupon audiences: everyone, returning customers, a tier and up, one segment, or
    customers at 流失预警 risk of a level and up (ranks: 0 none, 1 low … 3 high)."""
    audience = config.get("audience", "all")
    if audience == "churn":
        return min_churn_rank > 0 and churn_rank >= min_churn_rank
    if audience == "returning":
        return returning
    if audience == "tier":
        return min_tier_rank is not None and tier_rank >= min_tier_rank
    if audience == "segment":
        return segment is not None and segment == config.get("segment")
    return True
