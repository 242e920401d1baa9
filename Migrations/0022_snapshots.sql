-- The writer's state written down at a block is a snapshot (a "checkpoint" is the transaction
-- log's signed head from now on): the table is named so.
ALTER TABLE checkpoints RENAME TO snapshots
