"""Live-session simulator: realistic danmaku, a session event generator, a signed sender, and
(with an ops token) a link that lets the simulated audience react to rains and coupons."""
