-- The outcome "known" (the ledger already held the media's code) is now spelled "already_in_ledger", the
-- word the run summary shows; figures and per-item decisions recorded before the rename read the same way.
UPDATE pa_run_figures SET figure = 'already_in_ledger' WHERE figure = 'known';
UPDATE pa_brand_items SET status = 'already_in_ledger' WHERE status = 'known';
