-- Each checkpoint keeps the hash (eventHash: the event's Merkle leaf hash) of the last event
-- its projection applied, so a runner can tell that the ledger it reads is the one these read
-- models were built from (projections/ledgerAnchor.ts). NULL: written before this column.
ALTER TABLE checkpoint_accounts ADD COLUMN IF NOT EXISTS event_hash BINARY(32) NULL;
ALTER TABLE checkpoint_conversations ADD COLUMN IF NOT EXISTS event_hash BINARY(32) NULL;
ALTER TABLE checkpoint_key_packages ADD COLUMN IF NOT EXISTS event_hash BINARY(32) NULL;
