"""app.store.rowsets: one statement per table means the same on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.store.models import Dataset, DatasetVersion, Job, Namespace, Run
from app.store.rowsets import insert_rows, update_rows

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def job_id(session) -> int:
    (ns,) = insert_rows(session, Namespace, [{"name": "ns"}], returning=["id"])
    (job,) = insert_rows(session, Job, [{"namespace_id": ns.id, "name": "j", "owners": [], "tags": [],
                                         "facets": {}}], returning=["id"])
    return job.id


def test_python_defaults_fill_what_rows_leave_out_and_returning_lists_only_new_rows(session):
    before = datetime.now(UTC)
    first = insert_rows(session, Namespace, [{"name": "a"}, {"name": "b"}], conflict=["name"],
                        returning=["name"])
    again = insert_rows(session, Namespace, [{"name": "b"}, {"name": "c"}], conflict=["name"],
                        returning=["name"])
    assert sorted(r.name for r in first) == ["a", "b"]
    assert [r.name for r in again] == ["c"]  # b existed: skipped, not returned
    rows = session.execute(select(Namespace.name, Namespace.created_at).order_by(Namespace.name)).all()
    assert [r.name for r in rows] == ["a", "b", "c"]
    assert all(before - timedelta(seconds=5) <= r.created_at <= datetime.now(UTC) for r in rows)


def test_upsert_overwrites_and_coalesces_like_the_orm_statements(session, job_id):
    (run,) = insert_rows(session, Run, [{"run_uuid": "r1", "job_id": job_id, "state": "NEW", "facets": {},
                                         "facet_times": {}, "created_at": T0, "updated_at": T0}],
                         returning=["id"])
    (ns_id,) = session.scalars(select(Namespace.id)).all()
    (ds,) = insert_rows(session, Dataset, [{"namespace_id": ns_id, "name": "d", "owners": [], "tags": [],
                                            "facets": {}}], returning=["id"])
    version = {"dataset_id": ds.id, "run_id": run.id, "event_time": T0, "row_count": 10, "byte_size": None,
               "file_count": None, "fields": [{"name": "id", "type": "int"}], "lifecycle_state": None,
               "created_at": T0}
    coalesce = ("row_count", "byte_size", "file_count", "fields", "lifecycle_state")
    insert_rows(session, DatasetVersion, [version], conflict=("dataset_id", "run_id"), coalesce=coalesce)
    # A later event without row count or schema keeps them; a new size is taken.
    insert_rows(session, DatasetVersion, [{**version, "row_count": None, "fields": None, "byte_size": 99}],
                conflict=("dataset_id", "run_id"), coalesce=coalesce)
    stored = session.execute(select(DatasetVersion)).scalar_one()
    assert (stored.row_count, stored.byte_size, stored.fields) == (10, 99, [{"name": "id", "type": "int"}])
    assert stored.event_time == T0 and stored.lifecycle_state is None


def test_update_rows_sets_each_row_to_its_own_values(session, job_id):
    insert_rows(session, Run, [{"run_uuid": u, "job_id": job_id, "state": "NEW", "facets": {}, "facet_times": {},
                                "created_at": T0, "updated_at": T0} for u in ("r1", "r2")])
    ids = dict(session.execute(select(Run.run_uuid, Run.id)).all())
    update_rows(session, Run, [
        {"id": ids["r1"], "state": "COMPLETED", "ended_at": T0 + timedelta(minutes=1), "facets": {"a": {"b": 1}}},
        {"id": ids["r2"], "state": "FAILED", "ended_at": None, "facets": {}},
    ])
    session.expire_all()
    got = {r.run_uuid: (r.state, r.ended_at, r.facets) for r in session.scalars(select(Run))}
    assert got == {"r1": ("COMPLETED", T0 + timedelta(minutes=1), {"a": {"b": 1}}), "r2": ("FAILED", None, {})}


def test_an_over_long_string_fails_as_it_would_have_rather_than_being_cut(session, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    with pytest.raises(Exception, match="too long"):
        insert_rows(session, Run, [{"run_uuid": "x" * 37, "job_id": 1, "state": "NEW", "facets": {},
                                    "facet_times": {}, "created_at": T0, "updated_at": T0}])
