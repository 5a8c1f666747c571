-- Ingest moves devices.last_seen for every device in every batch (ingest/writer.py): at
-- 10,000 msg/s from 2,000 stations that is 2,000 row updates four times a second. With the
-- default fillfactor (100) a page has no room for the new row version, so each update is a
-- non-HOT update that also writes every index of the table (kind, tenant, commune, tags).
-- Room for HOT updates halved that statement's time (measured: 137-140 ms to 69-77 ms per batch
-- of 2,000 devices at load 6, docs/performance.md). Existing pages gain the room as they are rewritten
-- (VACUUM FULL devices does it at once).
ALTER TABLE devices SET (fillfactor = 70);
