"""Every router the service mounts. One line per feature area."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    # Imported here so that importing app.api does not drag every feature in.
    from app.api import health, ingest, reads

    routers = [health.router, ingest.router, reads.router]
    # Feature areas append their router imports below this line.
    from app.api import lineage  # before reads: its {dataset:path} would swallow .../versions
    routers.insert(routers.index(reads.router), lineage.router)
    from app.api import incidents  # incidents, silences, maintenance windows (issue 5)
    routers.append(incidents.router)
    from app.api import slos  # SLO definitions, status, history, OpenSLO export (issue 4)
    routers.append(slos.router)
    return routers
