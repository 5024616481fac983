// The crypto facade's shared surface. Backends are chosen by the shells:
// import { nativeCrypto } from 'domain/crypto/native.ts' (server) or
// import { nobleCrypto } from 'domain/crypto/noble.ts' (browser).
export type {
  Aead,
  CryptoFacade,
  HkdfHash,
  HmacHash,
  Kem,
  KeyPair,
  ScryptParams,
  Signer,
} from './types.ts'
export { checkBytes, checkLength, constantTimeEqual } from './check.ts'
export {
  aes256gcmSizes,
  mlDsa65Sizes,
  mlDsa87Sizes,
  mlKem1024Sizes,
  signatureContextBytesMax,
  slhDsaShake256fSizes,
} from './params.ts'
