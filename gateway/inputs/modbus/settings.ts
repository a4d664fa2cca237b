/**
 * Settings of the serial Modbus RTU transport (`modbus:` in the config): RS-485
 * buses behind USB adapters, the slaves (soil probes) on each, and register maps
 * per sensor model. Types, defaults and descriptions live here; cross-references
 * (inventory devices, map ids, map fields vs the device's kind, unit ids, ports)
 * are checked by `checkModbus`, so `check-config` reports them with a hint.
 */
import { z } from 'zod';
import { kindById } from '../../../devices/registry.js';
import { arr, checkDeviceRef, hint, obj, str, type CheckRefs } from '../../settings/check-kit.js';
import { BUILTIN_MAP_IDS, BUILTIN_MAPS } from './maps.js';
import { MAX_READ_REGISTERS, registerWidth, type RegisterType } from './registers.js';

// Same rule as the inventory ids (gateway/settings/schema.ts ID_PATTERN; not
// imported from there: schema.ts imports this module).
const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, ".", "_" or "-" (max 64), starting with a letter or digit');

const REGISTER_TYPES: readonly string[] = ['uint16', 'int16', 'uint32', 'int32', 'float32'] satisfies RegisterType[];

const MapRegister = z
  .strictObject({
    field: z.string().min(1).describe('Canonical field of the device kind, e.g. "moisture_pct" (see GET /api/kinds)'),
    address: z
      .number()
      .int()
      .min(0)
      .max(0xffff)
      .describe('Register address on the wire, 0-based (vendor "PLC number" 40001 or 1 is address 0)'),
    type: z
      .enum(['uint16', 'int16', 'uint32', 'int32', 'float32'])
      .default('uint16')
      .describe('uint16/int16: one register; uint32/int32/float32 (IEEE 754): two registers'),
    wordOrder: z
      .enum(['high-first', 'low-first'])
      .default('high-first')
      .describe('32-bit types: which register holds the high word ("ABCD" = high-first, "CDAB" = low-first)'),
    scale: z.number().default(1).describe('value = raw × scale + offset, e.g. 0.1 for a register in tenths'),
    offset: z.number().default(0).describe('Added after scaling'),
  })
  .describe('One value of a register map');

const RegisterMapSchema = z
  .strictObject({
    description: z.string().max(300).optional().describe('Vendor, model and the manual the layout comes from'),
    function: z
      .enum(['holding', 'input'])
      .default('holding')
      .describe('holding: FC 0x03 Read Holding Registers; input: FC 0x04 Read Input Registers'),
    registers: z.array(MapRegister).min(1).describe(`Values read in one request (span at most ${MAX_READ_REGISTERS} registers)`),
  })
  .describe('Register layout of one sensor model');

const Slave = z
  .strictObject({
    device: Id.describe('Inventory device id (a soil_probe, or any kind that has the map\'s fields)'),
    unitId: z.number().int().min(1).max(247).describe('Modbus unit (slave) address, 1..247 (Modbus over Serial Line §2.2)'),
    map: z
      .string()
      .min(1)
      .describe(`Register map: built-in ${BUILTIN_MAP_IDS.map((m) => `"${m}"`).join(', ')}, or an id from modbus.maps`),
    pollS: z
      .number()
      .min(0.05)
      .max(86_400)
      .default(60)
      .describe("Poll interval, seconds; keep it shorter than the device's heartbeat (it is the probe's reporting interval)"),
  })
  .describe('A slave on the bus: which device it is, its unit id, register map and poll interval');

