-- A receivable's tree page walks its tokens from parent to children: by parent, from an index,
-- whatever the number of tokens the ledger holds.
CREATE INDEX tokens_by_parent ON tokens (parent_id)
