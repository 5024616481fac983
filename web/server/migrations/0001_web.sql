-- The web's own store, outside the ledger: password verifiers, per-user PII data keys
-- (deleting the row crypto-shreds the user's e-mail ciphertext), TOTP seeds, backup codes, blobs.
CREATE TABLE IF NOT EXISTS web_accounts (
  user_id VARCHAR(64) NOT NULL PRIMARY KEY,
  password_salt VARBINARY(32) NOT NULL,
  password_hash VARBINARY(64) NOT NULL,
  scrypt_n INT UNSIGNED NOT NULL,
  scrypt_r INT UNSIGNED NOT NULL,
  scrypt_p INT UNSIGNED NOT NULL,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS web_user_keys (
  user_id VARCHAR(64) NOT NULL PRIMARY KEY,
  data_key VARBINARY(32) NOT NULL,
  created_at BIGINT NOT NULL
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS web_totp (
  user_id VARCHAR(64) NOT NULL PRIMARY KEY,
  secret_sealed VARBINARY(128) NOT NULL,
  last_step BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS web_backup_codes (
  user_id VARCHAR(64) NOT NULL,
  code_hash VARBINARY(32) NOT NULL,
  used_at BIGINT NULL,
  PRIMARY KEY (user_id, code_hash)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS web_blobs (
  blob_id CHAR(64) NOT NULL PRIMARY KEY,
  uploader_id VARCHAR(64) NOT NULL,
  bytes BIGINT NOT NULL,
  created_at BIGINT NOT NULL
) ENGINE=InnoDB;