const Bus = z
  .strictObject({
    id: Id.describe('Bus name used in logs, metrics and status, e.g. "farm-1"'),
    port: z
      .string()
      .min(1)
      .describe('Serial device of the USB-RS485 adapter; prefer the stable /dev/serial/by-id/... name over /dev/ttyUSB0'),
    baudRate: z.number().int().min(300).max(921_600).default(9600).describe('Line speed, bit/s (every slave on the bus must match)'),
    parity: z.enum(['none', 'even', 'odd']).default('none').describe('Modbus over Serial Line §2.5.1 default is even; most soil probes ship with none'),
    dataBits: z.literal(8).default(8).describe('RTU characters always carry 8 data bits (§2.5.1)'),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1).describe('1 or 2 stop bits'),
    timeoutMs: z
      .number()
      .int()
      .min(20)
      .max(10_000)
      .default(300)
      .describe('Response timeout per request; a timed-out poll is retried once, and only for a slave that was answering'),
    interFrameDelayMs: z
      .number()
      .min(0)
      .max(1000)
      .optional()
      .describe('Silence before each request; default t3.5 = 3.5 character times, 1.75 ms above 19200 baud (§2.5.1.1)'),
    reopenMinMs: z.number().int().min(10).default(1000).describe('First delay before reopening a lost or missing port (jittered)'),
    reopenMaxMs: z.number().int().min(10).default(30_000).describe('Longest delay between reopen attempts (exponential, jittered)'),
    backoffMaxFactor: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe('A slave that keeps failing is polled at pollS × 2^(failures−1), at most pollS × this'),
    slaves: z.array(Slave).default([]).describe('The probes on this bus, each with its own unit id'),
  })
  .describe('One RS-485 bus (one serial port); its slaves are polled one request at a time');

export const ModbusSchema = z.strictObject({
  buses: z.array(Bus).default([]).describe('Serial buses, one per USB-RS485 adapter'),
  maps: z
    .record(Id, RegisterMapSchema)
    .default({})
    .describe(`Register maps per sensor model, in addition to the built-in ${BUILTIN_MAP_IDS.join(', ')}`),
});
export type ModbusSettings = z.output<typeof ModbusSchema>;
export type ModbusBusSettings = ModbusSettings['buses'][number];
export type ModbusSlaveSettings = ModbusBusSettings['slaves'][number];
export type ModbusMapSettings = ModbusSettings['maps'][string];

/**
 * Cross-references, on raw (possibly invalid) settings so `check-config` reports
 * them together with type errors: unknown devices and maps (with a hint), map
 * fields the device's kind does not have, a unit id used twice on one bus, a
 * device polled twice, two buses on one port, a map wider than one read.
 */
