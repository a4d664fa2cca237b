/**
 * Serial Modbus RTU, the parts without a wire: CRC against published vectors, the
 * built-in register maps against the vendors' own examples, custom maps from
 * config (32-bit types, word order, scale, offset), line timing, and the settings
 * schema with its cross-reference checks.
 */
import { describe, expect, it } from 'vitest';
import { crc16Modbus, crcOk, withCrc } from '../gateway/inputs/modbus/crc.js';
import { BUILTIN_MAP_IDS, builtinMap } from '../gateway/inputs/modbus/maps.js';
import {
  bitsPerChar,
  charTimeMs,
  decodeRegisters,
  encodeRegisters,
  interFrameMs,
  readResponseBytes,
  resolveMap,
  type RegisterMap,
} from '../gateway/inputs/modbus/registers.js';
import { ModbusSchema } from '../gateway/inputs/modbus/settings.js';
import { validateSettings } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { kindById } from '../devices/registry.js';
import { testSettingsInput } from './helpers/gateway.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Register words of a read response frame: unit, function, byte count, data..., CRC. */
const wordsOf = (frame: Buffer) => {
  const n = frame[2]! / 2;
  return Array.from({ length: n }, (_, i) => frame.readUInt16BE(3 + 2 * i));
};

describe('CRC-16/MODBUS', () => {
  it('matches the catalogue check value and frames from vendor manuals', () => {
    // CRC-16/MODBUS check value for "123456789" (reveng CRC catalogue).
    expect(crc16Modbus(Buffer.from('123456789', 'ascii'))).toBe(0x4b37);
    // Read 3 / 4 holding registers from 0x0000 of unit 1 (7-in-1 probe manuals): CRC sent low byte first.
    expect(withCrc(hex('010300000003'))).toStrictEqual(hex('01030000000305cb'));
    expect(withCrc(hex('010300000004'))).toStrictEqual(hex('0103000000044409'));
    // A 7-in-1 answer: moisture 0x01EF, temperature 0x0144, EC 0x0004.
    expect(crcOk(hex('01030601ef01440004b559'))).toBe(true);
  });

  it('refuses a frame with one bit flipped or too short to carry a CRC', () => {
    const frame = hex('01030601ef01440004b559');
    for (let i = 0; i < frame.length; i++) {
      const bad = Buffer.from(frame);
      bad[i]! ^= 0x01;
      expect(crcOk(bad), `byte ${i}`).toBe(false);
    }
    expect(crcOk(hex('01'))).toBe(false);
  });
});

