// The Tx a projection writes into: rows are buffered and sent as multi-row INSERTs, other
// statements keep their order. A statement closes the open row buffers of the tables it
// touches, so a row of those tables added after it is never sent before it. A flush sends
// the buffered statements in as few round trips as possible: joined with `;` into one
// multi-statement query (connections from connectMysql allow them; every value is escaped
// by mysql2's format, never spliced), up to STATEMENT_BYTES_MAX per query.
import { format, type Connection } from 'mysql2/promise'
import type { Row, SqlValue, Tx } from './projection.ts'

type InsertOp = { kind: 'insert'; table: string; columns: readonly string[]; onDuplicate: string; rows: SqlValue[][]; bytes: number }
type ExecOp = { kind: 'exec'; sql: string; params: readonly SqlValue[] }
type Op = InsertOp | ExecOp

const STATEMENT_BYTES_MAX = 4 * 1024 * 1024 // well under max_allowed_packet (16 MiB on MariaDB 10.11)

function valueBytes(v: SqlValue): number {
  return typeof v === 'string' ? v.length + 3 : 21
}

/** True when the connection takes several `;`-separated statements in one query (connectMysql's do). */
export function multiStatements(conn: Connection): boolean {
  return (conn as unknown as { config?: { multipleStatements?: boolean } }).config?.multipleStatements === true
}

export class SqlTx implements Tx {
  readonly scratch = new Map<string, unknown>()
  statements = 0 // sent so far, for benchmarks
  roundTrips = 0
  private readonly conn: Connection
  private readonly suffix: string
  private ops: Op[] = []
  private open = new Map<string, InsertOp>()

  constructor(conn: Connection, suffix: string) {
    this.conn = conn
    this.suffix = suffix
  }

  t(table: string): string {
    return '`' + table + this.suffix + '`'
  }

  insert(table: string, row: Row, onDuplicate = ''): void {
    const columns = Object.keys(row)
    const key = `${table}\n${columns.join(',')}\n${onDuplicate}`
    let op = this.open.get(key)
    if (op === undefined) {
      // rows of the same table under other columns or ON DUPLICATE clauses were buffered
      // earlier: this row must not be sent before them (an upsert's order matters)
      for (const [k, o] of this.open) if (o.table === table) this.open.delete(k)
      op = { kind: 'insert', table, columns, onDuplicate, rows: [], bytes: 0 }
      this.open.set(key, op)
      this.ops.push(op)
    }
    const values = columns.map((c) => row[c] as SqlValue)
    op.rows.push(values)
    op.bytes += values.reduce((n: number, v) => n + valueBytes(v), 0)
    if (op.bytes > STATEMENT_BYTES_MAX) this.open.delete(key) // the next row starts a new statement
  }

  exec(tables: string | readonly string[], sql: string, params: readonly SqlValue[]): void {
    const touched = new Set(typeof tables === 'string' ? [tables] : tables)
    for (const [key, op] of this.open) if (touched.has(op.table)) this.open.delete(key)
    this.ops.push({ kind: 'exec', sql, params })
  }

  async query<T>(sql: string, params: readonly SqlValue[]): Promise<T[]> {
    await this.flush()
    this.statements++
    this.roundTrips++
    const [rows] = await this.conn.query(sql, params as SqlValue[])
    return rows as T[]
  }

  /**
   * Sends everything buffered, then the `tail` statements (the runner's COMMIT, …) in the same
   * round trip on a multi-statement connection; returns the tail's results, in order.
   */
  async flush(tail: readonly string[] = []): Promise<unknown[]> {
    const ops = this.ops
    this.ops = []
    this.open.clear()
    const multi = multiStatements(this.conn)
    let pending: string[] = []
    let bytes = 0
    const send = async (): Promise<unknown[]> => {
      if (pending.length === 0) return []
      const sql = pending.join(';\n')
      const n = pending.length
      pending = []
      bytes = 0
      this.roundTrips++
      const [results] = await this.conn.query(sql)
      return n === 1 ? [results] : (results as unknown as unknown[]) // one statement: its result, not a list
    }
    for (const op of ops) {
      this.statements++
      const sql = this.sql(op)
      if (!multi) {
        this.roundTrips++
        await this.conn.query(sql)
        continue
      }
      if (bytes + sql.length > STATEMENT_BYTES_MAX) await send()
      pending.push(sql)
      bytes += sql.length
    }
    if (!multi) {
      const out: unknown[] = []
      for (const sql of tail) {
        this.roundTrips++
        out.push((await this.conn.query(sql))[0])
      }
      return out
    }
    pending.push(...tail)
    const results = await send()
    return tail.length === 0 ? [] : results.slice(-tail.length)
  }

  private sql(op: Op): string {
    if (op.kind === 'exec') return format(op.sql, op.params as SqlValue[])
    const dup = op.onDuplicate === '' ? '' : ` ON DUPLICATE KEY UPDATE ${op.onDuplicate}`
    return format(`INSERT INTO ${this.t(op.table)} (${op.columns.map((c) => '`' + c + '`').join(', ')}) VALUES ?${dup}`, [op.rows])
  }
}
