"""Graph, impact and node resolution over estates written straight into the tables."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput, NotFound
from app.lineage.graph import lineage_graph
from app.lineage.impact import impact
from app.lineage.nodes import resolve
from app.lineage.traverse import walk

from .rows import Estate, at


def _ids(graph: dict) -> list[str]:
    return [n["id"] for n in graph["graph"]]


def _node(graph: dict, node_id: str) -> dict:
    return next(n for n in graph["graph"] if n["id"] == node_id)


@pytest.fixture
def diamond(session):
    """a → j1 → b, c; b → j2 → d; c → j3 → d; d → j4 → e."""
    e = Estate(session)
    e.reads("j1", "a"); e.writes("j1", "b", "c")
    e.reads("j2", "b"); e.writes("j2", "d")
    e.reads("j3", "c"); e.writes("j3", "d")
    e.reads("j4", "d"); e.writes("j4", "e")
    session.commit()
    return e


def test_downstream_distances_count_edges_and_each_node_once(session, diamond):
    w = walk(session, direction="downstream", datasets=[diamond.ds["a"]], keep_edges=True)
    names = {v: k for k, v in diamond.ds.items()}
    assert {names[i]: d for i, d in w.datasets.items()} == {"a": 0, "b": 2, "c": 2, "d": 4, "e": 6}
    jobs = {v: k for k, v in diamond.jobs.items()}
    assert {jobs[i]: d for i, d in w.jobs.items()} == {"j1": 1, "j2": 3, "j3": 3, "j4": 5}
    assert len(w.edges) == 9 and not w.truncated


def test_upstream_is_the_mirror(session, diamond):
    w = walk(session, direction="upstream", datasets=[diamond.ds["e"]])
    assert set(w.datasets) == {diamond.ds[n] for n in "abcde"}
    assert w.datasets[diamond.ds["a"]] == 6


def test_max_hops_and_limit_truncate(session, diamond):
    w = walk(session, direction="downstream", datasets=[diamond.ds["a"]], max_hops=2)
    assert set(w.datasets) == {diamond.ds[n] for n in "abc"} and not w.truncated
    w = walk(session, direction="downstream", datasets=[diamond.ds["a"]], limit=4)
    assert w.size == 4 and w.truncated
    # Nearest first: a, j1, b, c fill the limit exactly; nothing beyond distance 2.
    assert max(w.datasets.values()) == 2


def test_marquez_shape(session, diamond):
    g = lineage_graph(session, "dataset:ns:d", depth=20)
    ids = _ids(g)
    assert ids == sorted(ids)
    assert set(ids) == {f"dataset:ns:{n}" for n in "abcde"} | {f"job:ns:j{i}" for i in range(1, 5)}
    d = _node(g, "dataset:ns:d")
    assert d["type"] == "DATASET"
    assert d["inEdges"] == [
        {"origin": "job:ns:j2", "destination": "dataset:ns:d"},
        {"origin": "job:ns:j3", "destination": "dataset:ns:d"},
    ]
    assert d["outEdges"] == [{"origin": "dataset:ns:d", "destination": "job:ns:j4"}]
    j1 = _node(g, "job:ns:j1")
    assert j1["type"] == "JOB"
    assert j1["data"]["inputs"] == [{"namespace": "ns", "name": "a"}]
    assert j1["data"]["outputs"] == [{"namespace": "ns", "name": "b"}, {"namespace": "ns", "name": "c"}]
    assert g["truncated"] is False


def test_both_is_ancestors_and_descendants_not_siblings(session, diamond):
    diamond.reads("sibling_job", "a")
    diamond.writes("sibling_job", "sibling")
    session.commit()
    g = lineage_graph(session, "dataset:ns:b", depth=20, direction="both")
    assert "dataset:ns:a" in _ids(g) and "dataset:ns:e" in _ids(g)
    assert "dataset:ns:sibling" not in _ids(g) and "dataset:ns:c" not in _ids(g)
    down = lineage_graph(session, "dataset:ns:b", direction="downstream")
    assert "dataset:ns:a" not in _ids(down)


def test_depth_counts_jobs(session, diamond):
    g = lineage_graph(session, "dataset:ns:a", depth=1, direction="downstream")
    assert set(_ids(g)) == {"dataset:ns:a", "job:ns:j1", "dataset:ns:b", "dataset:ns:c"}
    g = lineage_graph(session, "job:ns:j1", depth=0, direction="downstream")
    assert set(_ids(g)) == {"job:ns:j1", "dataset:ns:b", "dataset:ns:c"}
    g = lineage_graph(session, "job:ns:j1", depth=1, direction="downstream")
    assert "job:ns:j2" in _ids(g) and "dataset:ns:d" in _ids(g) and "job:ns:j4" not in _ids(g)


def test_truncated_graph_has_no_dangling_edges(session, diamond):
    g = lineage_graph(session, "dataset:ns:a", limit=3, direction="downstream")
    assert g["truncated"] is True and len(g["graph"]) == 3
    present = set(_ids(g))
    for node in g["graph"]:
        for edge in node["inEdges"] + node["outEdges"]:
            assert edge["origin"] in present and edge["destination"] in present


def test_cycle_through_different_jobs_terminates(session):
    e = Estate(session)
    e.reads("forward", "x"); e.writes("forward", "y")
    e.reads("backward", "y"); e.writes("backward", "x")
    session.commit()
    w = walk(session, direction="both", datasets=[e.ds["x"]])
    assert set(w.datasets) == {e.ds["x"], e.ds["y"]} and set(w.jobs) == set(e.jobs.values())
    result = impact(session, "dataset:ns:x")
    assert [n["id"] for n in result["nodes"]] == ["job:ns:forward", "dataset:ns:y", "job:ns:backward"]


def test_graph_at_a_past_time(session):
    e = Estate(session)
    e.reads("j", "src")
    e.writes("j", "old", since=0, until=10)
    e.writes("j", "new", since=10)
    session.commit()
    now = _ids(lineage_graph(session, "job:ns:j"))
    assert "dataset:ns:new" in now and "dataset:ns:old" not in now
    before = lineage_graph(session, "job:ns:j", at=at(5))
    assert "dataset:ns:old" in _ids(before) and "dataset:ns:new" not in _ids(before)
    assert _node(before, "job:ns:j")["data"]["outputs"] == [{"namespace": "ns", "name": "old"}]
    # valid_to is exclusive: at the closing instant the new edge holds.
    assert "dataset:ns:new" in _ids(lineage_graph(session, "job:ns:j", at=at(10)))
    assert lineage_graph(session, "job:ns:j", at=at(-1))["graph"][0]["outEdges"] == []


def test_node_ids_with_colons_and_symlinks(session):
    e = Estate(session)
    e.dataset("db.public.orders", namespace="postgres://host:5432")
    e.dataset("a:b", namespace="weird")
    e.symlink("db.public.orders", "hive://metastore:9083", "sales.orders")
    session.commit()
    node = resolve(session, "dataset:postgres://host:5432:db.public.orders")
    assert (node.namespace, node.name) == ("postgres://host:5432", "db.public.orders")
    assert resolve(session, "dataset:weird:a:b").name == "a:b"
    alias = resolve(session, "dataset:hive://metastore:9083:sales.orders")
    assert alias.id == node.id and alias.node_id == "dataset:postgres://host:5432:db.public.orders"
    field = resolve(session, "datasetField:hive://metastore:9083:sales.orders:amount")
    assert (field.id, field.field) == (node.id, "amount")


@pytest.mark.parametrize("bad", ["", "dataset", "table:ns:x", "dataset:", "job:"])
def test_malformed_node_ids(session, bad):
    with pytest.raises(InvalidInput):
        resolve(session, bad)


def test_unknown_node(session, diamond):
    with pytest.raises(NotFound):
        lineage_graph(session, "dataset:ns:nope")
    with pytest.raises(NotFound):
        lineage_graph(session, "run:00000000-0000-0000-0000-000000000000")


def test_bad_parameters(session, diamond):
    with pytest.raises(InvalidInput):
        lineage_graph(session, "dataset:ns:a", direction="sideways")
    with pytest.raises(InvalidInput):
        lineage_graph(session, "dataset:ns:a", depth=-1)
    with pytest.raises(InvalidInput):
        lineage_graph(session, "dataset:ns:a", limit=0)


def test_parent_job_starts_from_its_children(session):
    e = Estate(session)
    dag = e.job("dag")
    e.job("dag.task", parent_job_id=dag)
    e.reads("dag.task", "in_table"); e.writes("dag.task", "out_table")
    session.commit()
    g = lineage_graph(session, "job:ns:dag")
    assert set(_ids(g)) == {"job:ns:dag", "job:ns:dag.task", "dataset:ns:in_table", "dataset:ns:out_table"}
    assert _node(g, "job:ns:dag")["inEdges"] == [] and _node(g, "job:ns:dag")["outEdges"] == []
    assert _node(g, "job:ns:dag")["data"]["childJobs"] == ["job:ns:dag.task"]
    assert _node(g, "job:ns:dag.task")["data"]["parentJob"] == "job:ns:dag"


def test_impact_reports_owners_states_and_rolls_up(session, diamond):
    from app.store.models import Dataset, Job

    session.get(Dataset, diamond.ds["e"]).owners = [{"name": "team:finance", "type": "TEAM"}]
    j4 = session.get(Job, diamond.jobs["j4"])
    j4.latest_run_state, j4.owners = "FAILED", [{"name": "team:finance"}]
    session.commit()
    result = impact(session, "dataset:ns:b")
    assert [(n["id"], n["distance"]) for n in result["nodes"]] == [
        ("job:ns:j2", 1), ("dataset:ns:d", 2), ("job:ns:j4", 3), ("dataset:ns:e", 4)
    ]
    e_entry = result["nodes"][-1]
    assert e_entry["lastRunState"] == "FAILED" and e_entry["owners"][0]["name"] == "team:finance"
    assert result["summary"]["owners"] == [{"name": "team:finance", "nodes": 2}]
    assert result["summary"]["failing"] == 2 and result["summary"]["datasets"] == 2
    up = impact(session, "dataset:ns:d", direction="upstream")
    assert {n["id"] for n in up["nodes"]} == {
        "job:ns:j2", "job:ns:j3", "dataset:ns:b", "dataset:ns:c", "job:ns:j1", "dataset:ns:a"}
    page = impact(session, "dataset:ns:a", limit=2, offset=1)
    assert [n["id"] for n in page["nodes"]] == ["dataset:ns:b", "dataset:ns:c"]
    assert page["totalCount"] == 8 and not page["truncated"]
    assert page["summary"] == impact(session, "dataset:ns:a")["summary"]
