/**
 * A simulated RS-485 bus of soil probes: a Modbus RTU *slave* side on a serial path
 * (in tests and the bench, one end of a socat pty pair; the gateway polls the other
 * end as it would a USB-RS485 adapter). It answers several unit ids, each with a
 * register map (built-in `cwt-7in1` / `sensecap-3in1`, or a custom one), values that
 * drift like a real irrigated bed (the soil_probe simulator's, plus slow N/P/K), and
 * a fault that can be switched at run time:
 *
 *   silent    never answers (dead probe, cut cable)
 *   bad-crc   a correct answer with a wrong CRC (line noise on the way back)
 *   noise     random bytes instead of an answer, and another burst between frames
 *   exception exception 04 "server device failure" (Modbus Application Protocol §7)
 *
 * `wireTiming` delays each answer by what a real line takes: the request on the wire,
 * the t3.5 silence that ends it (the slave cannot act before), the slave's turnaround
 * and the answer on the wire, at the bus baud rate and character format
 * (Modbus over Serial Line V1.02 §2.5.1). A pty moves bytes instantly, so without it
 * the bench would measure the CPU, not a 9600-baud bus.
 *
 * Frames are built and checked here with our own CRC (poly 0xA001): the simulator
 * must not share code paths with the master under test (modbus-serial).
 */
import { SerialPort } from 'serialport';
import { crcOk, withCrc } from '../../gateway/inputs/modbus/crc.js';
import { builtinMap } from '../../gateway/inputs/modbus/maps.js';
import {
  charTimeMs,
  decodeRegisters,
  encodeRegisters,
  interFrameMs,
  MAX_READ_REGISTERS,
  READ_REQUEST_BYTES,
  resolveMap,
  type LineFormat,
  type RegisterMap,
  type ResolvedMap,
} from '../../gateway/inputs/modbus/registers.js';
import type { DeviceSimulator } from '../define.js';
import { soilProbeSimulator } from './simulator.js';
import { mulberry32 as prng } from '../prng.js';

export type SlaveFault = 'none' | 'silent' | 'bad-crc' | 'noise' | 'exception';

export interface SimulatedSlave {
  unitId: number;
  /** A built-in map id, or a map object (a custom model). */
  map: string | RegisterMap;
  fault?: SlaveFault;
  /** Seed of the drifting values (default: the unit id). */
  seed?: number;
}

export interface SoilProbeBusOptions {
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  slaves: SimulatedSlave[];
  /** Delay answers by the real line time at `baudRate` (see above). */
  wireTiming?: boolean;
  /** The probe's own processing time before it starts answering, ms (with wireTiming; default 0). */
  turnaroundMs?: number;
}

export interface SlaveStats {
  /** Read requests addressed to this unit with a valid CRC. */
  requests: number;
  /** Normal (valid) answers sent. */
  answered: number;
}

export interface SoilProbeBus {
  setFault(unitId: number, fault: SlaveFault): void;
  /** Pin some values (canonical fields) for this unit; `null` resumes drifting. */
  setValues(unitId: number, values: Record<string, number> | null): void;
  /** The values of the last normal answer, as the registers carried them (after scaling/rounding). */
  lastServed(unitId: number): Record<string, number> | undefined;
  stats(unitId: number): SlaveStats;
  close(): Promise<void>;
}

interface Unit {
  unitId: number;
  map: ResolvedMap;
  fault: SlaveFault;
  sim: DeviceSimulator;
  npk: { n: number; p: number; k: number };
  rng: () => number;
  lastStepAt: number;
  pinned: Record<string, number> | null;
  lastServed: Record<string, number> | undefined;
  stats: SlaveStats;
}

/** Exception codes, Modbus Application Protocol V1.1b3 §7. */
const ILLEGAL_FUNCTION = 0x01;
const ILLEGAL_DATA_ADDRESS = 0x02;
const ILLEGAL_DATA_VALUE = 0x03;
const SERVER_DEVICE_FAILURE = 0x04;

