-- Zixt read models, version 1. Plain SQL, applied once at start-up by projections/migrate.ts,
-- recorded in schema_migrations with a SHA3-256 checksum: never edit an applied file, add 0002_….
-- Identifiers and binary fields are the ledger's base64url strings (ASCII, case-sensitive).
-- Every row carries `position`: the ledger position of the event that last changed it.
-- Each projection owns its tables and a one-row checkpoint table; a rebuild builds
-- `<table>__shadow` copies from position 0 and swaps them in with one RENAME TABLE.

-- projection `accounts` ---------------------------------------------------------------------

CREATE TABLE checkpoint_accounts (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL -- last applied event position; -1 before the first
) ENGINE=InnoDB;
INSERT INTO checkpoint_accounts (id, position) VALUES (1, -1);

CREATE TABLE users (
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  username VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  identity_public_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  identity_key_version INT NOT NULL DEFAULT 0,
  encrypted_email TEXT CHARACTER SET ascii COLLATE ascii_bin NULL, -- NULL once deleted
  email_verified TINYINT(1) NOT NULL DEFAULT 0,
  admin TINYINT(1) NOT NULL DEFAULT 0,
  disabled TINYINT(1) NOT NULL DEFAULT 0,
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  totp TINYINT(1) NOT NULL DEFAULT 0,
  backup_codes_count INT NOT NULL DEFAULT 0,
  backup_codes_commitment VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_by VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL, -- NULL: self-registered
  created_position BIGINT NOT NULL,
  created_time BIGINT NOT NULL, -- block time, ms
  position BIGINT NOT NULL,
  KEY users_username (username, deleted)
) ENGINE=InnoDB;

CREATE TABLE identity_keys (
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_version INT NOT NULL,
  public_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  origin VARCHAR(16) CHARACTER SET ascii NOT NULL, -- 'initial' | 'rotated' | 'replaced'
  added_position BIGINT NOT NULL,
  superseded_position BIGINT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (user_id, key_version)
) ENGINE=InnoDB;

CREATE TABLE devices (
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_version INT NOT NULL DEFAULT 0, -- current key
  public_key VARCHAR(2700) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  issued_at BIGINT NOT NULL,
  rotation_due TINYINT(1) NOT NULL DEFAULT 0, -- current key marked due
  expired TINYINT(1) NOT NULL DEFAULT 0, -- current key expired
  revoked TINYINT(1) NOT NULL DEFAULT 0,
  revoked_reason VARCHAR(24) CHARACTER SET ascii NULL,
  revoked_position BIGINT NULL,
  added_position BIGINT NOT NULL,
  position BIGINT NOT NULL,
  KEY devices_user (user_id, revoked)
) ENGINE=InnoDB;

CREATE TABLE device_keys (
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_version INT NOT NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  public_key VARCHAR(2700) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  issued_at BIGINT NOT NULL,
  certificate MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL, -- SLH-DSA signature by the identity key
  added_position BIGINT NOT NULL,
  rotation_due_position BIGINT NULL,
  expired_position BIGINT NULL,
  superseded_position BIGINT NULL, -- a newer key version replaced it
  revoked_position BIGINT NULL, -- the device was revoked while this was its key
  position BIGINT NOT NULL,
  PRIMARY KEY (device_id, key_version),
  KEY device_keys_user (user_id)
) ENGINE=InnoDB;

CREATE TABLE replica_keys (
  replica INT NOT NULL,
  key_version INT NOT NULL,
  operational_public_key VARCHAR(2700) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  issued_at BIGINT NOT NULL,
  certificate MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  block_height BIGINT NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (replica, key_version)
) ENGINE=InnoDB;

-- projection `conversations` ----------------------------------------------------------------

