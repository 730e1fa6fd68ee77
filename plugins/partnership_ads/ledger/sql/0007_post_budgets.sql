-- The max_codes cap of a run, per brand, shared by every task instance of the run (issue 13: a brand's items
-- may be issued by several shard tasks at once, and the cap is the brand's, not each task's). used counts the
-- POSTs granted so far; a task reserves a batch at a time (reserve_posts) and gives back what it did not post.
CREATE TABLE IF NOT EXISTS pa_post_budgets (
    run_id TEXT NOT NULL,
    business_id TEXT NOT NULL,
    max_posts INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, business_id)
);
