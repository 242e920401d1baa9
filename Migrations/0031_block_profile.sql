-- The crypto profile block 0 names (SPEC §4): NULL for every other block, and for block 0 of a
-- chain in the standard profile, whose header names none.
ALTER TABLE blocks ADD COLUMN profile TEXT;
