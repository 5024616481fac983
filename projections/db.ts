// Connections to MariaDB and Redis from URLs (env ZIXT_MYSQL_URL, ZIXT_REDIS_URL).
import mysql, { type Connection, type Pool } from 'mysql2/promise'

export const defaultMysqlUrl = 'mysql://root@127.0.0.1:3306/zixt'
export const defaultRedisUrl = 'redis://127.0.0.1:6379'
export const defaultRedisPrefix = 'zixt:'

export function mysqlUrl(flag?: string): string {
  return flag ?? process.env['ZIXT_MYSQL_URL'] ?? defaultMysqlUrl
}

function parts(url: string): { server: mysql.ConnectionOptions; database: string } {
  const u = new URL(url)
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'zixt'
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) throw new Error(`mysql url: database name '${database}' must match [A-Za-z0-9_]{1,64}`)
  return {
    database,
    server: {
      host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'),
      password: decodeURIComponent(u.password), supportBigNumbers: true, bigNumberStrings: false, connectTimeout: 5000,
    },
  }
}

/**
 * A connection to the database in `url`, creating the database if needed. For the projector
 * and migrations: multi-statement queries are on (SqlTx sends a batch in one round trip, every
 * value escaped by mysql2's format). The web reads through `mysqlPool`, which keeps them off.
 */
export async function connectMysql(url: string): Promise<Connection> {
  const { server, database } = parts(url)
  const conn = await mysql.createConnection({ ...server, multipleStatements: true })
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await conn.query(`USE \`${database}\``)
  } catch (e) {
    conn.destroy()
    throw e
  }
  return conn
}

export function mysqlPool(url: string, connectionLimit = 10): Pool {
  const { server, database } = parts(url)
  return mysql.createPool({ ...server, database, connectionLimit })
}

export async function dropDatabase(url: string): Promise<void> {
  const { server, database } = parts(url)
  const conn = await mysql.createConnection(server)
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``)
  } finally {
    await conn.end()
  }
}
