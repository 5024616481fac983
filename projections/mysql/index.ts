import type { Projection } from '../projection.ts'
import { accountsProjection } from './accounts.ts'
import { conversationsProjection } from './conversations.ts'
import { keyPackagesProjection } from './keyPackages.ts'

/** Every MySQL projection, in the order the runner applies them within a batch. */
export const mysqlProjections: readonly Projection[] = [accountsProjection, conversationsProjection, keyPackagesProjection]
