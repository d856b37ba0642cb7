"""Who is in a simulated room: nicknames, and the known customers of a CRM file."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from livedesk.core.settings import Settings

# --- nicknames: a few classics, many composed, some platform defaults ("用户3829104756") ---

_NICKNAMES = (
    "小美",
    "王姐",
    "爱买买的猫",
    "阿琳",
    "甜甜圈",
    "芒果不甜",
    "一颗柠檬",
    "护肤小白",
    "佳佳妈",
    "奶茶续命",
    "早睡早起",
    "小仙女",
    "糖糖",
    "晴天",
    "木子李",
    "快乐星球",
    "momo",
    "Lily",
    "阿紫",
    "小鹿乱撞",
    "月亮不睡我不睡",
    "橘子汽水",
    "不吃香菜",
    "干饭人",
    "岁岁平安",
    "Amy",
    "桃桃乌龙",
    "一只小可爱",
    "追光的人",
    "安安妈妈",
    "cici",
    "花花",
    "大眼睛",
    "江南烟雨",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
_GIVEN = "美雪琳丽芳婷静敏燕玲娜倩红霞佳欣悦萌"
_KIN = ("姐", "姐姐", "妹妹", "阿姨", "宝妈", "女士")
# What a brand's CRM calls its members: the host says these on stream.
_MEMBER_TITLES = ("姐", "姐", "女士", "女士", "阿姨", "妹妹", "老师", "哥")
_LIKES = ("买买", "吃鱼", "睡觉", "护肤", "追剧", "旅行", "喝奶茶", "囤货", "化妆")
_ANIMALS = ("猫", "兔子", "小熊", "狐狸", "考拉", "小猪", "鲸鱼", "小鹿")
_MOODS = ("可爱", "快乐", "温柔", "安静", "爱笑", "认真", "迷糊", "元气")
_THINGS = ("西瓜", "云朵", "星星", "月亮", "小太阳", "棉花糖", "草莓", "向日葵")


def random_nickname(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.25:
        return rng.choice(_NICKNAMES)
    if draw < 0.40:
        return rng.choice(_SURNAMES) + rng.choice(_KIN)
    if draw < 0.52:
        return "小" + rng.choice(_GIVEN)
    if draw < 0.66:
        return f"爱{rng.choice(_LIKES)}的{rng.choice(_ANIMALS)}"
    if draw < 0.78:
        return f"{rng.choice(_MOODS)}的{rng.choice(_THINGS)}"
    if draw < 0.90:
        return f"用户{rng.randrange(10**9, 10**10)}"
    return f"{rng.choice(_NICKNAMES)}{rng.randrange(1, 10_000):04d}"


def member_nickname(rng: random.Random) -> str:
    """A name as a brand's CRM keeps it: 陈姐, 李女士, 小雪, or the member's own handle."""
    draw = rng.random()
    if draw < 0.5:
        return rng.choice(_SURNAMES) + rng.choice(_MEMBER_TITLES)
    if draw < 0.7:
        return "小" + rng.choice(_GIVEN)
    nickname = random_nickname(rng)
    return nickname if not nickname.startswith("用户") else rng.choice(_NICKNAMES)


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """A known customer from the CRM file; returns to the room under a new platform id."""

    nickname: str
    union_id: str | None = None
    phone_hash: str | None = None
    platform_user_id: str | None = None
    # The platform of `platform_user_id` (None: not said, taken as the room's own).
    platform: str | None = None


def load_demo_customers(path: Path) -> list[DemoCustomer]:
    """One `DemoCustomer` per member of a CRM import file; [] when the file does not exist.

    Only nickname / union_id / phone_hash / platform + platform_user_id are read; a member
    spans several rows (identities, order lines), so the first non-empty value of each column
    wins (the platform is the one of the first account).
    """
    if not path.is_file():
        return []
    merged: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            values = {key: (row.get(key) or "").strip() for key in _CUSTOMER_COLUMNS}
            member = (row.get("member_id") or "").strip() or next(
                (values[key] for key in _IDENTITY_COLUMNS if values[key]), ""
            )
            if not member:
                continue
            known = merged.setdefault(member, {})
            if values["platform_user_id"] and not known.get("platform_user_id"):
                known["platform"] = (row.get("platform") or "").strip()
            for key, value in values.items():
                if value and not known.get(key):
                    known[key] = value
    return [
        DemoCustomer(
            nickname=known.get("nickname") or "老顾客",
            union_id=known.get("union_id"),
            phone_hash=known.get("phone_hash"),
            platform_user_id=known.get("platform_user_id"),
            platform=known.get("platform") or None,
        )
        for known in merged.values()
        if any(known.get(key) for key in _IDENTITY_COLUMNS)
    ]


def default_customers_file() -> Path:
    """`<LIVEDESK_RULES_DIR>/examples/crm_customers.csv`: the demo's customer base."""
    return Settings().rules_dir / "examples" / "crm_customers.csv"


_IDENTITY_COLUMNS = ("union_id", "phone_hash", "platform_user_id")
_CUSTOMER_COLUMNS = ("nickname", *_IDENTITY_COLUMNS)
