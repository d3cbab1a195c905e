from datetime import timedelta

from app.store.db import make_session_factory
from app.store.leases import release, try_acquire
from app.store.types import utcnow


def test_one_holder_at_a_time_and_takeover_after_expiry(engine):
    factory = make_session_factory(engine)
    now = utcnow()
    ttl = timedelta(seconds=30)
    with factory() as s:
        assert try_acquire(s, "slo-eval", "replica-a", ttl, now)
        s.commit()
    with factory() as s:
        assert not try_acquire(s, "slo-eval", "replica-b", ttl, now + timedelta(seconds=10))
        assert try_acquire(s, "slo-eval", "replica-a", ttl, now + timedelta(seconds=10))  # renewal
        s.commit()
    with factory() as s:
        assert try_acquire(s, "slo-eval", "replica-b", ttl, now + timedelta(seconds=41))  # a died
        s.commit()
    with factory() as s:
        release(s, "slo-eval", "replica-b")
        s.commit()
        assert try_acquire(s, "slo-eval", "replica-a", ttl)
