"""What viewers say in a beauty/skincare room, by category: the phrases (most frequent
first), the contexts and affixes that vary them, the slot values, and each category's share of
all comments. simulator.danmaku draws from it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
class CategorySpec:
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


# A particle after a question that already ends in one reads wrong ("有吗呢").

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

SPECS: dict[Category, CategorySpec] = {
    Category.CHEER: CategorySpec(
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
    Category.GREETING: CategorySpec(
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
    Category.PURCHASE: CategorySpec(
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
    Category.PRICE: CategorySpec(
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
    Category.GIFT_QUESTION: CategorySpec(
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
    Category.EFFICACY: CategorySpec(
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
    Category.SIZE: CategorySpec(
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
    Category.SHIPPING: CategorySpec(
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
    Category.AFTER_SALES: CategorySpec(
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
    Category.INTEREST: CategorySpec(
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
    Category.PRAISE: CategorySpec(
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
    Category.NEGATIVE: CategorySpec(
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

CATEGORY_WEIGHTS: dict[Category, float] = {cat: spec.weight for cat, spec in SPECS.items()}
