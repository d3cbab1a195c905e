"""A dataslo replica's alerting loop, as its own process, for the restart and replica tests.

It does what the service's scheduler does for the delivery job: take the database lease
(app/store/leases.py), then run `deliver_due`. Timers are short (lease TTL and claim
margin in seconds) so the tests can kill a replica and watch another take over quickly.
Each tick is logged as one JSON line: holder, start, end, whether it held the lease,
and what it delivered.

    python tests/alerts/alert_worker.py DB_URL ROUTES_FILE HOLDER LOG [--ttl 1] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from app.alerts.delivery import deliver_due
from app.alerts.routing import load_routing_file
from app.alerts.runtime import AlertOptions, AlertRuntime
from app.store.alert_models import OutboxNotification
from app.store.db import make_engine, make_session_factory
from app.store.leases import try_acquire
from app.store.types import utcnow

LEASE = "job:alerts.deliver"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("routes")
    parser.add_argument("holder")
    parser.add_argument("log")
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tick", type=float, default=0.05)
    parser.add_argument("--until-empty", action="store_true")
    args = parser.parse_args()

    runtime = AlertRuntime(
        routing=load_routing_file(Path(args.routes)),
        options=AlertOptions(retry_base=0.2, retry_cap=1.0, http_timeout=2.0,
                             claim_margin=timedelta(seconds=1)),
    )
    factory = make_session_factory(make_engine(args.db))
    deadline = time.monotonic() + args.seconds
    with open(args.log, "a", buffering=1) as log:
        while time.monotonic() < deadline:
            started = time.time()
            with factory() as session:
                held = try_acquire(session, LEASE, args.holder, timedelta(seconds=args.ttl))
                session.commit()
                report = deliver_due(session, utcnow(), runtime=runtime) if held else None
                left = session.scalar(select(func.count()).where(
                    OutboxNotification.status.in_(("pending", "sending"))))
                session.commit()
            log.write(json.dumps({
                "holder": args.holder, "start": started, "end": time.time(), "held": held,
                "delivered": report.delivered if report else 0, "left": left,
            }) + "\n")
            if args.until_empty and left == 0:
                break
            time.sleep(args.tick)
    runtime.close()


if __name__ == "__main__":
    main()
