"""A weighted distribution of live-commerce danmaku for a beauty/skincare room.

Shaped like a real room: a few cheap texts (666, 已拍, 主播好) repeat endlessly, while questions
and complaints come in many small variations (a prefix, a skin type, a city, an emoji). Within a
category the phrases are Zipf-weighted, so over a few thousand comments 20–60 % are exact
duplicates of an earlier one (MEASURED.md), which is what the analysis caches are sized for.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

ZIPF_EXPONENT = 1.1


class Category(StrEnum):
    GREETING = "greeting"
    CHEER = "cheer"  # 666 / 哈哈哈 / emoji spam
    PURCHASE = "purchase"
    PRICE = "price"
    GIFT_QUESTION = "gift_question"
    EFFICACY = "efficacy"
    SIZE = "size"
    SHIPPING = "shipping"
    AFTER_SALES = "after_sales"
    INTEREST = "interest"
    PRAISE = "praise"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class Danmaku:
    text: str
    category: Category


@dataclass(frozen=True, slots=True)
class _CategorySpec:
    weight: float  # share of all comments, before any boost
    phrases: tuple[str, ...]  # most frequent first: Zipf weights follow the order
    vary_share: float  # how often a prefix/suffix is added
    context_share: float = 0.0  # how often one of `contexts` leads
    contexts: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()


_QUESTION_PREFIXES = ("主播", "主播主播", "请问", "问一下", "姐姐", "宝宝", "家人们")
_QUESTION_SUFFIXES = ("？", "？？", "?", "？？？", "呀", "啊", "🙏", "😭", "[捂脸]")
_EXCLAIM_SUFFIXES = ("！", "！！", "~", "啊", "呀", "哈哈", "🔥", "❤️", "👍", "🥰")
_SAD_SUFFIXES = ("！", "！！！", "😅", "😡", "🙄", "。。。", "真的", "服了")

# Said before a question or a verdict ("我是干皮，…"); what makes most real questions unique.
_SKIN_CONTEXTS = (
    "我是{skin}",
    "{age}岁了",
    "{age}岁{skin}",
    "我{skin}",
    "刚生完宝宝",
    "经常熬夜",
    "天天化妆",
    "学生党",
    "脸上有痘印",
    "毛孔粗大",
    "脸有点黄",
    "换季脸干",
    "T区出油",
    "{age}岁了有细纹",
    "皮肤屏障受损过",
    "用过好多{product}",
)
_BUYER_CONTEXTS = (
    "上次买了{product}",
    "老粉了",
    "买过{n}次了",
    "{n}号拍的",
    "前天拍的{product}",
    "上个月买的",
    "第一次买",
    "给我妈买的",
)
_PLACE_CONTEXTS = ("在{city}", "{city}的", "我在{city}", "寄{city}")

_SPAM_TOKENS = ("6", "6", "6", "哈", "哈", "🔥", "❤️", "👍", "1", "冲", "啊")
_SPAM_RUN_SHARE = 0.3

# A particle after a question that already ends in one reads wrong ("有吗呢").
_QUESTION_ENDINGS = ("吗", "呢", "么", "吧")
_PARTICLES = frozenset({"呀", "啊", "呢", "哈哈", "真的", "服了"})

# Slot values, filled per draw; each is part of why the long tail is long.
SLOTS: dict[str, tuple[str, ...]] = {
    "product": ("精华", "面霜", "面膜", "美白精华", "抗老精华", "精华水", "水乳", "眼霜"),
    "skin": ("敏感肌", "干皮", "油皮", "混油皮", "混干皮", "痘肌", "黄黑皮"),
    "age": tuple(str(age) for age in range(18, 56)),
    "price": ("99", "129", "139", "159", "169", "179", "189", "199", "219", "239", "259"),
    "ml": ("15", "30", "50", "75", "100", "120"),
    "n": ("1", "2", "3", "4", "5", "6"),
    "city": (
        "北京",
        "上海",
        "广州",
        "深圳",
        "成都",
        "重庆",
        "杭州",
        "武汉",
        "长沙",
        "西安",
        "南京",
        "苏州",
        "郑州",
        "青岛",
        "沈阳",
        "哈尔滨",
        "昆明",
        "新疆",
        "西藏",
        "内蒙古",
        "海南",
        "东北",
    ),
    "days": ("3", "5", "7", "10", "15"),
}

_SPECS: dict[Category, _CategorySpec] = {
    Category.CHEER: _CategorySpec(
        weight=18,
        phrases=(
            "666",
            "哈哈哈",
            "🔥🔥🔥",
            "❤️❤️❤️",
            "666666",
            "👍👍",
            "哈哈哈哈哈",
            "扣1",
            "1",
            "冲冲冲",
            "支持主播",
            "好好好",
            "🔥",
            "❤️",
            "6666666666",
            "哈哈哈哈哈哈哈哈",
            "👏👏👏",
            "来了",
            "🌹🌹",
            "笑死",
        ),
        vary_share=0.05,
        suffixes=("🔥", "❤️", "👍", "哈哈"),
    ),
    Category.GREETING: _CategorySpec(
        weight=11,
        phrases=(
            "主播好",
            "来了来了",
            "晚上好",
            "我来了",
            "姐妹们好",
            "打卡",
            "又来了",
            "{city}的来报到",
            "刚下班来了",
            "第一次来",
            "主播晚上好",
            "每天都来",
            "{city}姐妹报到",
            "来晚了",
        ),
        vary_share=0.25,
        context_share=0.15,
        contexts=_PLACE_CONTEXTS,
        suffixes=_EXCLAIM_SUFFIXES,
    ),
    Category.PURCHASE: _CategorySpec(
        weight=9,
        phrases=(
            "已拍",
            "拍了拍了",
            "下单了",
            "已拍+1",
            "抢到了",
            "拍了",
            "已拍{n}单",
            "冲了",
            "拍了{product}",
            "给我妈也拍了一套",
            "已下单，等发货",
            "拍了{n}件",
        ),
        vary_share=0.2,
        context_share=0.12,
        contexts=(*_PLACE_CONTEXTS, "老粉了", "第一次买"),
        suffixes=_EXCLAIM_SUFFIXES,
    ),
    Category.PRICE: _CategorySpec(
        weight=8,
        phrases=(
            "太贵了",
            "能便宜点吗",
            "上次才{price}",
            "有优惠券吗",
            "{product}多少钱",
            "别家才{price}",
            "价格能再美丽点吗",
            "双十一都比这便宜",
            "学生党买不起",
            "还能再降吗",
            "{price}能拍吗",
            "有没有满减",
        ),
        vary_share=0.45,
        context_share=0.45,
        contexts=(*_BUYER_CONTEXTS, "学生党", "宝妈", "{age}岁了"),
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.GIFT_QUESTION: _CategorySpec(
        weight=4,
        phrases=(
            "有赠品吗",
            "送小样吗",
            "赠品是什么",
            "买{n}送几",
            "拍两件送什么",
            "送的{product}是正装吗",
            "赠品和正品一起发吗",
        ),
        vary_share=0.45,
        context_share=0.4,
        contexts=_BUYER_CONTEXTS,
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.EFFICACY: _CategorySpec(
        weight=8,
        phrases=(
            "真的有用吗",
            "敏感肌能用吗",
            "{skin}能用吗",
            "{age}岁用合适吗",
            "用多久能见效",
            "会不会过敏",
            "孕妇能用吗",
            "会闷痘吗",
            "{skin}用{product}会不会搓泥",
            "{age}岁{skin}用哪个",
            "{product}和{product}能一起用吗",
            "男生能用吗",
        ),
        vary_share=0.5,
        context_share=0.7,
        contexts=_SKIN_CONTEXTS,
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.SIZE: _CategorySpec(
        weight=4,
        phrases=(
            "多少毫升",
            "{product}多少毫升",
            "是{ml}ml的吗",
            "一瓶能用多久",
            "正装还是中样",
            "{product}是{ml}ml吗",
        ),
        vary_share=0.45,
        context_share=0.4,
        contexts=_SKIN_CONTEXTS[-4:] + _BUYER_CONTEXTS[:3],
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.SHIPPING: _CategorySpec(
        weight=5,
        phrases=(
            "什么时候发货",
            "包邮吗",
            "{city}包邮吗",
            "几天能到",
            "发什么快递",
            "能发顺丰吗",
            "今天拍什么时候发",
            "{city}几天能到",
        ),
        vary_share=0.45,
        context_share=0.55,
        contexts=_PLACE_CONTEXTS + _BUYER_CONTEXTS[3:6],
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.AFTER_SALES: _CategorySpec(
        weight=3,
        phrases=(
            "上次买的漏液了",
            "客服不回消息",
            "假货吧",
            "快递{days}天了还没到",
            "退款怎么还没到账",
            "包装破了",
            "上次买的{product}过敏了找谁",
            "收到的{product}是空瓶",
            "申请退货{days}天了没人理",
            "少发了一件",
        ),
        vary_share=0.5,
        context_share=0.6,
        contexts=_BUYER_CONTEXTS,
        prefixes=("主播", "客服", "有人管吗，", "我"),
        suffixes=_SAD_SUFFIXES,
    ),
    Category.INTEREST: _CategorySpec(
        weight=12,
        phrases=(
            "想要美白的",
            "抗老精华还有吗",
            "保湿怎么样",
            "上{product}链接",
            "{product}还有吗",
            "几号链接",
            "想要{product}",
            "{n}号链接是什么",
            "求{product}",
            "{skin}适合哪款",
            "有没有祛痘的",
            "讲讲{product}",
            "{product}再讲一遍",
            "想要补水的",
        ),
        vary_share=0.4,
        context_share=0.55,
        contexts=_SKIN_CONTEXTS,
        prefixes=_QUESTION_PREFIXES,
        suffixes=_QUESTION_SUFFIXES,
    ),
    Category.PRAISE: _CategorySpec(
        weight=8,
        phrases=(
            "绝绝子",
            "yyds",
            "用了一个月皮肤变好了",
            "回购第三次了",
            "主播好美",
            "{product}真的好用",
            "皮肤好好",
            "爱了爱了",
            "已经回购{n}次了",
            "我妈也在用",
            "用完{product}脸滑滑的",
            "{skin}用着很舒服",
            "用了{days}天就有效果",
        ),
        vary_share=0.35,
        context_share=0.5,
        contexts=_BUYER_CONTEXTS[:3] + _SKIN_CONTEXTS[:5],
        suffixes=_EXCLAIM_SUFFIXES,
    ),
    Category.NEGATIVE: _CategorySpec(
        weight=4,
        phrases=(
            "无语",
            "踩雷了",
            "智商税",
            "翻车了",
            "骗人的吧",
            "没效果",
            "用了烂脸",
            "又涨价了",
            "不如某宝",
            "主播只会念稿",
            "{product}用了{days}天没感觉",
        ),
        vary_share=0.4,
        context_share=0.45,
        contexts=_BUYER_CONTEXTS[:6],
        suffixes=_SAD_SUFFIXES,
    ),
}

CATEGORY_WEIGHTS: dict[Category, float] = {cat: spec.weight for cat, spec in _SPECS.items()}


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


@dataclass(frozen=True, slots=True)
class _Prepared:
    category: Category
    spec: _CategorySpec
    cum_weights: list[float]  # Zipf over the phrases


def _prepare(category: Category, spec: _CategorySpec) -> _Prepared:
    zipf = (1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, len(spec.phrases) + 1))
    return _Prepared(category, spec, _cumulative(zipf))


_PREPARED: dict[Category, _Prepared] = {cat: _prepare(cat, spec) for cat, spec in _SPECS.items()}


class DanmakuSampler:
    """Draws danmaku with the category mix scaled by `boost` (e.g. more price talk in a flash sale).

    Build once per mix and reuse: the cumulative weights are computed here, not per draw.
    """

    def __init__(self, boost: Mapping[Category, float] | None = None) -> None:
        boost = boost or {}
        self.weights: dict[Category, float] = {
            cat: weight * boost.get(cat, 1.0) for cat, weight in CATEGORY_WEIGHTS.items()
        }
        self._categories = list(self.weights)
        self._cum = _cumulative(self.weights.values())

    def share(self, category: Category) -> float:
        """The expected share of `category` among drawn comments."""
        return self.weights[category] / self._cum[-1]

    def sample(self, rng: random.Random, category: Category | None = None) -> Danmaku:
        if category is None:
            index = bisect.bisect_right(self._cum, rng.random() * self._cum[-1])
            category = self._categories[min(index, len(self._categories) - 1)]
        prepared = _PREPARED[category]
        spec = prepared.spec
        if category is Category.CHEER and rng.random() < _SPAM_RUN_SHARE:
            # Mashed keys: "66666666", "哈哈哈哈"; the length is what varies.
            return Danmaku(_pick(rng, _SPAM_TOKENS) * rng.randint(2, 14), category)
        phrase = rng.choices(spec.phrases, cum_weights=prepared.cum_weights)[0]
        text = _fill_slots(rng, phrase)
        if spec.contexts and rng.random() < spec.context_share:
            text = _fill_slots(rng, _pick(rng, spec.contexts)) + "，" + text
        if rng.random() < spec.vary_share:
            text = _vary(rng, text, spec)
        return Danmaku(text=text, category=category)


def _fill_slots(rng: random.Random, phrase: str) -> str:
    if "{" not in phrase:
        return phrase
    # Each slot drawn independently, so "{product}和{product}" names two products.
    parts = phrase.split("{")
    out = [parts[0]]
    for part in parts[1:]:
        name, _, rest = part.partition("}")
        out.append(_pick(rng, SLOTS[name]) + rest)
    return "".join(out)


def _vary(rng: random.Random, text: str, spec: _CategorySpec) -> str:
    if spec.prefixes and rng.random() < 0.5:
        prefix = _pick(rng, spec.prefixes)
        comma = "，" if not prefix.endswith("，") and rng.random() < 0.5 else ""
        text = prefix + comma + text
    if spec.suffixes:
        suffix = _pick(rng, spec.suffixes)
        if suffix in _PARTICLES and text.endswith(_QUESTION_ENDINGS):
            suffix = "？"
        text += suffix
    return text


DEFAULT_SAMPLER = DanmakuSampler()


def sample_danmaku(rng: random.Random) -> Danmaku:
    """One comment and the category it was drawn from, with the baseline mix."""
    return DEFAULT_SAMPLER.sample(rng)


def sample_comment(rng: random.Random) -> str:
    """One comment's text, with the baseline mix."""
    return DEFAULT_SAMPLER.sample(rng).text


def duplicate_share(texts: Iterable[str]) -> float:
    """The share of texts that exactly repeat an earlier one (0.0 for no texts)."""
    seen: set[str] = set()
    total = repeats = 0
    for text in texts:
        total += 1
        if text in seen:
            repeats += 1
        else:
            seen.add(text)
    return repeats / total if total else 0.0
