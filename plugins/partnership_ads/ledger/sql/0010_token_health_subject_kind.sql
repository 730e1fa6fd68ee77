-- Whose token a token-health row is about: 'brand' (a business's own token, checked before discovery) or
-- 'creator' (a creator's, checked before its first POST). Rows written before this column stay NULL and are
-- told apart as before (a subject that is a business id the ledger knows is a brand).
ALTER TABLE pa_token_health ADD COLUMN subject_kind TEXT;
