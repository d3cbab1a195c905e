"""Summarise py-spy `--format raw --threads --idle` output (collapsed stacks).

For each thread: its share of samples, the functions of `app/` by inclusive time and the
hottest leaf functions (self time). `python -m bench.profile FILE` prints the summary.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _key(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("/site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file})"


def _thread_label(frames: list[str]) -> tuple[str, list[str]]:
    for i, f in enumerate(frames):
        if f.startswith(("thread ", 'thread "')):
            return f, frames[i + 1 :]
    return "?", frames


def _category(leaf: str) -> str:
    if "psycopg" in leaf and ("wait" in leaf.split(" (")[0].lower() or "_communicate" in leaf or "_fetch" in leaf):
        return "db wait"
    if "psycopg" in leaf:
        return "psycopg"
    if "sqlite3" in leaf:
        return "sqlite"
    if "(sqlalchemy/" in leaf:
        return "sqlalchemy"
    if "(json/" in leaf or "orjson" in leaf:
        return "json"
    if "(pydantic" in leaf:
        return "pydantic"
    if "(app/" in leaf:
        return "app code"
    return "other"


def _role(frames: list[str]) -> str:
    joined = ";".join(frames)
    if "app/jobs.py" in joined:
        return "scheduled jobs (SLO pass, alert delivery, housekeeping)"
    if "_commit_group" in joined or "_worker" in joined and "concurrent/futures/thread.py" in joined:
        return "writer thread (apply_batch + commit)"
    if "run_until_complete" in joined or "uvloop" in joined or "asyncio" in joined or "uvicorn" in joined:
        return "event loop thread (HTTP, parsing, validation)"
    return "other"


def summarise(path: Path | str, top: int = 25) -> dict:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks[tuple(stack.split(";"))] += int(count)
    total = sum(stacks.values()) or 1
    by_thread: dict[str, Counter] = {}
    roles: dict[str, str] = {}
    for frames, n in stacks.items():
        label, rest = _thread_label(list(frames))
        by_thread.setdefault(label, Counter())[tuple(rest)] += n
        if label not in roles or roles[label] == "other":
            roles[label] = _role(rest)
    threads = []
    for label, thread_stacks in sorted(by_thread.items(), key=lambda kv: -sum(kv[1].values())):
        samples = sum(thread_stacks.values())
        if samples < 0.01 * total:
            continue
        inclusive: Counter[str] = Counter()
        leaf: Counter[str] = Counter()
        db_wait = 0
        deepest: dict[str, Counter] = {}
        for frames, n in thread_stacks.items():
            keys = [_key(f) for f in frames]
            for k in set(keys):
                inclusive[k] += n
            if keys:
                leaf[keys[-1]] += n
                if any("psycopg" in k for k in keys[-3:]) or "sqlite3" in keys[-1]:
                    db_wait += n
                app_frames = [k for k in keys if "(app/" in k]
                owner = app_frames[-1] if app_frames else "(outside app/)"
                deepest.setdefault(owner, Counter())[_category(keys[-1])] += n
        app_funcs = [(k, v) for k, v in inclusive.most_common() if "(app/" in k][:top]
        threads.append({
            "thread": label, "role": roles.get(label, "other"),
            "share_of_samples": round(samples / total, 3),
            "db_driver_leaf_share": round(db_wait / samples, 3),
            "app_inclusive": [(k, round(v / samples, 3)) for k, v in app_funcs],
            "all_inclusive": [(k, round(v / samples, 3)) for k, v in inclusive.most_common(top * 2)],
            "leaf": [(k, round(v / samples, 3)) for k, v in leaf.most_common(top)],
            # each sample charged to the deepest app/ function on its stack, split by what ran
            "by_deepest_app_function": [
                (k, round(sum(c.values()) / samples, 3),
                 {cat: round(v / samples, 3) for cat, v in c.most_common()})
                for k, c in sorted(deepest.items(), key=lambda kv: -sum(kv[1].values()))[:top]
            ],
        })
    return {"samples": total, "threads": threads}


def render(summary: dict) -> str:
    out = [f"{summary['samples']} samples"]
    for t in summary["threads"]:
        out.append(f"\n== {t['thread']}  [{t['role']}]  {t['share_of_samples']:.0%} of samples, "
                   f"{t['db_driver_leaf_share']:.0%} in the database driver")
        out.append("  app/ functions, inclusive share of this thread:")
        out += [f"    {v:6.1%}  {k}" for k, v in t["app_inclusive"]]
        out.append("  time charged to the deepest app/ function on the stack (what ran below it):")
        for k, v, cats in t["by_deepest_app_function"]:
            detail = ", ".join(f"{c} {x:.1%}" for c, x in cats.items())
            out.append(f"    {v:6.1%}  {k}  [{detail}]")
        out.append("  hottest leaves (self time):")
        out += [f"    {v:6.1%}  {k}" for k, v in t["leaf"][:15]]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(summarise(sys.argv[1])))
