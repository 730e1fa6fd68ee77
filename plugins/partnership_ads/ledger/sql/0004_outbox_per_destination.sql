-- The outbox is kept per destination, not per sink name (issue 11, finding 4): a manual run whose output_uri
-- points the files sink at another folder records what it wrote under that folder, so it never takes the
-- configured folder's pending codes. destination is where the sink delivers, resolved: the files sink's
-- folder, the webhook's connection id, the SQL sink's "<connection id>:<table>".
--
-- Rows recorded before this version get destination '' (= "the sink's configured destination, before
-- destinations were tracked"): SQL cannot know what a deployment configured (the files folder is an Airflow
-- Variable or an environment variable). The first delivery of a brand to a sink's configured destination
-- adopts them (Ledger.adopt_legacy_deliveries), so nothing is sent again to where it already went; a
-- destination chosen by a trigger never adopts them.
--
-- A new table rather than a rebuilt pa_deliveries: SQLite cannot change a primary key in place, and a
-- drop-and-rename is not safe when several tasks migrate at once (a second copy after the first rename would
-- relabel new rows ''). Copying into pa_outbox is idempotent: run again, it inserts only legacy rows that are
-- missing, and adoption removes any that a destination's own row supersedes. pa_deliveries is no longer
-- written; it stays for a later version to drop.
CREATE TABLE IF NOT EXISTS pa_outbox (
    business_id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    destination TEXT NOT NULL,
    ad_code TEXT NOT NULL,
    state TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (business_id, content_id, sink, destination)
);
-- "WHERE true": SQLite needs a WHERE clause before ON CONFLICT in an INSERT ... SELECT.
INSERT INTO pa_outbox (business_id, content_id, sink, destination, ad_code, state, delivered_at, run_id)
SELECT business_id, content_id, sink, '', ad_code, state, delivered_at, run_id FROM pa_deliveries WHERE true
ON CONFLICT (business_id, content_id, sink, destination) DO NOTHING;
