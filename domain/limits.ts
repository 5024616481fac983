// Every limit in Zixt, named once. Checked at ingest, asserted again inside.
export const limits = {
  // canonical codec
  codecDepthMax: 16,
  codecItemsMax: 100_000,
  codecStringBytesMax: 16 * 1024 * 1024 + 1024,
  // commands
  commandBytesMax: 1024 * 1024, // ≥ mlsHandshakeBytesMax in base64 plus the envelope
  commandIdBytes: 16,
  commandSkewMs: 5 * 60_000,
  usernameLengthMin: 3,
  usernameLengthMax: 32,
  encryptedFieldBytesMax: 4096,
  threadMembersMax: 256,
  messageCiphertextBytesMax: 64 * 1024,
  attachmentsPerMessageMax: 10,
  attachmentPlainBytesMax: 15 * 1024 * 1024,
  // AES-256-GCM: 12-byte nonce + 16-byte tag per chunked blob header, plus framing slack
  attachmentOverheadBytesMax: 64 * 1024,
  keyPackagesPerPublishMax: 32,
  // ≈15.1 kB of ML-KEM-1024 keys and ML-DSA-87 key + 2 signatures, plus the device key's
  // certificate of the MLS key in the credential (3,309-byte ML-DSA-65 signature): ≈18.5 kB
  keyPackageBytesMax: 20 * 1024,
  mlsHandshakeBytesMax: 512 * 1024,
  backupCodesMax: 16,
  devicesPerUserMax: 16,
  // domain rules (issue 3)
  mlsGroupIdBytesMin: 16,
  mlsGroupIdBytesMax: 64,
  keyPackageRefBytesMax: 64, // RFC 9420 §5.2: RefHash output (SHA-512 here)
  keyPackagesPerDeviceMax: 128, // unclaimed, per device
  claimTargetsMax: 64,
  reactionBytesMax: 16 * 1024, // MLS ciphertext of one reaction: an ML-DSA-87 signature alone is 4,627 bytes
  threadsPerUserMax: 1024,
  threadNameBytesMax: 16 * 1024, // encrypted thread name ciphertext (may be an MLS message: ≥ 4.7 kB)
  backupCodesCommitmentBytes: 32,
  keysPerRotationCommandMax: 128,
  rotationCandidatesMax: 100_000, // device keys one rotation run considers
  // edit/delete/react only reach recent messages: the ledger state keeps an index of the
  // messages posted in this window (at most threadRecentMessagesMax per thread), so
  // memory stays bounded per thread however long it lives.
  messageMutableWindowMs: 7 * 24 * 3600_000,
  threadRecentMessagesMax: 4096,
  commandIdBucketMs: 60_000,
  // keys
  deviceKeyRotationDueMs: 30 * 24 * 3600_000,
  deviceKeyExpiryMs: 90 * 24 * 3600_000,
  replicaKeyRotationMs: 30 * 24 * 3600_000,
  // ledger
  eventsPerBlockMax: 10_000,
  commandsPerBlockMax: 2_000,
  blockBytesMax: 64 * 1024 * 1024,
  recordBytesMax: 64 * 1024 * 1024 + 1024,
  segmentBytesMax: 64 * 1024 * 1024,
  blockItemsMax: 4_000_000, // codec items in one block: every value and map key counts
  ledgerHashBytes: 32, // SHA3-256 output: prevHash, block and tree hashes
  streamBytesMax: 256,
  eventTypeBytesMax: 128,
  ledgerIdBytesMax: 256, // author, commandId, keyId inside ledger records
  replicasMax: 64, // replica indices in headers, certificates and tree heads are below this
  signatureBytesMax: 64 * 1024, // SLH-DSA-SHAKE-256f signatures are 49,856 bytes
  storeReadEventsMax: 10_000, // one readEvents() call
  storeOpenSegmentsMax: 32, // read file descriptors kept open
  storeFollowPollMs: 250, // a read-only follower re-reads the directory at least this often while waiting (fs.watch may miss events)
  // web HTTP (web/server/app.ts, routes/blobs.ts): nothing a client sends may hold a socket,
  // a descriptor or a temp file open for as long as it likes
  httpRequestTimeoutMs: 10 * 60_000, // whole request received; a 15 MiB + 64 KiB upload needs ≥ 27 kB/s
  httpSocketIdleMs: 2 * 60_000, // no byte either way on a connection (ws sockets are exempt once upgraded)
  blobUploadIdleMs: 30_000, // no body byte for this long: the upload is aborted (408), its temp file removed
  blobUploadBytesPerUserDayMax: 1024 * 1024 * 1024, // blob bytes one user may upload per 24 h (fixed window from the first)
  // key files (domain/keyfile.ts)
  keyFileBytesMax: 64 * 1024, // a real one is ~1.5 KiB
  keyFilePassphraseLengthMin: 8, // characters, when sealing
  keyFilePassphraseBytesMax: 1024,
  keyFileScryptMemoryBytesMax: 256 * 1024 * 1024, // 128·r·N; the default N = 2^17, r = 8 needs 128 MiB
  keyFileScryptPMax: 4,
} as const