describe('built-in register maps', () => {
  it('are exactly cwt-7in1 and sensecap-3in1, each one read of holding registers from 0x0000', () => {
    expect([...BUILTIN_MAP_IDS].sort()).toStrictEqual(['cwt-7in1', 'sensecap-3in1']);
    expect(builtinMap('cwt-7in1')).toMatchObject({ function: 'holding', start: 0, count: 7 });
    expect(builtinMap('sensecap-3in1')).toMatchObject({ function: 'holding', start: 0, count: 3 });
    expect(builtinMap('cwt-7-in-1')).toBeUndefined();
  });

  it('cwt-7in1 decodes a 7-in-1 answer: moisture ×0.1 %, temperature ×0.1 °C signed, EC, pH ×0.1, N, P, K', () => {
    // 0x0262 = 610, 0x0167 = 359, 0x0006, 0x0037 = 55 (the 4-register example of a 7-in-1 manual), then N/P/K.
    const frame = withCrc(hex('01030e 0262 0167 0006 0037 0020 0011 0045'));
    expect(decodeRegisters(builtinMap('cwt-7in1')!, wordsOf(frame))).toStrictEqual({
      moisture_pct: 61,
      soil_temp_c: 35.9,
      ec_us_cm: 6,
      ph: 5.5,
      nitrogen_mg_kg: 32,
      phosphorus_mg_kg: 17,
      potassium_mg_kg: 69,
    });
  });

  it('cwt-7in1 reads a temperature below zero as two\'s complement', () => {
    const map = builtinMap('cwt-7in1')!;
    expect(decodeRegisters(map, [0x0112, 0xffe2, 0, 0, 0, 0, 0])['soil_temp_c']).toBe(-3);
    expect(decodeRegisters(map, [0x0112, 0xff9c, 0, 0, 0, 0, 0])['soil_temp_c']).toBe(-10);
    expect(decodeRegisters(map, [0x0112, 0x8000, 0, 0, 0, 0, 0])['soil_temp_c']).toBe(-3276.8);
    // Moisture is unsigned: 0xFFFF is the error value 6553.5 %, left for the kind's range check.
    expect(decodeRegisters(map, [0xffff, 0, 0, 0, 0, 0, 0])['moisture_pct']).toBe(6553.5);
  });

  it('sensecap-3in1 decodes the examples of its manual (§5.3): temperature /100 signed, VWC /100, EC', () => {
    const map = builtinMap('sensecap-3in1')!;
    expect(decodeRegisters(map, [0x0702, 0x071d, 0x071d])).toStrictEqual({ soil_temp_c: 17.94, moisture_pct: 18.21, ec_us_cm: 1821 });
    expect(decodeRegisters(map, [0xff05, 0x0000, 0x0000])).toStrictEqual({ soil_temp_c: -2.51, moisture_pct: 0, ec_us_cm: 0 });
  });

  it('every built-in map field is a soil_probe field, N/P/K included', () => {
    const kind = kindById('soil_probe')!;
    for (const id of BUILTIN_MAP_IDS) for (const r of builtinMap(id)!.registers) expect(kind.fieldByName.has(r.field), `${id}: ${r.field}`).toBe(true);
    for (const f of ['nitrogen_mg_kg', 'phosphorus_mg_kg', 'potassium_mg_kg']) {
      expect(kind.fieldByName.get(f)).toMatchObject({ type: 'float', unit: 'mg/kg', min: 0, max: 2999 });
    }
  });

  it('encodes what it decodes (the slave simulator uses the same maps)', () => {
    for (const id of BUILTIN_MAP_IDS) {
      const map = builtinMap(id)!;
      const values = { moisture_pct: 27.4, soil_temp_c: -3.5, ec_us_cm: 640, ph: 5.8, nitrogen_mg_kg: 42, phosphorus_mg_kg: 17, potassium_mg_kg: 180 };
      const expected = Object.fromEntries(map.registers.map((r) => [r.field, values[r.field as keyof typeof values]]));
      expect(decodeRegisters(map, encodeRegisters(map, values))).toStrictEqual(expected);
    }
  });
});

describe('custom register maps from config', () => {
  const parsed = ModbusSchema.parse({
    maps: {
      'meter-x': {
        function: 'input',
        registers: [
          { field: 'moisture_pct', address: 0x10, type: 'float32' },
          { field: 'soil_temp_c', address: 0x12, type: 'float32', wordOrder: 'low-first' },
          { field: 'ec_us_cm', address: 0x14, type: 'uint32', scale: 0.001 },
          { field: 'ph', address: 0x16, type: 'int32', scale: 0.01, offset: 1 },
          { field: 'nitrogen_mg_kg', address: 0x18 },
        ],
      },
    },
  });

  it('fills defaults from the schema (uint16, high-first, scale 1, offset 0, holding)', () => {
    const m = parsed.maps['meter-x']!;
    expect(m.function).toBe('input');
    expect(m.registers[4]).toStrictEqual({ field: 'nitrogen_mg_kg', address: 0x18, type: 'uint16', wordOrder: 'high-first', scale: 1, offset: 0 });
    expect(ModbusSchema.parse({ maps: { y: { registers: [{ field: 'ph', address: 3 }] } } }).maps['y']!.function).toBe('holding');
  });

  it('decodes float32 in both word orders, uint32 and int32 with scale and offset', () => {
    const map = resolveMap('meter-x', parsed.maps['meter-x']!);
    expect(map).toMatchObject({ start: 0x10, count: 9 });
    // 23.5 = 0x41BC0000; 29.25 = 0x41EA0000 sent low word first; 123456 = 0x0001E240; -550 = 0xFFFFFDDA.
    const words = [0x41bc, 0x0000, 0x0000, 0x41ea, 0x0001, 0xe240, 0xffff, 0xfdda, 77];
    expect(decodeRegisters(map, words)).toStrictEqual({ moisture_pct: 23.5, soil_temp_c: 29.25, ec_us_cm: 123.456, ph: -4.5, nitrogen_mg_kg: 77 });
    expect(encodeRegisters(map, { moisture_pct: 23.5, soil_temp_c: 29.25, ec_us_cm: 123.456, ph: -4.5, nitrogen_mg_kg: 77 })).toStrictEqual(words);
  });

  it('leaves out a float32 NaN (a sensor\'s "no value") instead of passing it on', () => {
    const map = resolveMap('meter-x', parsed.maps['meter-x']!);
    const out = decodeRegisters(map, [0x7fc0, 0x0000, 0x0000, 0x41ea, 0, 1, 0, 0, 0]);
    expect(out).not.toHaveProperty('moisture_pct');
    expect(out['soil_temp_c']).toBe(29.25);
  });
});

