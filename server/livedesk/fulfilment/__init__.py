"""Fulfilment: grants leave livedesk through a transactional outbox and signed webhooks."""
