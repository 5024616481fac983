// One MLS group per Zixt thread. A Group wraps ts-mls's immutable ClientState; every
// operation that changes it returns a new Group, and the previous value must not be
// used again: ts-mls hands back the secrets it consumed and we wipe them (forward
// secrecy), so an old Group may hold zeroed keys.
import {
  createGroup as mlsCreateGroup,
  decodeMlsMessage,
  defaultLifetime,
  emptyPskIndex,
  generateKeyPackageWithKey,
  joinGroup,
  zeroOutUint8Array,
  type ClientConfig,
  type ClientState,
  type Credential,
  type RatchetTree,
} from 'ts-mls'
import { defaultClientConfig } from 'ts-mls/clientConfig.js'
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js'
import { limits } from '../../../../domain/limits.ts'
import { equalBytes } from '../../../../domain/ledger/codec.ts'
import { MlsErrorCode, mlsError, wrapMls } from './errors.ts'
import { contentOfCredential, identityOfCredential, type CredentialContent, type MemberIdentity } from './identity.ts'
import { zixtCapabilities } from './keyPackages.ts'
import { memberCredential, type Member } from './member.ts'
import { MLS_SUITE_NAME, mlsSuite } from './suite.ts'

export type Group = { readonly state: ClientState }

export type GroupMember = {
  readonly leafIndex: number
  readonly identity: MemberIdentity
  readonly signaturePublicKey: Uint8Array
}

export type GroupOptions = {
  /**
   * Called for every credential ts-mls meets (tree on join, key packages in adds, leaf
   * nodes in commits). The app plugs in its check that the leaf's MLS signature key is
   * certified by a ledger-registered device key of that user (../mlsCredentials.ts).
   * The credential has already been decoded strictly; returning false rejects the message.
   */
  readonly validateCredential?: (identity: MemberIdentity, signaturePublicKey: Uint8Array, certificate: CredentialContent['certificate']) => Promise<boolean>
}

export function clientConfigFor(options: GroupOptions = {}): ClientConfig {
  return {
    ...defaultClientConfig,
    authService: {
      async validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
        let content: CredentialContent
        try {
          content = contentOfCredential(credential)
        } catch {
          return false
        }
        return options.validateCredential === undefined ? true : options.validateCredential(content.identity, signaturePublicKey, content.certificate)
      },
    },
  }
}

function checkGroupId(groupId: Uint8Array): void {
  if (groupId.length < limits.mlsGroupIdBytesMin || groupId.length > limits.mlsGroupIdBytesMax) {
    throw mlsError(MlsErrorCode.malformed, `groupId is ${groupId.length} bytes, want ${limits.mlsGroupIdBytesMin}..${limits.mlsGroupIdBytesMax}`)
  }
}

/** A new group (epoch 0) with `member` alone in it. groupId: the thread id bytes. */
export async function createGroup(member: Member, groupId: Uint8Array, options: GroupOptions = {}): Promise<Group> {
  checkGroupId(groupId)
  const cs = await mlsSuite()
  // The creator's own leaf comes from a fresh key package that is never published.
  const kp = await generateKeyPackageWithKey(memberCredential(member), zixtCapabilities(), defaultLifetime, [], member.signatureKeys, cs)
  const state = await wrapMls(MlsErrorCode.rejected, 'createGroup', () =>
    mlsCreateGroup(groupId.slice(), kp.publicPackage, kp.privatePackage, [], cs, clientConfigFor(options)),
  )
  zeroOutUint8Array(kp.privatePackage.initPrivateKey) // the init key of an unpublished package is never used
  return { state }
}

export type JoinResult = { readonly group: Group; readonly member: Member }

/**
 * Joins from a Welcome addressed to one of `member`'s key packages. The ratchet tree
 * comes from the Welcome's ratchet_tree extension (Zixt's default); `ratchetTree`
 * (bytes from exportRatchetTree) is for a committer that sent it out of band.
 * Returns the member without the consumed key package (a last-resort one is kept).
 */
