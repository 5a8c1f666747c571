"""A/B of ingest's freshness UPDATE (2,000 devices a batch) at devices fillfactor 100 vs 70."""
import random, statistics, time
from datetime import UTC, datetime, timedelta
import psycopg
from ioc_core.stack.temporary import temporary_stack
from analytics.alerts.bench import _setup
from ingest.writer import BatchWriter, BatchMeta
with temporary_stack() as s:
    _setup(s, 2000)
    with psycopg.connect(s.postgres_dsn) as conn:
        keys = [r[0] for r in conn.execute("SELECT key FROM devices").fetchall()]
        mids = [r[0] for r in conn.execute("SELECT id FROM metrics LIMIT 6").fetchall()]
    w = BatchWriter(psycopg.connect(s.postgres_dsn))
    t0 = datetime.now(UTC) - timedelta(minutes=50)
    n = 0
    for ff in (100, 70, 100, 70):
        with psycopg.connect(s.postgres_dsn, autocommit=True) as c:
            c.execute(f"ALTER TABLE devices SET (fillfactor = {ff})"); c.execute("VACUUM FULL devices")
        fr, cp = [], []
        for b in range(10):
            n += 1
            rows, newest = [], {}
            for i in range(2500):
                ts = t0 + timedelta(seconds=n, microseconds=i * 100)
                k = keys[i % 2000]
                newest[k] = ts
                rows += [(ts, k, m, random.random() * 100) for m in mids]
            hours = {t0.replace(minute=0, second=0, microsecond=0): len(rows)}
            a = time.perf_counter()
            with w.conn.transaction():
                with w.conn.transaction():
                    w._copy("telemetry", rows)
                b1 = time.perf_counter()
                w._record_freshness(BatchMeta(newest=dict(sorted(newest.items())), hours=hours))
                b2 = time.perf_counter()
            fr.append(b2 - b1); cp.append(b1 - a)
        print(ff, "freshness median ms", round(1000 * statistics.median(fr)), "copy median ms", round(1000 * statistics.median(cp)))
