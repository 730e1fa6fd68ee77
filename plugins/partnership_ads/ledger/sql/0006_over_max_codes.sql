-- The outcome "deferred" (an item over the run's max_codes cap) is now spelled "over_max_codes": "deferred"
-- means only a task waiting on the triggerer. Figures and per-item decisions recorded before read the same way.
UPDATE pa_run_figures SET figure = 'over_max_codes' WHERE figure = 'deferred';
UPDATE pa_brand_items SET status = 'over_max_codes' WHERE status = 'deferred';
