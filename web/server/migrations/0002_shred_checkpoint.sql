-- The shred sweep's checkpoint (Ctx.sweepShredded): the last deleted account, by the read
-- model's users (position, user_id), whose web secrets were destroyed. Crypto-shredding
-- follows the ledger through it, not the request that submitted the deletion.
-- One row, id 1; position -1 before the first sweep, so the first one covers every deletion so far.
CREATE TABLE IF NOT EXISTS web_shred_checkpoint (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL,
  user_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
) ENGINE=InnoDB;

INSERT IGNORE INTO web_shred_checkpoint (id, position, user_id) VALUES (1, -1, '');
