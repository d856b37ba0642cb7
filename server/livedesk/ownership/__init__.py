"""Room ownership: one pipeline process at a time holds each room, under a lease."""