CREATE TABLE checkpoint_conversations (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO checkpoint_conversations (id, position) VALUES (1, -1);

CREATE TABLE threads (
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  group_id VARCHAR(86) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  encrypted_name TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  creator_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  owner_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NULL, -- NULL when no member is left
  epoch INT NOT NULL DEFAULT 0, -- MLS epoch
  member_count INT NOT NULL,
  created_position BIGINT NOT NULL,
  created_time BIGINT NOT NULL,
  last_activity_position BIGINT NOT NULL, -- last event on the thread's stream
  last_activity_time BIGINT NOT NULL,
  position BIGINT NOT NULL,
  UNIQUE KEY threads_group (group_id)
) ENGINE=InnoDB;

CREATE TABLE memberships (
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  active TINYINT(1) NOT NULL, -- 1 while a member
  joined_position BIGINT NOT NULL, -- of the latest join
  added_by VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  left_position BIGINT NULL, -- of the latest leave/removal; NULL while a member
  left_reason VARCHAR(16) CHARACTER SET ascii NULL, -- 'left' | 'removed' | 'accountDeleted'
  position BIGINT NOT NULL,
  PRIMARY KEY (thread_id, user_id),
  KEY memberships_user (user_id, active)
) ENGINE=InnoDB;

CREATE TABLE thread_visibility (
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  hidden TINYINT(1) NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (user_id, thread_id)
) ENGINE=InnoDB;

CREATE TABLE read_marks (
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  read_position BIGINT NOT NULL, -- messages at or before it are read
  position BIGINT NOT NULL,
  PRIMARY KEY (user_id, thread_id)
) ENGINE=InnoDB;

-- Messages after the user's read mark, by others, not deleted, posted while a member.
-- Mirrored to Redis (see docs/projections.md); rows with position > the Redis checkpoint are copied.
CREATE TABLE unread_counts (
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  unread_count INT NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (user_id, thread_id),
  KEY unread_counts_position (position)
) ENGINE=InnoDB;

CREATE TABLE messages (
  message_id BIGINT NOT NULL PRIMARY KEY, -- the ledger position of MessagePosted
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  epoch INT NOT NULL,
  ciphertext MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NULL, -- NULL once deleted
  attachment_count INT NOT NULL,
  time BIGINT NOT NULL, -- block time of the post
  block_height BIGINT NOT NULL,
  edited TINYINT(1) NOT NULL DEFAULT 0,
  edited_position BIGINT NULL,
  deleted TINYINT(1) NOT NULL DEFAULT 0,
  deleted_position BIGINT NULL,
  position BIGINT NOT NULL,
  KEY messages_thread (thread_id, message_id)
) ENGINE=InnoDB;

CREATE TABLE reactions (
  position BIGINT NOT NULL PRIMARY KEY, -- of MessageReacted (reactions are never changed)
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  message_id BIGINT NOT NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  epoch INT NOT NULL,
  reaction TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  time BIGINT NOT NULL,
  KEY reactions_message (message_id, position),
  KEY reactions_thread (thread_id, position)
) ENGINE=InnoDB;

CREATE TABLE attachments (
  message_id BIGINT NOT NULL,
  idx INT NOT NULL, -- order within the message
  blob_id CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, -- hex SHA-256 of the ciphertext blob
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  ciphertext_bytes BIGINT NOT NULL,
  type VARCHAR(8) CHARACTER SET ascii NOT NULL, -- PNG JPEG GIF BMP PDF TXT DOC DOCX (declared)
  deleted TINYINT(1) NOT NULL DEFAULT 0, -- the message was deleted
  position BIGINT NOT NULL,
  PRIMARY KEY (message_id, idx),
  KEY attachments_blob (blob_id, thread_id)
) ENGINE=InnoDB;

CREATE TABLE mls_commits (
  thread_id VARCHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  epoch INT NOT NULL, -- the epoch the commit was made in; the thread moves to epoch + 1
  commit_message MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  welcome MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_bin NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  time BIGINT NOT NULL,
  position BIGINT NOT NULL,
  PRIMARY KEY (thread_id, epoch)
) ENGINE=InnoDB;

-- projection `keyPackages` ------------------------------------------------------------------

CREATE TABLE checkpoint_key_packages (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  position BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO checkpoint_key_packages (id, position) VALUES (1, -1);

CREATE TABLE key_packages (
  device_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  ref VARCHAR(86) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  key_package TEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  last_resort TINYINT(1) NOT NULL,
  published_position BIGINT NOT NULL,
  replaced_position BIGINT NULL, -- a newer last-resort package replaced this one
  claimed_position BIGINT NULL, -- last claim (a last-resort package may be claimed again)
  claimed_by VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NULL,
  claimed_by_device VARCHAR(43) CHARACTER SET ascii COLLATE ascii_bin NULL,
  claim_count INT NOT NULL DEFAULT 0,
  position BIGINT NOT NULL,
  PRIMARY KEY (device_id, ref),
  KEY key_packages_user (user_id, device_id, claimed_position)
) ENGINE=InnoDB;
