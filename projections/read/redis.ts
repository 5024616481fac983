// Redis names for the web (presence, typing, channels) and the unread counters.
export { channels, presenceTtlSeconds, redisKeys, typingTtlSeconds } from '../redis/keys.ts'
export { unreadCounts } from '../redis/unread.ts'
export type { EventNotification, UnreadNotification } from '../redis/notify.ts'
import { redisKeys } from '../redis/keys.ts'

export const presenceKey = (prefix: string, userId: string): string => redisKeys.presence(prefix, userId)
export const typingKey = (prefix: string, threadId: string, userId: string): string => redisKeys.typing(prefix, threadId, userId)
