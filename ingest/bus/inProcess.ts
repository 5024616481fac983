// Default bus: straight into the consensus client of this process.
import type { ConsensusClient } from '../../consensus/client.ts'
import type { CommandBus } from './types.ts'

export function inProcessBus(client: Pick<ConsensusClient, 'submit' | 'close'>): CommandBus {
  return {
    name: 'in-process',
    send: (bytes) => client.submit(bytes),
    close: async () => client.close(),
  }
}
