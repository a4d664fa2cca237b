/**
 * CRC-16/MODBUS of an RTU frame (Modbus over Serial Line V1.02 §2.5.1.2 and
 * §6.2.2): initial value 0xFFFF, reflected polynomial 0xA001, no final XOR. The
 * CRC is appended low byte first, the only little-endian field of a frame.
 *
 * Used by the slave simulator (devices/soil_probe/modbus-slave.ts) and by tests;
 * the gateway's master side uses modbus-serial, which checks the CRC itself.
 */

const TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc16Modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ TABLE[(crc ^ b) & 0xff]!;
  return crc;
}

/** `frame` followed by its CRC (low byte first). */
export function withCrc(frame: Uint8Array): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  out.set(frame, 0);
  out.writeUInt16LE(crc16Modbus(frame), frame.length);
  return out;
}

/** True when the last two bytes of `frame` are the CRC of the rest. */
export function crcOk(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const body = frame.subarray(0, frame.length - 2);
  const got = frame[frame.length - 2]! | (frame[frame.length - 1]! << 8);
  return crc16Modbus(body) === got;
}
