"""Anti-abuse (羊毛党) signals: a claim that trips one is held for ops, with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from livedesk.rulebook.promotions import AbuseRules


@dataclass(frozen=True)
class ClaimSignals:
    account_age_s: float  # from the account's first sighting to the drop's start
    watch_s: int  # seconds in the room (enter/leave)
    linked_accounts: int  # platform accounts linked to this person
    burst_new_accounts: int  # new accounts claiming the same campaign in this batch
    is_new_account: bool
    recent_grants: int  # grants to this person in the room within the claim window


def abuse_reason(signals: ClaimSignals, rules: AbuseRules) -> str | None:
    """The first signal that trips, in words ops can act on (None: looks fine)."""
    if rules.new_account_minutes and signals.account_age_s < rules.new_account_minutes * 60:
        return f"新账号：活动开始前 {max(0, int(signals.account_age_s // 60))} 分钟内才出现"
    if rules.min_watch_s and signals.watch_s < rules.min_watch_s:
        return f"观看时长不足：{signals.watch_s} 秒"
    if rules.max_linked_accounts and signals.linked_accounts > rules.max_linked_accounts:
        return f"同一手机号/UnionID 关联 {signals.linked_accounts} 个账号"
    if (
        rules.burst_new_accounts
        and signals.is_new_account
        and signals.burst_new_accounts > rules.burst_new_accounts
    ):
        return f"新账号集中刷口令：同批 {signals.burst_new_accounts} 个"
    if rules.max_claims_per_window and signals.recent_grants >= rules.max_claims_per_window:
        return f"领取过于频繁：{rules.claim_window_s} 秒内已领 {signals.recent_grants} 次"
    return None
