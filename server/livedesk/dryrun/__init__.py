"""Dry-runs: a recorded session replayed under candidate rules, touching no real room or money."""
