/**
 * Register maps: how a sensor model lays its values out in Modbus registers, and
 * the codec between register words and the device kind's canonical fields.
 *
 * Modbus Application Protocol V1.1b3 §4.2: every 16-bit register is sent
 * big-endian (high byte first). A 32-bit value spans two registers whose order
 * is not fixed by the standard: `high-first` ("ABCD", most sensors and PLCs) or
 * `low-first` ("CDAB", Modicon-style meters). Also serial line timing (Modbus over
 * Serial Line V1.02 §2.5.1), shared by the poller, the slave simulator and the bench.
 */

export type RegisterFunction = 'holding' | 'input';
export type RegisterType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';
export type WordOrder = 'high-first' | 'low-first';

export interface RegisterSpec {
  /** Canonical field of the device kind, e.g. `moisture_pct`. */
  field: string;
  /** Register address as sent on the wire (0-based PDU address, not the "4xxxx" PLC number). */
  address: number;
  type: RegisterType;
  /** For 32-bit types only. */
  wordOrder: WordOrder;
  /** value = raw × scale + offset */
  scale: number;
  offset: number;
}

export interface RegisterMap {
  /** Who makes it and where the layout comes from. */
  description?: string | undefined;
  /** FC 0x03 Read Holding Registers (§6.3) or FC 0x04 Read Input Registers (§6.4). */
  function: RegisterFunction;
  registers: readonly RegisterSpec[];
}

/** A map ready to poll: one read of `count` registers from `start` covers every field. */
export interface ResolvedMap extends RegisterMap {
  id: string;
  start: number;
  count: number;
}

/** Application Protocol V1.1b3 §6.3/§6.4: one read returns at most 125 registers. */
export const MAX_READ_REGISTERS = 125;

export function registerWidth(type: RegisterType): 1 | 2 {
  return type === 'uint16' || type === 'int16' ? 1 : 2;
}

export function resolveMap(id: string, map: RegisterMap): ResolvedMap {
  let start = Infinity;
  let end = -Infinity;
  for (const r of map.registers) {
    start = Math.min(start, r.address);
    end = Math.max(end, r.address + registerWidth(r.type));
  }
  if (!Number.isFinite(start)) throw new Error(`register map ${id} has no registers`);
  return { ...map, id, start, count: end - start };
}

/**
 * Canonical fields from the words of one read (`words[0]` is register `map.start`).
 * A float32 NaN or infinity (the "no value" of some sensors) is left out rather than
 * passed on as a number the kind schema would refuse.
 */
export function decodeRegisters(map: ResolvedMap, words: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of map.registers) {
    const i = r.address - map.start;
    const raw = rawValue(r, words, i);
    if (raw === undefined || !Number.isFinite(raw)) continue;
    out[r.field] = tidy(raw * r.scale + r.offset);
  }
  return out;
}

function rawValue(r: RegisterSpec, words: readonly number[], i: number): number | undefined {
  const w0 = words[i];
  if (w0 === undefined) return undefined;
  switch (r.type) {
    case 'uint16':
      return w0 & 0xffff;
    case 'int16':
      return ((w0 & 0xffff) << 16) >> 16;
  }
  const w1 = words[i + 1];
  if (w1 === undefined) return undefined;
  const [hi, lo] = r.wordOrder === 'high-first' ? [w0, w1] : [w1, w0];
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(hi & 0xffff, 0);
  buf.writeUInt16BE(lo & 0xffff, 2);
  switch (r.type) {
    case 'uint32':
      return buf.readUInt32BE(0);
    case 'int32':
      return buf.readInt32BE(0);
    case 'float32':
      return buf.readFloatBE(0);
  }
}

/** 27.400000000000002 → 27.4: scaling by 0.1 must not invent digits the register never had. */
function tidy(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/**
 * Register words for canonical values (the inverse of `decodeRegisters`), for the
 * slave simulator. Missing fields read as 0; values are clamped to the type's range
 * as a real sensor's firmware would saturate.
 */
export function encodeRegisters(map: ResolvedMap, values: Readonly<Record<string, number>>): number[] {
  const words: number[] = new Array<number>(map.count).fill(0);
  for (const r of map.registers) {
    const v = values[r.field];
    if (v === undefined) continue;
    const raw = (v - r.offset) / r.scale;
    const i = r.address - map.start;
    const buf = Buffer.alloc(4);
    switch (r.type) {
      case 'uint16':
        words[i] = clamp(Math.round(raw), 0, 0xffff);
        continue;
      case 'int16':
        words[i] = clamp(Math.round(raw), -0x8000, 0x7fff) & 0xffff;
        continue;
      case 'uint32':
        buf.writeUInt32BE(clamp(Math.round(raw), 0, 0xffffffff), 0);
        break;
      case 'int32':
        buf.writeInt32BE(clamp(Math.round(raw), -0x80000000, 0x7fffffff), 0);
        break;
      case 'float32':
        buf.writeFloatBE(raw, 0);
        break;
    }
    const hi = buf.readUInt16BE(0);
    const lo = buf.readUInt16BE(2);
    words[i] = r.wordOrder === 'high-first' ? hi : lo;
    words[i + 1] = r.wordOrder === 'high-first' ? lo : hi;
  }
  return words;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

// ---------------------------------------------------------------------------
// Serial line timing (Modbus over Serial Line V1.02 §2.5.1)
// ---------------------------------------------------------------------------

export interface LineFormat {
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: number;
  stopBits: number;
}

/**
 * Bits on the wire per character: 1 start + data + parity (if any) + stop bits.
 * §2.5.1 asks for 11 (8E1, 8O1 or 8N2); the common field setting 8N1 is 10.
 */
export function bitsPerChar(f: LineFormat): number {
  return 1 + f.dataBits + (f.parity === 'none' ? 0 : 1) + f.stopBits;
}

export function charTimeMs(f: LineFormat): number {
  return (bitsPerChar(f) / f.baudRate) * 1000;
}

/**
 * The silent interval that ends an RTU frame, t3.5 (§2.5.1.1): 3.5 character times,
 * fixed at 1.750 ms above 19200 baud (the spec's own value, so fast lines do not
 * depend on timer resolution).
 */
export function interFrameMs(f: LineFormat): number {
  return f.baudRate > 19_200 ? 1.75 : 3.5 * charTimeMs(f);
}

/** Bytes of a read request (FC 0x03/0x04): unit, function, address, quantity, CRC (§6.3). */
export const READ_REQUEST_BYTES = 8;

/** Bytes of the normal response to a read of `registers`: unit, function, byte count, 2N data, CRC. */
export function readResponseBytes(registers: number): number {
  return 5 + 2 * registers;
}
