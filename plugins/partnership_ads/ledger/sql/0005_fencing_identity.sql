-- Fencing tokens and the ledger's identity (issue 11: fail closed).
-- fence grows with every new claim of a media (and with a harvest or a revocation): recording a code,
-- renewing, failing or releasing a claim must present the current value, so a writer whose lease ran out
-- while its POST was in flight is refused instead of overwriting the attempt that took the claim over.
-- "ADD COLUMN IF NOT EXISTS" is PostgreSQL's; the ledger applies it on SQLite only when the column is missing.
ALTER TABLE pa_ad_codes ADD COLUMN IF NOT EXISTS fence INTEGER NOT NULL DEFAULT 0;
-- One row: the ledger's identity, created once. Every task of a run checks it works on the ledger the run's
-- first task used (a worker with another configuration, or an embedded fallback file, is refused).
CREATE TABLE IF NOT EXISTS pa_ledger_identity (
    singleton INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    ledger_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
