// Redis key and channel names (docs/projections.md). The web uses these too.
export const redisKeys = {
  unreadGen: (p: string) => `${p}unread:gen`,
  unreadHash: (p: string, gen: string, userId: string) => `${p}unread:${gen}:u:${userId}`,
  unreadCheckpoint: (p: string, gen: string) => `${p}unread:${gen}:checkpoint`,
  unreadGenSeq: (p: string) => `${p}unread:genseq`,
  publishCheckpoint: (p: string) => `${p}publish:checkpoint`,
  presence: (p: string, userId: string) => `${p}presence:${userId}`,
  typing: (p: string, threadId: string, userId: string) => `${p}typing:${threadId}:${userId}`,
} as const

export const channels = {
  thread: (p: string, threadId: string) => `${p}thread:${threadId}`,
  user: (p: string, userId: string) => `${p}user:${userId}`,
  /** Every event that changes users/devices rows, as a small AccountsNotification (web caches). */
  accounts: (p: string) => `${p}accounts`,
} as const

export const presenceTtlSeconds = 60
export const typingTtlSeconds = 6