export function checkModbus(raw: Record<string, unknown>, refs: CheckRefs): void {
  const maps = obj(raw['maps']);
  const customIds = Object.keys(maps);
  const knownMaps = [...BUILTIN_MAP_IDS, ...customIds.filter((m) => !BUILTIN_MAP_IDS.includes(m))];

  /** Field names of a map (built-in or custom), or undefined when unknown. */
  const mapFields = (id: string): { field: string; type: unknown }[] | undefined => {
    if (maps[id] !== undefined) return arr(obj(maps[id])['registers']).map((r) => ({ field: str(r['field']) ?? '', type: r['type'] }));
    const b = BUILTIN_MAPS[id];
    return b ? b.registers.map((r) => ({ field: r.field, type: r.type })) : undefined;
  };

  for (const [id, mRaw] of Object.entries(maps)) {
    const at = (...p: (string | number)[]) => ['modbus', 'maps', id, ...p];
    if (BUILTIN_MAPS[id] !== undefined) refs.issue(at(), `map "${id}" has the name of a built-in map; choose another id`);
    const regs = arr(obj(mRaw)['registers']);
    const fields = new Set<string>();
    let lo = Infinity;
    let hi = -Infinity;
    regs.forEach((r, i) => {
      const field = str(r['field']);
      if (field !== undefined) {
        if (fields.has(field)) refs.issue(at('registers', i, 'field'), `field "${field}" is mapped twice in map "${id}"`);
        fields.add(field);
      }
      const address = r['address'];
      if (typeof address === 'number' && Number.isInteger(address)) {
        const type = r['type'];
        const width = typeof type === 'string' && REGISTER_TYPES.includes(type) ? registerWidth(type as RegisterType) : 1;
        lo = Math.min(lo, address);
        hi = Math.max(hi, address + width);
      }
    });
    if (hi - lo > MAX_READ_REGISTERS) {
      refs.issue(
        at('registers'),
        `map "${id}" spans ${hi - lo} registers (0x${lo.toString(16)}..0x${(hi - 1).toString(16)}); one read returns at most ${MAX_READ_REGISTERS} (Modbus Application Protocol §6.3)`,
      );
    }
  }

  const ports = new Map<string, number>();
  const busIds = new Set<string>();
  const devicesPolled = new Map<string, string>();
  arr(raw['buses']).forEach((bus, b) => {
    const at = (...p: (string | number)[]) => ['modbus', 'buses', b, ...p];
    const busId = str(bus['id']);
    if (busId !== undefined) {
      if (busIds.has(busId)) refs.issue(at('id'), `duplicate bus id "${busId}"`);
      busIds.add(busId);
    }
    const port = str(bus['port']);
    if (port !== undefined) {
      const prior = ports.get(port);
      // One process owns a serial port; two buses on it would interleave frames.
      if (prior !== undefined) refs.issue(at('port'), `port "${port}" is already used by modbus.buses[${prior}]; one bus per serial port`);
      else ports.set(port, b);
    }
    const min = bus['reopenMinMs'];
    const max = bus['reopenMaxMs'];
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      refs.issue(at('reopenMaxMs'), `reopenMaxMs (${max}) is below reopenMinMs (${min})`);
    }

    const units = new Map<number, number>();
    arr(bus['slaves']).forEach((slave, s) => {
      const sat = (...p: (string | number)[]) => at('slaves', s, ...p);
      const unit = slave['unitId'];
      if (typeof unit === 'number') {
        const prior = units.get(unit);
        if (prior !== undefined) refs.issue(sat('unitId'), `unit id ${unit} is already used by slaves[${prior}] on this bus`);
        else units.set(unit, s);
      }
      const device = str(slave['device']);
      const deviceOk = checkDeviceRef(refs, sat('device'), slave['device']);
      if (device !== undefined && deviceOk) {
        const where = `modbus.buses[${b}].slaves[${s}]`;
        const prior = devicesPolled.get(device);
        if (prior !== undefined) refs.issue(sat('device'), `device "${device}" is already polled by ${prior}`);
        else devicesPolled.set(device, where);
      }
      const mapId = str(slave['map']);
      if (mapId === undefined) return;
      const fields = mapFields(mapId);
      if (!fields) {
        refs.issue(sat('map'), `unknown register map "${mapId}"; ${hint(mapId, knownMaps)}known: ${knownMaps.join(', ')}`);
        return;
      }
      if (!deviceOk || device === undefined) return;
      const kind = kindById(refs.devices.get(device)?.kind ?? '');
      if (!kind) return; // the core schema reports an unknown kind
      const known = kind.fields.filter((f) => f.type !== 'string').map((f) => f.name);
      const missing = fields.map((f) => f.field).filter((f) => !kind.fieldByName.has(f));
      const text = fields.map((f) => f.field).filter((f) => kind.fieldByName.get(f)?.type === 'string');
      if (missing.length === 1) {
        const field = missing[0]!;
        refs.issue(sat('map'), `map "${mapId}" reads "${field}", which is not a field of device "${device}" (kind ${kind.id}); ${hint(field, known)}known: ${known.join(', ')}`);
      } else if (missing.length > 1) {
        refs.issue(
          sat('map'),
          `map "${mapId}" reads ${missing.map((f) => `"${f}"`).join(', ')}, which are not fields of device "${device}" (kind ${kind.id}); known: ${known.join(', ')}`,
        );
      }
      for (const field of text) {
        refs.issue(sat('map'), `map "${mapId}" reads "${field}", a text field of ${kind.id}; registers carry numbers only`);
      }
    });
  });
}
