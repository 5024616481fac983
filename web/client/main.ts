// Browser entry: picks the noble crypto backend, the IndexedDB key store and the crypto
// worker, then starts the page.
import { nobleCrypto } from '../../domain/crypto/noble.ts'
import { ApiClient } from './core/api/client.ts'
import { indexedDbKv } from './core/store/kv.ts'
import { workerSlowOps } from './core/workerSlowOps.ts'
import { App } from './ui/app.ts'

async function boot(): Promise<void> {
  const root = document.getElementById('app')!
  const kv = await indexedDbKv()
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`
  const app = new App({ api: new ApiClient({ baseUrl: '' }), crypto: nobleCrypto, kv, slow: workerSlowOps('/worker.js'), root, wsUrl })
  ;(globalThis as { zixtReady?: boolean }).zixtReady = true
  await app.start()
}

boot().catch((e: unknown) => {
  const root = document.getElementById('app')
  if (root !== null) root.textContent = `Zixt could not start: ${e instanceof Error ? e.message : String(e)}`
})
