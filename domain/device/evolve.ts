// How device events change the state.
import { fromBase64url } from '../encoding.ts'
import type { DeviceState, LedgerState } from '../state.ts'
import { updateDevice, updateUser, without } from '../state.ts'
import type { DeviceEvent } from './events.ts'

export function evolveDevice(state: LedgerState, event: DeviceEvent, time: number): LedgerState {
  switch (event.type) {
    case 'DeviceAdded': {
      const p = event.payload
      const device: DeviceState = {
        deviceId: p.deviceId,
        userId: p.userId,
        publicKey: fromBase64url(p.publicKey),
        keyVersion: 0,
        keyCreatedAt: time,
        revoked: false,
        rotationDue: false,
        expired: false,
        keyPackages: [],
        lastResort: null,
      }
      const next = updateUser(state, p.userId, (u) => ({ ...u, devices: [...u.devices, p.deviceId] }))
      return { ...next, devices: next.devices.set(p.deviceId, device) }
    }
    case 'DeviceRevoked': {
      const { userId, deviceId } = event.payload
      // a revoked device's key packages can no longer be claimed
      const next = updateDevice(state, deviceId, (d) => ({ ...d, revoked: true, keyPackages: [], lastResort: null }))
      return updateUser(next, userId, (u) => ({ ...u, devices: without(u.devices, deviceId) }))
    }
    case 'DeviceKeyRotated': {
      const p = event.payload
      const publicKey = fromBase64url(p.publicKey)
      return updateDevice(state, p.deviceId, (d) => ({ ...d, publicKey, keyVersion: p.keyVersion, keyCreatedAt: time, rotationDue: false, expired: false }))
    }
    case 'DeviceKeyRotationDue': return updateDevice(state, event.payload.deviceId, (d) => ({ ...d, rotationDue: true }))
    case 'DeviceKeyExpired': return updateDevice(state, event.payload.deviceId, (d) => ({ ...d, expired: true }))
  }
}
