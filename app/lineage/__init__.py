"""Lineage answers over what ingestion stored: the job–dataset graph (now and as of a past
time), blast radius, column lineage, run lineage, search and schema history.

Domain code only: it takes a Session and returns plain data; app.api.lineage exposes it.
"""
