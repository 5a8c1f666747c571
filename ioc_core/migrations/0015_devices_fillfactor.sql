-- Ingest moves devices.last_seen for every device in every batch (ingest/writer.py): at
-- 10,000 msg/s from 2,000 stations that is 2,000 row updates four times a second. With the
-- default fillfactor (100) a page has no room for the new row version, so each update is a
-- non-HOT update that also writes every index of the table (kind, tenant, commune, tags).
-- Room for HOT updates made that statement cheaper in both A/B runs of
-- scripts/bench_freshness_fillfactor.py (2,000 devices a batch, load ~6): median 137-140 ms
-- at fillfactor 100 against 69-77 ms at 70, and 89-120 ms against 80-84 ms. Existing pages
-- gain the room as they are rewritten
-- (VACUUM FULL devices does it at once).
ALTER TABLE devices SET (fillfactor = 70);