export async function joinFromWelcome(
  member: Member,
  welcomeBytes: Uint8Array,
  options: GroupOptions & {
    readonly ratchetTree?: Uint8Array
    /** Sees the joined group's devices before the key package is consumed; a message refuses the join (ZIXT_ERR_MLS_MEMBERSHIP). */
    readonly checkMembers?: (members: readonly GroupMember[]) => string | undefined
    /**
     * The group and epoch the Welcome must open (the thread's group id, the epoch after the
     * commit that carried it): a Welcome of another group or epoch is refused before the
     * key package is consumed (ZIXT_ERR_MLS_WRONG_GROUP / ZIXT_ERR_MLS_WRONG_EPOCH).
     */
    readonly expected?: { readonly groupId: Uint8Array; readonly epoch: bigint }
  } = {},
): Promise<JoinResult> {
  if (welcomeBytes.length > limits.mlsHandshakeBytesMax) {
    throw mlsError(MlsErrorCode.tooLarge, `welcome of ${welcomeBytes.length} bytes exceeds ${limits.mlsHandshakeBytesMax}`)
  }
  const decoded = await wrapMls(MlsErrorCode.malformed, 'welcome', async () => decodeMlsMessage(welcomeBytes, 0))
  if (decoded === undefined || decoded[1] !== welcomeBytes.length || decoded[0].wireformat !== 'mls_welcome') {
    throw mlsError(MlsErrorCode.malformed, 'bytes are not exactly one MLS Welcome')
  }
  const welcome = decoded[0].welcome
  if (welcome.cipherSuite !== MLS_SUITE_NAME) throw mlsError(MlsErrorCode.unsupported, `welcome suite ${welcome.cipherSuite} is not ${MLS_SUITE_NAME}`)
  const held = member.keyPackages.find((k) => welcome.secrets.some((s) => equalBytes(s.newMember, k.ref)))
  if (held === undefined) throw mlsError(MlsErrorCode.notMember, 'the welcome is not addressed to any key package this member holds')
  const tree = options.ratchetTree === undefined ? undefined : decodeTree(options.ratchetTree)
  const cs = await mlsSuite()
  const state = await wrapMls(MlsErrorCode.rejected, 'joinFromWelcome', () =>
    joinGroup(welcome, held.publicPackage, held.privatePackage, emptyPskIndex, cs, tree, undefined, clientConfigFor(options)),
  )
  const expected = options.expected
  if (expected !== undefined && !equalBytes(state.groupContext.groupId, expected.groupId)) {
    throw mlsError(MlsErrorCode.wrongGroup, 'the welcome opens another group than the thread\'s')
  }
  if (expected !== undefined && state.groupContext.epoch !== expected.epoch) {
    throw mlsError(MlsErrorCode.wrongEpoch, `the welcome opens epoch ${state.groupContext.epoch}, the commit that carried it leads to epoch ${expected.epoch}`)
  }
  const refusal = options.checkMembers?.(membersOfTree(state.ratchetTree))
  if (refusal !== undefined) throw mlsError(MlsErrorCode.membership, refusal)
  if (held.lastResort) return { group: { state }, member }
  zeroOutUint8Array(held.privatePackage.initPrivateKey) // RFC 9420 §16.8: delete a used init key
  return { group: { state }, member: { ...member, keyPackages: member.keyPackages.filter((k) => k !== held) } }
}

function decodeTree(bytes: Uint8Array): RatchetTree {
  const d = (() => {
    try {
      return decodeRatchetTree(bytes, 0)
    } catch {
      return undefined
    }
  })()
  if (d === undefined || d[1] !== bytes.length) throw mlsError(MlsErrorCode.malformed, 'ratchetTree does not decode')
  return d[0]
}

/** The ratchet tree (RFC 9420 §12.4.3.3 encoding), for out-of-band delivery to joiners. */
export function exportRatchetTree(group: Group): Uint8Array {
  return encodeRatchetTree(group.state.ratchetTree)
}

export function groupId(group: Group): Uint8Array {
  return group.state.groupContext.groupId.slice()
}

export function groupEpoch(group: Group): bigint {
  return group.state.groupContext.epoch
}

/** false once a commit removed us: the group can no longer send or receive. */
export function isActive(group: Group): boolean {
  return group.state.groupActiveState.kind === 'active'
}

export function ownLeafIndex(group: Group): number {
  return group.state.privatePath.leafIndex
}

/** Members in leaf order. Leaves sit at even node indices (RFC 9420 §4.1, Appendix C). */
export function groupMembers(group: Group): GroupMember[] {
  return membersOfTree(group.state.ratchetTree)
}

export function membersOfTree(tree: RatchetTree): GroupMember[] {
  const out: GroupMember[] = []
  for (let node = 0; node < tree.length; node += 2) {
    const n = tree[node]
    if (n === undefined || n.nodeType !== 'leaf') continue
    out.push({ leafIndex: node / 2, identity: identityOfCredential(n.leaf.credential), signaturePublicKey: n.leaf.signaturePublicKey })
  }
  return out
}

/** The group's epoch authenticator (RFC 9420 §8.7): equal for all members in the same epoch. */
export function epochAuthenticator(group: Group): Uint8Array {
  return group.state.keySchedule.epochAuthenticator.slice()
}
