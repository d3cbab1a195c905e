"""Durable store: ORM models, engine and session factories. Knows nothing of the layers above."""
