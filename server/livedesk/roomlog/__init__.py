"""The per-room log: every message a panel sees, with a gapless seq and the room's epoch.

Below every domain that decides (cues, promotions, rooms) and above `core` only: it knows
messages, seqs, epochs and the snapshot fold, nothing about what a room is.
"""
