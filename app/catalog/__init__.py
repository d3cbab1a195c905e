"""The catalog: read-side queries behind the Marquez-shaped read API.

Each function takes a session and plain arguments and returns JSON-ready dicts, raising
`NotFound`/`InvalidInput` for the API's error handler. Lists cost a fixed number of
statements per page, whatever its size: rows of a page are loaded first, then everything
they show (namespaces, fields, edges, runs, dataset versions) in one batch per kind.
"""

from app.catalog.datasets import get_dataset, list_datasets
from app.catalog.events import list_events
from app.catalog.jobs import find_jobs, get_job, list_jobs
from app.catalog.namespaces import get_namespace, list_namespaces
from app.catalog.page import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.catalog.runs import RUN_STATES, get_run, list_runs

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "RUN_STATES",
    "Page",
    "find_jobs",
    "get_dataset",
    "get_job",
    "get_namespace",
    "get_run",
    "list_datasets",
    "list_events",
    "list_jobs",
    "list_namespaces",
    "list_runs",
]
