-- The largest num_examples one update (or evaluation report) may declare. Example weighting trusts what
-- clients declare; this bounds how much one client can weigh, and keeps every sum of example counts far
-- from bigint overflow (2^40 per update at most).
ALTER TABLE federations
    ADD COLUMN max_examples_per_update bigint NOT NULL DEFAULT 10000000
        CHECK (max_examples_per_update BETWEEN 1 AND 1099511627776);
