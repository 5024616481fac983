// Replica tuning, one place. Every queue and loop in the replica is bounded by a value here.
export type ReplicaConfig = {
  readonly n: number // replicas, 3f+1
  readonly f: number
  readonly batchCommandsMax: number // a block closes at this many commands
  readonly proposeIntervalMs: number // … or, once the previous block committed, this long after the primary's previous proposal (0: at once)
  readonly pendingCommandsMax: number // queued client commands per replica (oldest kept, newest refused)
  readonly checkpointInterval: number // K: a checkpoint every K blocks
  readonly rotateEveryBlocks: number // primary rotation: a planned view change every N blocks (0 = never)
  readonly viewTimeoutMs: number // a backup waits this long for progress before it suspects the primary
  readonly timeSkewMs: number // a proposed block time may differ this much from a backup's clock
  readonly fetchBlocksMax: number // blocks per state-transfer reply
  readonly futureHeightsMax: number // messages for heights above the next one are kept this far ahead
  readonly resultsCacheMax: number // recent command results kept to answer retransmissions
  readonly resultsBytesMax: number // … and about this many bytes of them (events hold ciphertexts)
  readonly resultsKeepMs: number // … each for at most this long (longer than any client's deadline)
}

export function defaultReplicaConfig(n = 4): ReplicaConfig {
  const f = Math.floor((n - 1) / 3)
  return {
    n,
    f,
    batchCommandsMax: 500,
    proposeIntervalMs: 0,
    pendingCommandsMax: 20_000,
    checkpointInterval: 64,
    rotateEveryBlocks: 0,
    viewTimeoutMs: 1500,
    timeSkewMs: 30_000,
    fetchBlocksMax: 64,
    futureHeightsMax: 16,
    resultsCacheMax: 50_000,
    resultsBytesMax: 32 * 1024 * 1024,
    resultsKeepMs: 180_000,
  }
}
