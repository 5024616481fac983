// Shared helpers of the read side: a pool, snake_case rows → camelCase objects.
import type { Pool, Connection } from 'mysql2/promise'
import { mysqlPool, mysqlUrl } from '../db.ts'

export type Db = Pool | Connection

export function openReadDb(url?: string): Pool {
  return mysqlPool(mysqlUrl(url))
}

const booleans = new Set(['email_verified', 'admin', 'disabled', 'deleted', 'totp', 'rotation_due', 'expired', 'revoked', 'active', 'hidden', 'edited', 'last_resort'])

export function camel<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) {
    out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = booleans.has(k) ? v === 1 || v === true : v
  }
  return out as T
}

export async function select<T>(db: Db, sql: string, params: unknown[]): Promise<T[]> {
  const [rows] = await db.query(sql, params)
  return (rows as Record<string, unknown>[]).map((r) => camel<T>(r))
}

export function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`limit: must be a positive integer, got ${limit}`)
  return Math.min(limit, 500)
}
