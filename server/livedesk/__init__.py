"""livedesk: a real-time control desk for live-stream commerce."""
