"""OpenLineage ingestion: lenient validation, idempotent batch persistence, group commit."""
