"""The show: ops start (开播) and end (下播) a room's session and run its rundown (排品);
each change is a live-channel message (`session`, `rundown`, and the `product` card)."""
