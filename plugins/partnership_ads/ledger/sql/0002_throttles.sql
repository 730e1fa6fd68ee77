-- Throttle blocks per meta_graph connection, shared by every task and try (found by the drill
-- throttling_beyond_max_wait: a later task posted with a creator's token before Meta's told wait was over).
CREATE TABLE IF NOT EXISTS pa_throttles (
    conn_id TEXT PRIMARY KEY,
    blocked_until TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
