// Where the replicas are. The static list from the cluster config is the only directory
// today; Kademlia discovery (keyed by the hash of a node's public key) would be another
// implementation of this interface, its answers still authenticated by genesis keys.
export type PeerAddress = { readonly index: number; readonly host: string; readonly port: number }

export type PeerDirectory = {
  /** The address to dial for a replica, or null when unknown. */
  lookup(index: number): PeerAddress | null
  all(): readonly PeerAddress[]
}

export function staticPeers(peers: readonly PeerAddress[]): PeerDirectory {
  const byIndex = new Map(peers.map((p) => [p.index, p]))
  return { lookup: (i) => byIndex.get(i) ?? null, all: () => peers }
}
