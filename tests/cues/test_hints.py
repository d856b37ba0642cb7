"""Teleprompter hints: thresholds, cooldowns, screen budget, safe templates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livedesk.analysis.intents import IntentMatcher
from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.spam import SpamFilter
from livedesk.analysis.windows import RoomWindows
from livedesk.cues.hints import Hint, HintContext, HintState, decide_hints, rank_talking_points
from livedesk.rulebook.cues import HintRules
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.loader import RulesInvalid, load_document

# A 10-second bucket boundary, so tests can reason about bucket edges.
T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

CONTEXT = HintContext(
    product_sku="SKU-SERUM-AA30",
    product_name="抗老精华30ml",
    stock_by_sku={"SKU-SERUM-AA30": 120},
)


def rule(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "threshold": 5,
        "window_s": 60,
        "priority": 1,
        "cooldown_s": 180,
        "expire_s": 90,
        "templates": ["价格问题{count}条"],
    }
    return {**base, **overrides}


def test_ten_price_objections_in_30s_fire_one_hint_then_cooldown(hint_rules: HintRules) -> None:
    windows, state, fired = RoomWindows(), HintState(), []
    # The pipeline decides after every comment: 10 objections in 30 s, then a steady trickle.
    for i in range(10):
        at = T0 + timedelta(seconds=3 * i)
        windows.add_comment(at, f"u{i}", 0.3, ["price_objection"], ["贵"])
        fired += decide_hints(at, windows, CONTEXT, state, hint_rules)
    assert [h.intent for h in fired] == ["price_objection"]
    first = fired[0]
    assert first.text == "很多宝宝在问价格：强调今晚老客专享价，满300减50"
    assert first.created_at == T0 + timedelta(seconds=12)  # the 5th objection
    assert first.expires_at == first.created_at + timedelta(seconds=90)
    assert first.priority == 1 and first.count == 5

    cooldown_s = hint_rules.intents["price_objection"].cooldown_s
    second_at = None
    for second in range(30, 400, 2):
        at = T0 + timedelta(seconds=second)
        windows.add_comment(at, f"v{second}", 0.3, ["price_objection"])
        new = decide_hints(at, windows, CONTEXT, state, hint_rules)
        if new and second_at is None:
            second_at = at
            # The next template in rotation, filled with our own values.
            assert new[0].text.startswith("价格疑问")
            assert "抗老精华30ml" in new[0].text
    assert second_at is not None
    assert second_at - first.created_at >= timedelta(seconds=cooldown_s)


def chit_chat_stream(seed: int) -> list[tuple[int, str, float | None, list[str], bool]]:
    """Ten minutes of a lively room: greetings and chatter, 666 floods, a few real questions.

    (offset_ms, user, sentiment, intents, is_spam) — intents and spam as the analysis stage
    would mark them: a lone price question every ~25 s and spam floods that carry intent words.
    """
    rng = random.Random(seed)
    events: list[tuple[int, str, float | None, list[str], bool]] = []
    for ms in range(0, 600_000, 150):  # ~6.7 comments/s
        user = f"u{rng.randrange(800)}"
        roll = rng.random()
        if roll < 0.35:
            events.append((ms, user, None, [], True))  # 666 / 哈哈哈哈 floods
        elif roll < 0.40:
            # A flood of "多少钱多少钱" copies: marked spam, so its intent is not counted.
            events.append((ms, user, 0.4, ["price_objection"], True))
        else:
            events.append((ms, user, rng.uniform(0.5, 0.95), [], False))
    for ms in range(7_000, 600_000, 25_000):  # one genuine question every 25 s
        events.append((ms, f"q{ms}", 0.45, [rng.choice(["price_objection", "shipping"])], False))
    return sorted(events)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chit_chat_and_666_never_fire_a_hint(hint_rules: HintRules, seed: int) -> None:
    windows, state = RoomWindows(), HintState()
    next_decision_ms = 0
    for ms, user, sentiment, intents, spam in chit_chat_stream(seed):
        at = T0 + timedelta(milliseconds=ms)
        windows.add_comment(at, user, sentiment, intents, is_spam=spam)
        if ms >= next_decision_ms:  # decide once a second, like the pipeline tick
            assert decide_hints(at, windows, CONTEXT, state, hint_rules) == []
            next_decision_ms = ms + 1000
    assert state.last_fired == {}


def test_screen_budget_priority_and_expiry() -> None:
    rules = HintRules.model_validate(
        {
            "max_on_screen": 2,
            "intents": {
                "shipping": rule(priority=3, expire_s=30, templates=["发货"]),
                "size_fit": rule(priority=2, expire_s=30, templates=["尺码"]),
                "price_objection": rule(priority=1, expire_s=30, templates=["价格"]),
            },
        }
    )
    windows, state = RoomWindows(), HintState()
    for intent in rules.intents:
        for i in range(5):
            windows.add_comment(T0, f"{intent}{i}", 0.5, [intent])
    first = decide_hints(T0, windows, CONTEXT, state, rules)
    assert [h.text for h in first] == ["价格", "尺码"]  # most urgent first, budget of 2
    assert decide_hints(T0 + timedelta(seconds=5), windows, CONTEXT, state, rules) == []
    # Once the first two expire the screen has room; shipping is still over its threshold.
    later = T0 + timedelta(seconds=31)
    for i in range(5):
        windows.add_comment(later, f"late{i}", 0.5, ["shipping"])
    assert [h.text for h in decide_hints(later, windows, CONTEXT, state, rules)] == ["发货"]


def test_dismissing_frees_the_screen_but_keeps_the_cooldown() -> None:
    rules = HintRules.model_validate(
        {"max_on_screen": 1, "intents": {"shipping": rule(), "size_fit": rule(priority=2)}}
    )
    windows, state = RoomWindows(), HintState()
    for intent in ("shipping", "size_fit"):
        for i in range(5):
            windows.add_comment(T0, f"{intent}{i}", 0.5, [intent])
    (shown,) = decide_hints(T0, windows, CONTEXT, state, rules)
    assert shown.intent == "shipping"
    assert state.dismiss(shown.id) and not state.dismiss(shown.id)
    (second,) = decide_hints(T0 + timedelta(seconds=1), windows, CONTEXT, state, rules)
    assert second.intent == "size_fit"


def test_templates_needing_unknown_values_are_skipped() -> None:
    rules = HintRules.model_validate(
        {
            "intents": {
                "purchase_signal": rule(
                    templates=["{product_name}还剩{stock_left}件", "快上链接（{count}人想要）"]
                )
            }
        }
    )
    windows = RoomWindows()
    for i in range(6):
        windows.add_comment(T0, f"u{i}", 0.8, ["purchase_signal"])
    (with_product,) = decide_hints(T0, windows, CONTEXT, HintState(), rules)
    assert with_product.text == "抗老精华30ml还剩120件"
    (without,) = decide_hints(T0, windows, HintContext(), HintState(), rules)
    assert without.text == "快上链接（6人想要）"

    only_stock = HintRules.model_validate(
        {"intents": {"purchase_signal": rule(templates=["还剩{stock_left}件"])}}
    )
    state = HintState()
    assert decide_hints(T0, windows, HintContext(), state, only_stock) == []
    assert state.last_fired == {}  # nothing shown, so no cooldown was spent


def test_values_are_inserted_literally() -> None:
    # A catalogue name that looks like a placeholder must not be expanded again.
    rules = HintRules.model_validate(
        {"intents": {"gift_question": rule(templates=["赠品：{product_name}"])}}
    )
    windows = RoomWindows()
    for i in range(5):
        windows.add_comment(T0, f"u{i}", 0.5, ["gift_question"])
    context = HintContext(product_sku="S", product_name="{count}{sku.__class__}")
    (hint,) = decide_hints(T0, windows, context, HintState(), rules)
    assert hint.text == "赠品：{count}{sku.__class__}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{product_name.__class__}", "attribute/index"),
        ("{stock[0]}", "attribute/index"),
        ("{}", "positional"),
        ("{0}", "positional"),
        ("{count!r}", "conversions"),
        ("{count:>10}", "format specs"),
        ("{nickname}", "unknown placeholder"),
        ("价格{", "placeholder syntax"),
        ("   ", "empty"),
    ],
)
def test_unsafe_templates_are_rejected_at_load(template: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HintRules.model_validate({"intents": {"price_objection": rule(templates=["ok", template])}})


def test_template_error_points_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "hints.yaml"
    path.write_text(
        "max_on_screen: 3\n"
        "intents:\n"
        "  price_objection:\n"
        "    threshold: 5\n"
        "    window_s: 60\n"
        "    priority: 1\n"
        "    cooldown_s: 180\n"
        "    expire_s: 90\n"
        "    templates:\n"
        "      - 价格{count}\n"
        "      - 价格{product_name.upper}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesInvalid) as caught:
        load_document(path, HintRules)
    (error,) = caught.value.errors
    assert (error.file, error.line) == ("hints.yaml", 11)
    assert "attribute/index" in error.message


@pytest.mark.parametrize(
    "bad", [{"window_s": 65}, {"priority": 4}, {"cooldown_s": 0}, {"templates": []}, {"typo": 1}]
)
def test_rule_fields_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HintRules.model_validate({"intents": {"shipping": rule(**bad)}})


def test_default_rules_cover_every_intent(hint_rules: HintRules) -> None:
    assert set(hint_rules.intents) == {
        "price_objection",
        "gift_question",
        "efficacy_doubt",
        "size_fit",
        "shipping",
        "after_sales",
        "quality_complaint",
        "want",
        "purchase_signal",
    }
    # Each intent can always speak: some template needs nothing but the count.
    windows = RoomWindows()
    for intent in hint_rules.intents:
        for i in range(20):
            windows.add_comment(T0, f"{intent}{i}", 0.5, [intent])
    big = hint_rules.model_copy(update={"max_on_screen": 10})
    fired = decide_hints(T0, windows, HintContext(), HintState(), big)
    assert {h.intent for h in fired} == set(hint_rules.intents)


event_strategy = st.lists(
    st.tuples(
        st.integers(0, 1_800_000),
        st.sampled_from(["price_objection", "shipping", "size_fit", "after_sales"]),
    ),
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(events=event_strategy, dismiss_every=st.integers(0, 5))
def test_cooldown_and_screen_budget_are_never_violated(
    hint_rules: HintRules, events: list[tuple[int, str]], dismiss_every: int
) -> None:
    windows, state = RoomWindows(), HintState()
    fired = []
    for n, (ms, intent) in enumerate(sorted(events)):
        at = T0 + timedelta(milliseconds=ms)
        windows.add_comment(at, f"u{n}", 0.5, [intent])
        new = decide_hints(at, windows, CONTEXT, state, hint_rules)
        fired += new
        assert len(state.on_screen) <= hint_rules.max_on_screen
        assert len({h.intent for h in state.on_screen}) == len(state.on_screen)
        for hint in new:
            rule_ = hint_rules.intents[hint.intent]
            assert windows.intent_count(at, hint.intent, rule_.window_s) >= rule_.threshold
        if dismiss_every and new and n % dismiss_every == 0:
            state.dismiss(new[0].id)
        state = HintState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    last: dict[str, object] = {}
    for hint in fired:
        previous = last.get(hint.intent)
        if previous is not None:
            gap = hint.created_at - previous  # type: ignore[operator]
            assert gap >= timedelta(seconds=hint_rules.intents[hint.intent].cooldown_s)
        last[hint.intent] = hint.created_at
    assert len({h.id for h in fired}) == len(fired)


def test_state_round_trips_through_json(hint_rules: HintRules) -> None:
    windows, state = RoomWindows(), HintState()
    for i in range(6):
        windows.add_comment(T0, f"u{i}", 0.5, ["price_objection"])
    decide_hints(T0, windows, CONTEXT, state, hint_rules)
    restored = HintState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert restored == state


def test_talking_points_follow_interest_in_the_last_15_minutes() -> None:
    windows = RoomWindows()
    run_of_show = ["SKU-A", "SKU-B", "SKU-C", "SKU-D"]
    old = T0
    for i in range(50):  # SKU-D was hot, but 20 minutes ago
        windows.add_comment(old, f"o{i}", 0.5, interest_skus=["SKU-D"])
    now = T0 + timedelta(minutes=20)
    for i in range(3):
        windows.add_comment(now, f"c{i}", 0.5, interest_skus=["SKU-C"])
    windows.add_comment(now, "b", 0.5, interest_skus=["SKU-B"])
    windows.add_comment(now, "spam", 0.5, is_spam=True, interest_skus=["SKU-A"] * 9)
    assert rank_talking_points(now, windows, run_of_show) == ["SKU-C", "SKU-B", "SKU-A", "SKU-D"]
    assert rank_talking_points(now, RoomWindows(), run_of_show) == run_of_show


# -- through the real analysis stage (lexicon.yaml, IntentMatcher, SpamFilter) ----------------


@pytest.fixture(scope="module")
def analysis() -> tuple[IntentMatcher, LexiconRules]:
    rules = LexiconRules.model_validate(
        yaml.safe_load((RULES_DIR / "lexicon.yaml").read_text(encoding="utf-8"))
    )
    return IntentMatcher(rules), rules


def run_stream(
    stream: list[tuple[int, str, str]],
    analysis: tuple[IntentMatcher, LexiconRules],
    hint_rules: HintRules,
) -> tuple[list[Hint], int]:
    """Feed (offset_ms, user, text) as the pipeline would; decide once a second."""
    matcher, lexicon = analysis
    spam_filter = SpamFilter(lexicon.spam)
    windows, state = RoomWindows(), HintState()
    fired: list[Hint] = []
    spam_with_intent = 0
    next_decision_ms = 0
    for ms, user, text in sorted(stream):
        at = T0 + timedelta(milliseconds=ms)
        is_spam = spam_filter.observe(user, normalize_text(text), ms / 1000)
        signals = matcher.match(text)
        spam_with_intent += bool(is_spam and signals.intents)
        windows.add_comment(
            at, user, None, signals.intents, signals.keywords, is_spam, signals.interest_skus
        )
        if ms >= next_decision_ms:
            fired += decide_hints(at, windows, CONTEXT, state, hint_rules)
            next_decision_ms = ms + 1000
    return fired, spam_with_intent


CHATTER = [
    "主播好",
    "来了来了",
    "哈哈哈哈",
    "666",
    "6666666",
    "好看",
    "[比心]",
    "晚上好",
    "打卡",
    "主播今天好漂亮",
    "这个颜色好看",
    "背景音乐是什么",
    "刚来",
    "主播声音好好听",
    "宝宝们晚上好",
]


def test_real_chit_chat_666_storm_and_one_angry_flooder_fire_nothing(
    analysis: tuple[IntentMatcher, LexiconRules], hint_rules: HintRules
) -> None:
    rng = random.Random(7)
    stream = [(ms, f"u{rng.randrange(500)}", rng.choice(CHATTER)) for ms in range(0, 600_000, 200)]
    stream += [(180_000 + i * 120, f"storm{i}", "666666") for i in range(40)]  # 666 storm
    # One viewer pasting 太贵了 twenty times in half a minute: one objection, the rest flood.
    stream += [(300_000 + i * 1_500, "angry", "太贵了太贵了") for i in range(20)]
    fired, spam_with_intent = run_stream(stream, analysis, hint_rules)
    assert fired == []
    assert spam_with_intent >= 15  # the flood was recognised as an intent and excluded


def test_real_price_objections_fire_one_hint(
    analysis: tuple[IntentMatcher, LexiconRules], hint_rules: HintRules
) -> None:
    objections = [
        "太贵了吧",
        "能不能便宜点",
        "有点贵啊",
        "再便宜点就买",
        "买不起",
        "别家更便宜",
        "价格太高了",
        "好贵",
        "这么贵谁买",
        "优惠一点呗",
    ]
    rng = random.Random(3)
    stream = [(ms, f"u{rng.randrange(500)}", rng.choice(CHATTER)) for ms in range(0, 120_000, 250)]
    stream += [(60_000 + i * 3_000, f"buyer{i}", text) for i, text in enumerate(objections)]
    fired, _ = run_stream(stream, analysis, hint_rules)
    assert [h.intent for h in fired] == ["price_objection"]
