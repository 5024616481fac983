// Where the client keeps its state: a tiny key → bytes store. IndexedDB in the browser,
// a Map in Node (tests, CLI). Values written here are already encrypted (vault.ts) except
// the account record, whose secrets are a sealed key file.

export interface KvStore {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array): Promise<void>
  delete(key: string): Promise<void>
  keys(prefix: string): Promise<string[]>
}

export function memoryKv(): KvStore {
  const m = new Map<string, Uint8Array>()
  return {
    get: async (k) => m.get(k)?.slice(),
    put: async (k, v) => void m.set(k, v.slice()),
    delete: async (k) => void m.delete(k),
    keys: async (p) => [...m.keys()].filter((k) => k.startsWith(p)).sort(),
  }
}

const STORE = 'kv'

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'))
  })
}

/** One IndexedDB database with one object store; keys are strings, values Uint8Arrays. */
export async function indexedDbKv(name = 'zixt'): Promise<KvStore> {
  const open = indexedDB.open(name, 1)
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE)
  }
  const db = await req(open)
  const tx = (mode: IDBTransactionMode): IDBObjectStore => db.transaction(STORE, mode).objectStore(STORE)
  return {
    async get(k) {
      const v = (await req(tx('readonly').get(k))) as unknown
      return v instanceof Uint8Array ? v : v instanceof ArrayBuffer ? new Uint8Array(v) : undefined
    },
    async put(k, v) {
      await req(tx('readwrite').put(v, k))
    },
    async delete(k) {
      await req(tx('readwrite').delete(k))
    },
    async keys(p) {
      const all = (await req(tx('readonly').getAllKeys())) as IDBValidKey[]
      return all.filter((k): k is string => typeof k === 'string' && k.startsWith(p)).sort()
    },
  }
}
