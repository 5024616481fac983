-- The web's shred sweep (web/server/context.ts sweepShredded) asks every few seconds for users
-- deleted after a (position, user_id) mark: an index so it does not scan every user each time.
CREATE INDEX IF NOT EXISTS users_deleted_position ON users (deleted, position, user_id);
