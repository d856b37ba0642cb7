"""Live-session simulator: realistic danmaku, a session event generator, a signed sender."""