describe('serial line timing (Modbus over Serial Line §2.5.1)', () => {
  it('counts start, data, parity and stop bits per character', () => {
    expect(bitsPerChar({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 })).toBe(10);
    expect(bitsPerChar({ baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 })).toBe(11);
    expect(bitsPerChar({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 2 })).toBe(11);
    expect(charTimeMs({ baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 })).toBeCloseTo(1.1458, 4);
  });

  it('t3.5 is 3.5 characters, and 1.75 ms above 19200 baud', () => {
    expect(interFrameMs({ baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 })).toBeCloseTo(3.6458, 4);
    expect(interFrameMs({ baudRate: 19200, parity: 'even', dataBits: 8, stopBits: 1 })).toBeCloseTo(2.0052, 4);
    expect(interFrameMs({ baudRate: 38400, parity: 'none', dataBits: 8, stopBits: 1 })).toBe(1.75);
    expect(readResponseBytes(7)).toBe(19);
  });
});

describe('modbus settings', () => {
  const soil = [
    { id: 'dat-01', name: 'Cảm biến 1', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
    { id: 'dat-02', name: 'Cảm biến 2', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
    { id: 'dat-03', name: 'Cảm biến 3', kind: 'soil_probe', hamlet: 'ap-02', role: 'farm' },
  ] as const;
  const input = (modbus: unknown): SettingsInput => {
    const base = testSettingsInput('/tmp/x');
    return { ...base, devices: [...(base.devices ?? []), ...soil], modbus } as SettingsInput;
  };
  const problems = (modbus: unknown) => {
    const r = validateSettings(input(modbus));
    return r.ok ? {} : Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
  };

  it('fills every default from the schema', () => {
    const r = validateSettings(input({ buses: [{ id: 'farm-1', port: '/dev/ttyUSB0', slaves: [{ device: 'dat-01', unitId: 1, map: 'cwt-7in1' }] }] }));
    expect(r.ok ? [] : r.problems).toStrictEqual([]);
    if (!r.ok) return;
    expect(r.settings.modbus).toStrictEqual({
      buses: [
        {
          id: 'farm-1',
          port: '/dev/ttyUSB0',
          baudRate: 9600,
          parity: 'none',
          dataBits: 8,
          stopBits: 1,
          timeoutMs: 300,
          reopenMinMs: 1000,
          reopenMaxMs: 30_000,
          backoffMaxFactor: 8,
          slaves: [{ device: 'dat-01', unitId: 1, map: 'cwt-7in1', pollS: 60 }],
        },
      ],
      maps: {},
    });
  });

  it('accepts a custom map used by a slave', () => {
    const r = validateSettings(
      input({
        maps: { 'rk-3in1': { description: 'Renke RS-ECTH', registers: [{ field: 'moisture_pct', address: 0, scale: 0.1 }, { field: 'ec_us_cm', address: 2 }] } },
        buses: [{ id: 'farm-1', port: '/dev/serial/by-id/usb-FTDI_FT232R-if00-port0', slaves: [{ device: 'dat-01', unitId: 7, map: 'rk-3in1', pollS: 30 }] }],
      }),
    );
    expect(r.ok ? [] : r.problems).toStrictEqual([]);
  });

  it('reports unknown devices and maps with hints, and map fields the kind lacks', () => {
    const p = problems({
      buses: [
        {
          id: 'farm-1',
          port: '/dev/ttyUSB0',
          slaves: [
            { device: 'dat-o1', unitId: 1, map: 'cwt-7in1' },
            { device: 'dat-02', unitId: 2, map: 'cwt-7-in-1' },
            { device: 'loa-01', unitId: 3, map: 'sensecap-3in1' },
          ],
        },
      ],
    });
    expect(p['modbus.buses[0].slaves[0].device']).toBe('unknown device "dat-o1"; did you mean "dat-01"? known: loa-01, loa-02, ups-01, cam-1, cam-2, dat-01, dat-02, dat-03');
    expect(p['modbus.buses[0].slaves[1].map']).toBe('unknown register map "cwt-7-in-1"; did you mean "cwt-7in1"? known: cwt-7in1, sensecap-3in1');
    expect(p['modbus.buses[0].slaves[2].map']).toMatch(
      /^map "sensecap-3in1" reads "soil_temp_c", "moisture_pct", "ec_us_cm", which are not fields of device "loa-01" \(kind loudspeaker\); known: uptime_s, .*supply_v/,
    );
  });

  it('reports a unit id used twice on a bus, a device polled twice, and two buses on one port', () => {
    const p = problems({
      buses: [
        { id: 'farm-1', port: '/dev/ttyUSB0', slaves: [{ device: 'dat-01', unitId: 5, map: 'cwt-7in1' }, { device: 'dat-02', unitId: 5, map: 'cwt-7in1' }] },
        { id: 'farm-2', port: '/dev/ttyUSB0', slaves: [{ device: 'dat-01', unitId: 5, map: 'cwt-7in1' }] },
        { id: 'farm-2', port: '/dev/ttyUSB1', reopenMinMs: 5000, reopenMaxMs: 1000 },
      ],
    });
    expect(p['modbus.buses[0].slaves[1].unitId']).toBe('unit id 5 is already used by slaves[0] on this bus');
    expect(p['modbus.buses[1].port']).toBe('port "/dev/ttyUSB0" is already used by modbus.buses[0]; one bus per serial port');
    expect(p['modbus.buses[1].slaves[0].device']).toBe('device "dat-01" is already polled by modbus.buses[0].slaves[0]');
    expect(p['modbus.buses[2].id']).toBe('duplicate bus id "farm-2"');
    expect(p['modbus.buses[2].reopenMaxMs']).toBe('reopenMaxMs (1000) is below reopenMinMs (5000)');
    // A unit id used on two different buses is fine: they are separate lines.
    expect(p['modbus.buses[1].slaves[0].unitId']).toBeUndefined();
  });

  it('checks types, ranges and unknown keys with their paths', () => {
    const p = problems({
      maps: {
        'cwt-7in1': { registers: [{ field: 'ph', address: 3 }] },
        wide: { registers: [{ field: 'ph', address: 0 }, { field: 'ph', address: 200 }] },
      },
      buses: [{ id: 'farm-1', port: '/dev/ttyUSB0', baudrate: 9600, parity: 'evn', stopBits: 3, slaves: [{ device: 'dat-01', unitId: 0, map: 'cwt-7in1' }, { device: 'dat-02', unitId: 248, map: 'cwt-7in1' }] }],
    });
    expect(p['modbus.buses[0].baudrate']).toMatch(/^unknown key "baudrate"; did you mean "baudRate"\? allowed: id, port, baudRate, /);
    expect(p['modbus.buses[0].parity']).toMatch(/"evn" is not allowed; did you mean "even"\?/);
    expect(p['modbus.buses[0].stopBits']).toBeDefined();
    expect(p['modbus.buses[0].slaves[0].unitId']).toBeDefined();
    expect(p['modbus.buses[0].slaves[1].unitId']).toBeDefined();
    expect(p['modbus.maps.cwt-7in1']).toBe('map "cwt-7in1" has the name of a built-in map; choose another id');
    expect(p['modbus.maps.wide.registers[1].field']).toBe('field "ph" is mapped twice in map "wide"');
    expect(p['modbus.maps.wide.registers']).toMatch(/spans 201 registers .* at most 125/);
  });

  it('refuses a map that reads a text field, and hints at a near field name', () => {
    const p = problems({
      maps: { odd: { registers: [{ field: 'network_type', address: 0 }] }, one: { registers: [{ field: 'supply_mv', address: 0 }] } },
      buses: [
        {
          id: 'farm-1',
          port: '/dev/ttyUSB0',
          slaves: [
            { device: 'loa-01', unitId: 1, map: 'odd' },
            { device: 'loa-02', unitId: 2, map: 'one' },
          ],
        },
      ],
    });
    expect(kindById('loudspeaker')!.fieldByName.get('network_type')?.type).toBe('string');
    expect(p['modbus.buses[0].slaves[0].map']).toBe('map "odd" reads "network_type", a text field of loudspeaker; registers carry numbers only');
    // One missing field gets a "did you mean".
    expect(p['modbus.buses[0].slaves[1].map']).toMatch(/^map "one" reads "supply_mv", which is not a field of device "loa-02" \(kind loudspeaker\); did you mean "supply_v"\? known: /);
  });
});

// A custom map typed in code, to keep the RegisterMap type honest against the schema output.
const _typed: RegisterMap = ModbusSchema.parse({ maps: { z: { registers: [{ field: 'ph', address: 1 }] } } }).maps['z']!;
void _typed;
