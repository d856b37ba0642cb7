"""Imports every domain's rule schemas so that they register their files and checks."""

from livedesk.rulebook import (
    compliance,  # noqa: F401  compliance.yaml + template check
    cues,  # noqa: F401  hints.yaml, alerts.yaml
    customers,  # noqa: F401  tiers.yaml
    followup,  # noqa: F401  followup.yaml (after a session: next action and message)
    greetings,  # noqa: F401  greetings.yaml + tiers check
    lexicon,  # noqa: F401  lexicon.yaml (intents, interests, spam)
    products,  # noqa: F401  products.yaml (catalogue) + SKU check
    promotions,  # noqa: F401  red_packets.yaml, coupons.yaml
    shops,  # noqa: F401  shops.yaml (which rooms a shop's orders go to)
)
