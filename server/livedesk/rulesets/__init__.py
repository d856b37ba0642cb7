"""Rules sets over time: stored versions, applies, and the version each room runs under."""
