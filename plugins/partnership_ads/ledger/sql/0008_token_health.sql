-- Token health per subject (a creator's IG account or a brand's business) and connection: the last
-- debug_token finding (or 190 answer), reused for token_check_cache_hours. Never a token: its fingerprint
-- only tells a replaced token from the one checked.
CREATE TABLE IF NOT EXISTS pa_token_health (
    subject_id TEXT NOT NULL,
    conn_id TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at TEXT,
    days_left INTEGER,
    detail TEXT,
    scope TEXT,
    token_fingerprint TEXT,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (subject_id, conn_id)
);
