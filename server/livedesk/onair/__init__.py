"""When a room is on air: its sessions (开播 → 下播) and its rundown (排品), as records.

Below every domain that reads them (the review, the after-stream views, the overview); the
actions that start, end and advance them, with their live-channel messages, are livedesk.show.
"""
