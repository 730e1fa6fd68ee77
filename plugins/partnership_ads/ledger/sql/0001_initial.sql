-- Partnership ads ledger, version 1. Portable between SQLite (3.24+) and PostgreSQL: TEXT timestamps in
-- ISO 8601 UTC (they sort as text), no engine-specific types. Statements are separated by semicolons at the
-- end of a line; every statement is idempotent so a half-applied migration can simply be applied again.

-- Every item discovery returned for a brand, with the brand's own partnership_info entry flattened.
CREATE TABLE IF NOT EXISTS pa_content (
    business_id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    platform TEXT,
    media_type TEXT,
    post_type TEXT,
    permalink TEXT,
    creation_time TEXT,
    author_ig_user_id TEXT,
    author_fb_page_id TEXT,
    author_display_name TEXT,
    ad_eligibility TEXT,
    partner_ad_code TEXT,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    last_run_id TEXT,
    PRIMARY KEY (business_id, content_id)
);

-- One row per media: its one ad code and the issuance claim on it. content_id is unique across brands on
-- purpose: a media has one valid code at a time, whichever brand's run obtains it.
--   state: issuing (claimed; a POST may be in flight), issued, harvested (found in discovery), failed,
--   revoked. claimed_by / claim_expires_at are the claim's owner and lease (renewed by a heartbeat).
CREATE TABLE IF NOT EXISTS pa_ad_codes (
    content_id TEXT NOT NULL PRIMARY KEY,
    ad_code TEXT,
    state TEXT NOT NULL,
    business_id TEXT,
    owner_ig_user_id TEXT,
    claimed_by TEXT,
    claim_expires_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    issued_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- What the brand's last run decided for each AD_READY Instagram item: issued, harvested, known,
-- awaiting_creator_authorisation, failed, claimed_elsewhere, deferred, revoked.
CREATE TABLE IF NOT EXISTS pa_brand_items (
    business_id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    run_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (business_id, content_id)
);

-- The outbox: what each sink has received, per brand and media. A code is pending for a sink while this row
-- is missing or names another ad_code or state.
CREATE TABLE IF NOT EXISTS pa_deliveries (
    business_id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    ad_code TEXT NOT NULL,
    state TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    run_id TEXT,
    PRIMARY KEY (business_id, content_id, sink)
);

-- Per-run figures (counts by outcome, delivered per sink), one row per figure.
CREATE TABLE IF NOT EXISTS pa_run_figures (
    run_id TEXT NOT NULL,
    business_id TEXT NOT NULL,
    figure TEXT NOT NULL,
    value INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (run_id, business_id, figure)
);

CREATE INDEX IF NOT EXISTS pa_ad_codes_state ON pa_ad_codes (state);
