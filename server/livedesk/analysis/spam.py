"""Per-room spam and flood detection for danmaku, in bounded memory.

A comment flagged here still counts as activity (comment rate, the comment stream) but never
toward intents, so a 666 flood or a copy-paste storm cannot fire a hint.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from livedesk.analysis.normalize import normalize_text
from livedesk.rulebook.lexicon import SpamRules

# Texts remembered per user for the repeat rule; older ones are forgotten first.
_RECENT_TEXTS_PER_USER = 16


@dataclass
class _UserState:
    times_s: deque[float]
    recent: OrderedDict[str, float] = field(default_factory=OrderedDict)  # text → last seen


class SpamFilter:
    """One per room. `observe` is called once per comment, in arrival order.

    Rules (thresholds from lexicon.yaml's `spam:` section):
    - a spam pattern (ads, contact details, links) matches;
    - the same user sends the same text again within `repeat_window_s`;
    - the same user sends more than `burst_max_comments` within `burst_window_s`;
    - `storm_min_users` different users send the same text within `storm_window_s` (the first
      ones count; from the one that completes the storm on, it is flood), unless exempt.
    Users and texts are tracked in LRU maps bounded by `max_tracked_users` / `max_tracked_texts`.
    """

    def __init__(self, rules: SpamRules):
        self.rules = rules
        self._pattern = (
            re.compile("|".join(f"(?:{p})" for p in rules.patterns)) if rules.patterns else None
        )
        self._storm_exempt = frozenset(normalize_text(text) for text in rules.storm_exempt)
        self._users: OrderedDict[str, _UserState] = OrderedDict()
        self._texts: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()

    def observe(self, user_id: str, normalized_text: str, at_s: float) -> bool:
        """Record one comment (text already normalised, `at_s` a monotonic time in seconds);
        True when it is spam or flood."""
        rules = self.rules
        user = self._user(user_id)
        # Every rule records its state even once another has fired, so a continuing flood
        # keeps being recognised.
        spam = self._pattern is not None and self._pattern.search(normalized_text) is not None

        times = user.times_s
        while times and times[0] < at_s - rules.burst_window_s:
            times.popleft()
        times.append(at_s)
        spam |= len(times) > rules.burst_max_comments

        last_s = user.recent.pop(normalized_text, None)
        spam |= last_s is not None and at_s - last_s <= rules.repeat_window_s
        user.recent[normalized_text] = at_s
        if len(user.recent) > _RECENT_TEXTS_PER_USER:
            user.recent.popitem(last=False)

        if normalized_text and normalized_text not in self._storm_exempt:
            spam |= self._storm(user_id, normalized_text, at_s)
        return spam

    def _user(self, user_id: str) -> _UserState:
        user = self._users.get(user_id)
        if user is None:
            # One more than the limit is all the burst rule needs to see.
            user = _UserState(deque(maxlen=self.rules.burst_max_comments + 1))
            self._users[user_id] = user
            if len(self._users) > self.rules.max_tracked_users:
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_id)
        return user

    def _storm(self, user_id: str, text: str, at_s: float) -> bool:
        rules = self.rules
        seen = self._texts.get(text)
        if seen is None:
            seen = deque(maxlen=4 * rules.storm_min_users)
            self._texts[text] = seen
            if len(self._texts) > rules.max_tracked_texts:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(text)
        while seen and seen[0][0] < at_s - rules.storm_window_s:
            seen.popleft()
        seen.append((at_s, user_id))
        return len({user for _, user in seen}) >= rules.storm_min_users