export async function startSoilProbeBus(opts: SoilProbeBusOptions): Promise<SoilProbeBus> {
  const line: LineFormat = { baudRate: opts.baudRate ?? 9600, parity: opts.parity ?? 'none', dataBits: 8, stopBits: opts.stopBits ?? 1 };
  const units = new Map<number, Unit>();
  for (const s of opts.slaves) {
    const map = typeof s.map === 'string' ? builtinMap(s.map) : resolveMap(`custom-${s.unitId}`, s.map);
    if (!map) throw new Error(`modbus-slave: unknown map "${String(s.map)}"`);
    if (units.has(s.unitId)) throw new Error(`modbus-slave: unit ${s.unitId} twice`);
    const rng = prng(s.seed ?? s.unitId);
    units.set(s.unitId, {
      unitId: s.unitId,
      map,
      fault: s.fault ?? 'none',
      sim: soilProbeSimulator({ deviceId: `unit-${s.unitId}`, hamlet: 'sim', role: 'farm', rng }),
      // Available N/P/K of a fertilised paddy or vegetable bed, mg/kg.
      npk: { n: 40 + rng() * 80, p: 15 + rng() * 45, k: 80 + rng() * 170 },
      rng,
      lastStepAt: 0,
      pinned: null,
      lastServed: undefined,
      stats: { requests: 0, answered: 0 },
    });
  }

  const port = new SerialPort({ path: opts.path, baudRate: line.baudRate, parity: line.parity, stopBits: opts.stopBits ?? 1, dataBits: 8, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  // The pty vanishing (socat killed) closes the port with an error: the bus is gone, not the process.
  port.on('error', () => undefined);

  const pending = new Set<NodeJS.Timeout>();
  let closed = false;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      pending.delete(t);
      if (!closed) fn();
    }, ms);
    pending.add(t);
  };
  const send = (bytes: Buffer) => {
    if (!closed && port.isOpen) port.write(bytes, () => undefined);
  };

  const t35 = interFrameMs(line);
  const lineMs = (bytes: number) => bytes * charTimeMs(line);
  const reply = (requestBytes: number, answer: Buffer) => {
    if (!opts.wireTiming) return send(answer);
    later(lineMs(requestBytes) + t35 + (opts.turnaroundMs ?? 0) + lineMs(answer.length), () => send(answer));
  };

  // RTU framing (Modbus over Serial Line §2.5.1.1): a silence longer than t3.5 ends a
  // frame. A pty has no silences to speak of, so frames are found by function code,
  // fixed request length and CRC; a partial frame idle for 50 ms is dropped.
  let rx = Buffer.alloc(0);
  let idle: NodeJS.Timeout | null = null;
  port.on('data', (chunk: Buffer) => {
    rx = Buffer.concat([rx, chunk]);
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => (rx = Buffer.alloc(0)), 50);
    while (rx.length >= READ_REQUEST_BYTES) {
      const frame = rx.subarray(0, READ_REQUEST_BYTES);
      if (!crcOk(frame)) {
        rx = rx.subarray(1); // not a frame start: resynchronise byte by byte
        continue;
      }
      rx = rx.subarray(READ_REQUEST_BYTES);
      handle(Buffer.from(frame));
    }
  });

  const handle = (req: Buffer) => {
    const unit = units.get(req[0]!);
    if (!unit) return; // another unit's request (or a broadcast, which reads never answer)
    const fc = req[1]!;
    if (fc !== 0x03 && fc !== 0x04) return reply(req.length, exception(unit.unitId, fc, ILLEGAL_FUNCTION));
    unit.stats.requests++;
    switch (unit.fault) {
      case 'silent':
        return;
      case 'exception':
        return reply(req.length, exception(unit.unitId, fc, SERVER_DEVICE_FAILURE));
      case 'noise': {
        reply(req.length, noise(unit.rng, units, 1 + Math.floor(unit.rng() * 24)));
        // More line noise a little later, between this frame and the next.
        later(20 + unit.rng() * 100, () => send(noise(unit.rng, units, 1 + Math.floor(unit.rng() * 8))));
        return;
      }
    }
    const address = req.readUInt16BE(2);
    const count = req.readUInt16BE(4);
    if (count < 1 || count > MAX_READ_REGISTERS) return reply(req.length, exception(unit.unitId, fc, ILLEGAL_DATA_VALUE));
    if (address < unit.map.start || address + count > unit.map.start + unit.map.count) {
      return reply(req.length, exception(unit.unitId, fc, ILLEGAL_DATA_ADDRESS));
    }
    const words = encodeRegisters(unit.map, valuesOf(unit));
    unit.lastServed = decodeRegisters(unit.map, words);
    const body = Buffer.alloc(3 + 2 * count);
    body[0] = unit.unitId;
    body[1] = fc;
    body[2] = 2 * count;
    for (let i = 0; i < count; i++) body.writeUInt16BE(words[address - unit.map.start + i]!, 3 + 2 * i);
    const answer = withCrc(body);
    if (unit.fault === 'bad-crc') answer[answer.length - 1]! ^= 0x5a;
    else unit.stats.answered++;
    reply(req.length, answer);
  };

  const valuesOf = (unit: Unit): Record<string, number> => {
    const now = Date.now();
    const dtS = unit.lastStepAt ? (now - unit.lastStepAt) / 1000 : 0;
    unit.lastStepAt = now;
    const f = unit.sim.next({ now, dtS, fault: 'none' });
    // N/P/K drift slowly (fertiliser is taken up over days) and stay in a plausible band.
    const walk = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v + (unit.rng() - 0.5) * 0.5));
    unit.npk = { n: walk(unit.npk.n, 5, 400), p: walk(unit.npk.p, 2, 200), k: walk(unit.npk.k, 10, 600) };
    const values: Record<string, number> = {
      moisture_pct: Number(f['moisture_pct']),
      soil_temp_c: Number(f['soil_temp_c']),
      ec_us_cm: Number(f['ec_us_cm']),
      ph: Number(f['ph']),
      nitrogen_mg_kg: unit.npk.n,
      phosphorus_mg_kg: unit.npk.p,
      potassium_mg_kg: unit.npk.k,
    };
    return unit.pinned ? { ...values, ...unit.pinned } : values;
  };

  const unitOf = (unitId: number): Unit => {
    const u = units.get(unitId);
    if (!u) throw new Error(`modbus-slave: no unit ${unitId} on this bus`);
    return u;
  };

  return {
    setFault(unitId, fault) {
      unitOf(unitId).fault = fault;
    },
    setValues(unitId, values) {
      unitOf(unitId).pinned = values;
    },
    lastServed(unitId) {
      return unitOf(unitId).lastServed;
    },
    stats(unitId) {
      return { ...unitOf(unitId).stats };
    },
    async close() {
      closed = true;
      for (const t of pending) clearTimeout(t);
      pending.clear();
      if (idle) clearTimeout(idle);
      if (!port.isOpen) return;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}

function exception(unitId: number, fc: number, code: number): Buffer {
  // Modbus Application Protocol V1.1b3 §7: function code with its high bit set, then the code.
  return withCrc(Buffer.from([unitId, fc | 0x80, code]));
}

/**
 * Random bytes that never contain a served unit id or a read function code, so
 * the noise cannot be mistaken for the start of a frame: what is tested is that
 * noise is discarded, not the odds of a random valid CRC.
 */
function noise(rng: () => number, units: Map<number, Unit>, length: number): Buffer {
  const banned = new Set<number>([...units.keys(), 0x03, 0x04, 0x83, 0x84]);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    let b: number;
    do b = Math.floor(rng() * 256);
    while (banned.has(b));
    out[i] = b;
  }
  return out;
}

