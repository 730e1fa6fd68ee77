-- The meta_ads sink (issue 15): the creative and the PAUSED ad made from each code, per brand and ad account.
-- No code in clear: a code is known by its fingerprint (the first 10 hex digits of its SHA-256, as in the
-- objects' names), so a rotated code is another row. creative_id is written the moment the creative exists,
-- ad_id the moment the ad does; a row with a creative and no ad is a sink killed between the two (the rerun
-- finds the ad by name or makes it). stale_at is set when the code changed or was revoked after its ad was
-- made: the ad is then reported, never touched. 0008 is token health (issue 14).
CREATE TABLE IF NOT EXISTS pa_ads (
    business_id TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    content_id TEXT NOT NULL,
    code_fingerprint TEXT NOT NULL,
    name TEXT NOT NULL,
    adset_id TEXT NOT NULL,
    creative_id TEXT,
    ad_id TEXT,
    created_at TEXT NOT NULL,
    ad_recorded_at TEXT,
    stale_at TEXT,
    stale_reason TEXT,
    PRIMARY KEY (business_id, ad_account_id, content_id, code_fingerprint)
);
