/**
 * The OPC UA transport without a server: settings validation and its hints, the
 * NodeId string syntax (Part 6 §5.3.1.10), value conversion and StatusCode
 * severity (Part 4 §7.39), coalescing per device, keep-alives and verdicts, error
 * classification; and that the settings side never loads node-opcua. The real
 * server is in test/integration/opcua.integration.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FieldType } from '../devices/define.js';
import { classifyOpcuaError, convertValue, DATA_TYPE, ItemTable, severity, type DataValueLike, type ItemBinding } from '../gateway/inputs/opcua/mapping.js';
import { nodeIdWithIndex, parseNodeId } from '../gateway/inputs/opcua/node-id.js';
import { OpcuaSchema } from '../gateway/inputs/opcua/settings.js';
import { parseSettingsYaml, validateSettings } from '../gateway/settings/load.js';
import { CodedError } from '../gateway/errors.js';
import { testSettingsInput } from './helpers/gateway.js';

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const GOOD_NODE = 'ns=3;s="PumpStation1"."Pump"."Running"';

function withOpcua(opcua: unknown, extraDevices: object[] = []) {
  const input = testSettingsInput('/tmp/x') as Record<string, any>;
  input['devices'] = [
    ...input['devices'],
    { id: 'tuoi-01', name: 'Trạm bơm 1', kind: 'irrigation', hamlet: 'ap-01', role: 'pump_station' },
    { id: 'tuoi-02', name: 'Cụm van 2', kind: 'irrigation', hamlet: 'ap-02', role: 'valve_group' },
    ...extraDevices,
  ];
  input['opcua'] = opcua;
  return validateSettings(input);
}

function problems(opcua: unknown, extraDevices: object[] = []): Record<string, string> {
  const r = withOpcua(opcua, extraDevices);
  return r.ok ? {} : Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
}

const server = (over: Record<string, unknown> = {}) => ({
  id: 'plc-1',
  endpoint: 'opc.tcp://192.168.10.20:4840',
  items: [{ device: 'tuoi-01', field: 'pump_running', nodeId: GOOD_NODE }],
  ...over,
});

describe('opcua settings', () => {
  it('accepts a complete server and fills the defaults', () => {
    const r = withOpcua({ servers: [server()] });
    expect(r.ok ? [] : r.problems).toEqual([]);
    if (!r.ok) return;
    expect(r.settings.opcua!.servers[0]).toStrictEqual({
      id: 'plc-1',
      endpoint: 'opc.tcp://192.168.10.20:4840',
      securityMode: 'None',
      securityPolicy: 'None',
      auth: { type: 'anonymous' },
      trustServerCertificate: 'auto',
      publishingIntervalMs: 1000,
      samplingIntervalMs: 500,
      reconnectMinMs: 1000,
      reconnectMaxMs: 60_000,
      connectTimeoutMs: 15_000,
      items: [{ device: 'tuoi-01', field: 'pump_running', nodeId: GOOD_NODE }],
    });
    expect(r.settings.opcua!.pkiDir).toBeUndefined();
  });

  it('parses the README example with secure user-name auth', () => {
    const yaml = `
commune: { code: "12345", name: "Xã Thử", province: { code: "75", name: "Đồng Nai" } }
hamlets: [{ id: ap-01, name: "Ấp 1" }]
devices:
  - { id: tram-bom-1, name: "Trạm bơm Bàu Sen", kind: irrigation, hamlet: ap-01, role: pump_station }
opcua:
  servers:
    - id: plc-tram-bom-1
      endpoint: opc.tcp://192.168.10.20:4840
      securityMode: SignAndEncrypt
      securityPolicy: Basic256Sha256
      auth: { type: username, username: commune-edge, passwordEnv: CE_PLC1_PASSWORD }
      trustServerCertificate: pki
      items:
        - { device: tram-bom-1, field: pump_running, nodeId: 'ns=3;s="DB_Irrigation"."Pump1"."Running"' }
        - { device: tram-bom-1, field: flow_l_min,   nodeId: 'ns=3;s="DB_Irrigation"."Pump1"."Flow"' }
        - { device: tram-bom-1, field: pressure_bar, nodeId: 'nsu=http://www.siemens.com/simatic-s7-opcua;s="DB_Irrigation"."Pressure_mbar"', scale: 0.001 }
`;
    const r = parseSettingsYaml(yaml);
    expect(r.ok ? [] : r.problems).toEqual([]);
  });

  it('reports an unknown device, a field of another kind, a misspelt field with hints', () => {
    const p = problems({
      servers: [
        server({
          items: [
            { device: 'tuio-01', field: 'pump_running', nodeId: GOOD_NODE },
            { device: 'tuoi-01', field: 'flow_lmin', nodeId: GOOD_NODE },
            { device: 'tuoi-01', field: 'supply_v', nodeId: GOOD_NODE },
            { device: 'ups-01', field: 'pump_running', nodeId: GOOD_NODE },
          ],
        }),
      ],
    });
    expect(p['opcua.servers[0].items[0].device']).toMatch(/unknown device "tuio-01"; did you mean "tuoi-01"\? known: /);
    expect(p['opcua.servers[0].items[1].field']).toMatch(/"flow_lmin" is not a irrigation field; did you mean "flow_l_min"\? known: .*pump_running/);
    expect(p['opcua.servers[0].items[2].field']).toMatch(/"supply_v" is not a irrigation field; known: /);
    expect(p['opcua.servers[0].items[3].field']).toMatch(/"pump_running" is not a power field/);
    // plc_online is the gateway's own observation: not offered as a field to map.
    expect(p['opcua.servers[0].items[1].field']).not.toContain('plc_online');
  });

  it('refuses mapping plc_online, scaling a boolean, and two nodes for one field', () => {
    const p = problems({
      servers: [
        server({
          items: [
            { device: 'tuoi-01', field: 'plc_online', nodeId: GOOD_NODE },
            { device: 'tuoi-01', field: 'pump_running', nodeId: GOOD_NODE, scale: 2 },
            { device: 'tuoi-01', field: 'flow_l_min', nodeId: 'ns=3;s="A"' },
            { device: 'tuoi-01', field: 'flow_l_min', nodeId: 'ns=3;s="B"' },
          ],
        }),
      ],
    });
    expect(p['opcua.servers[0].items[0].field']).toMatch(/plc_online is set by the gateway/);
    expect(p['opcua.servers[0].items[1].scale']).toMatch(/scale applies to numbers; pump_running is a boolean/);
    expect(p['opcua.servers[0].items[3].field']).toMatch(/tuoi-01.flow_l_min is already fed by items\[2\]/);
  });

  it('refuses duplicate server ids and a device read from two servers', () => {
    const p = problems({
      servers: [
        server(),
        server({ endpoint: 'opc.tcp://192.168.10.21:4840', items: [{ device: 'tuoi-01', field: 'flow_l_min', nodeId: GOOD_NODE }] }),
      ],
    });
    expect(p['opcua.servers[1].id']).toBe('duplicate OPC UA server id "plc-1"');
    expect(p['opcua.servers[1].items[0].device']).toMatch(/device "tuoi-01" is already read from opcua.servers\[0\]/);
  });

  it('checks that security mode and policy agree', () => {
    expect(problems({ servers: [server({ securityMode: 'None', securityPolicy: 'Basic256Sha256' })] })['opcua.servers[0].securityPolicy']).toMatch(
      /securityMode None .* securityPolicy must be None/,
    );
    expect(problems({ servers: [server({ securityMode: 'SignAndEncrypt' })] })['opcua.servers[0].securityPolicy']).toMatch(
      /securityMode SignAndEncrypt needs a securityPolicy; e.g. Basic256Sha256/,
    );
    expect(problems({ servers: [server({ securityMode: 'Sign', securityPolicy: 'Aes256_Sha256_RsaPss' })] })).toEqual({});
    // The deprecated SHA-1 policies are not offered.
    expect(problems({ servers: [server({ securityMode: 'Sign', securityPolicy: 'Basic128Rsa15' })] })['opcua.servers[0].securityPolicy']).toMatch(
      /is not allowed; expected one of: None, Basic256Sha256/,
    );
  });

  it('checks the user identity: username needs its password variable, secrets are never inline', () => {
    const p = problems({ servers: [server({ auth: { type: 'username', username: 'op' } })] });
    expect(p['opcua.servers[0].auth.passwordEnv']).toMatch(/needs passwordEnv/);
    const q = problems({ servers: [server({ auth: { username: 'op', passwordEnv: 'PLC_PW' } })] });
    expect(q['opcua.servers[0].auth.type']).toMatch(/auth type is anonymous; set type: username/);
    const r = problems({ servers: [server({ auth: { type: 'username', username: 'op', password: 'secret' } })] });
    expect(r['opcua.servers[0].auth.password']).toMatch(/unknown key "password"; allowed: type, username, passwordEnv/);
  });

  it('checks the endpoint, the timing and unknown keys', () => {
    expect(problems({ servers: [server({ endpoint: 'http://192.168.10.20:4840' })] })['opcua.servers[0].endpoint']).toMatch(/opc\.tcp:\/\/host:port\/path/);
    expect(problems({ servers: [server({ reconnectMinMs: 5000, reconnectMaxMs: 2000 })] })['opcua.servers[0].reconnectMinMs']).toMatch(/above reconnectMaxMs/);
    expect(problems({ servers: [server({ publishingInterval: 1000 })] })['opcua.servers[0].publishingInterval']).toMatch(/did you mean "publishingIntervalMs"/);
    expect(problems({ servers: [server({ items: [] })] })['opcua.servers[0].items']).toBeDefined();
  });

  it('reports an invalid node id with the reason and examples', () => {
    const p = problems({
      servers: [
        server({
          items: [
            { device: 'tuoi-01', field: 'pump_running', nodeId: 'ns=3,s="Pump"' },
            { device: 'tuoi-01', field: 'flow_l_min', nodeId: 'Pump1.Flow' },
            { device: 'tuoi-01', field: 'pressure_bar', nodeId: 'ns=70000;i=5' },
          ],
        }),
      ],
    });
    expect(p['opcua.servers[0].items[0].nodeId']).toMatch(/invalid OPC UA node id \(Part 6 §5.3.1.10\): .*e\.g\. ns=3;s=/);
    expect(p['opcua.servers[0].items[1].nodeId']).toMatch(/expected "i=", "s=", "g=" or "b="/);
    expect(p['opcua.servers[0].items[2].nodeId']).toMatch(/namespace index "70000" is not a number 0\.\.65535/);
  });
});

describe('OPC UA NodeId string form (Part 6 §5.3.1.10)', () => {
  it.each([
    ['i=2258', { namespace: { index: 0 }, type: 'i', identifier: '2258' }],
    ['ns=3;s="PumpStation1"."Pump"."Running"', { namespace: { index: 3 }, type: 's', identifier: '"PumpStation1"."Pump"."Running"' }],
    ['ns=4;s=|var|AX-308EA0MA1P.Application.GVL.bPumpRun', { namespace: { index: 4 }, type: 's', identifier: '|var|AX-308EA0MA1P.Application.GVL.bPumpRun' }],
    ['ns=2;s=a;b=c', { namespace: { index: 2 }, type: 's', identifier: 'a;b=c' }],
    ['ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a', { namespace: { index: 1 }, type: 'g', identifier: '09087e75-8e5e-499b-954f-f2a9603db28a' }],
    ['ns=1;b=M/RbKBsRVkePCePcx24oRA==', { namespace: { index: 1 }, type: 'b', identifier: 'M/RbKBsRVkePCePcx24oRA==' }],
    ['ns=65535;i=4294967295', { namespace: { index: 65535 }, type: 'i', identifier: '4294967295' }],
    ['nsu=http://www.siemens.com/simatic-s7-opcua;s="DB1"."Flow"', { namespace: { uri: 'http://www.siemens.com/simatic-s7-opcua' }, type: 's', identifier: '"DB1"."Flow"' }],
    ['nsu=urn:a%3Bb;i=1', { namespace: { uri: 'urn:a;b' }, type: 'i', identifier: '1' }],
  ])('accepts %s', (text, nodeId) => {
    expect(parseNodeId(text)).toStrictEqual({ ok: true, nodeId });
  });

  it.each([
    ['', /expected "i="/],
    ['Pump1.Running', /expected "i="/],
    ['ns=3', /must be followed by/],
    ['ns=x;i=1', /namespace index "x"/],
    ['ns=65536;i=1', /namespace index "65536"/],
    ['ns=2;i=4294967296', /not a UInt32/],
    ['ns=2;i=-1', /not a UInt32/],
    ['ns=2;i=', /not a UInt32/],
    ['ns=2;s=', /empty string identifier/],
    ['ns=2;g=not-a-guid', /is not a GUID/],
    ['ns=2;b=***', /base64/],
    ['ns=2;x=1', /expected "i="/],
    [' ns=2;i=1', /spaces/],
    ['nsu=;i=1', /empty namespace URI/],
    ['svr=1;ns=2;i=1', /another server/],
  ])('rejects %j', (text, reason) => {
    const r = parseNodeId(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('rewrites an nsu= node id with the server namespace index', () => {
    const r = parseNodeId('nsu=http://www.siemens.com/simatic-s7-opcua;s="DB1"."Flow"');
    if (!r.ok) throw new Error(r.reason);
    expect(nodeIdWithIndex(r.nodeId, 3)).toBe('ns=3;s="DB1"."Flow"');
    expect(nodeIdWithIndex(r.nodeId, 0)).toBe('s="DB1"."Flow"');
  });
});

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

const GOOD = { value: 0, name: 'Good' };
const dv = (dataType: number, value: unknown, statusCode: { value: number; name?: string } = GOOD, sourceTimestamp: Date | null = null): DataValueLike => ({
  value: { dataType, arrayType: 0, value },
  statusCode,
  sourceTimestamp,
});
const binding = (field: string, fieldType: FieldType, scale?: number, index = 0, deviceId = 'tuoi-01'): ItemBinding => ({
  index,
  deviceId,
  field,
  fieldType,
  nodeId: `ns=3;s="${field}"`,
  scale,
});

describe('StatusCode severity (Part 4 §7.39)', () => {
  it.each([
    [0x00000000, 'good'], // Good
    [0x00a20000, 'good'], // GoodClamped
    [0x40900000, 'uncertain'], // UncertainLastUsableValue
    [0x408f0000, 'uncertain'], // UncertainInitialValue
    [0x808c0000, 'bad'], // BadSensorFailure
    [0x80340000, 'bad'], // BadNodeIdUnknown
    [0xc0000000, 'bad'], // reserved severity 11
  ])('0x%s is %s', (code, expected) => {
    expect(severity(code)).toBe(expected);
  });
});

describe('value conversion', () => {
  it('takes Boolean for booleans, and 0/1 integers from PLCs that expose BOOL as a number', () => {
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.Boolean, true))).toStrictEqual({ ok: true, value: true });
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.Byte, 1))).toStrictEqual({ ok: true, value: true });
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.Int16, 0))).toStrictEqual({ ok: true, value: false });
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.Int16, 5))).toMatchObject({ ok: false, reason: 'type' });
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.Float, 1))).toMatchObject({ ok: false, reason: 'type' });
    expect(convertValue(binding('pump_running', 'boolean'), dv(DATA_TYPE.String, 'ON'))).toMatchObject({ ok: false, reason: 'type' });
  });

  it('rounds a single-precision REAL to its 7 significant digits, and applies the scale', () => {
    expect(convertValue(binding('pressure_bar', 'float'), dv(DATA_TYPE.Float, 0.10000000149011612))).toStrictEqual({ ok: true, value: 0.1 });
    expect(convertValue(binding('flow_l_min', 'float'), dv(DATA_TYPE.Double, 0.10000000149011612))).toStrictEqual({ ok: true, value: 0.10000000149011612 });
    expect(convertValue(binding('pressure_bar', 'float', 0.1), dv(DATA_TYPE.Int16, 4213))).toStrictEqual({ ok: true, value: 421.3 });
    expect(convertValue(binding('pressure_bar', 'float', 0.001), dv(DATA_TYPE.UInt16, 3250))).toStrictEqual({ ok: true, value: 3.25 });
    expect(convertValue(binding('uptime_s', 'integer'), dv(DATA_TYPE.Double, 12.6))).toStrictEqual({ ok: true, value: 13 });
  });

  it('reads node-opcua Int64/UInt64 [high, low] pairs', () => {
    expect(convertValue(binding('uptime_s', 'integer'), dv(DATA_TYPE.UInt64, [1, 5]))).toStrictEqual({ ok: true, value: 2 ** 32 + 5 });
    expect(convertValue(binding('uptime_s', 'integer'), dv(DATA_TYPE.Int64, [0xffffffff, 0xfffffffe]))).toStrictEqual({ ok: true, value: -2 });
  });

  it('refuses NaN, arrays, Null and strings for numbers', () => {
    expect(convertValue(binding('flow_l_min', 'float'), dv(DATA_TYPE.Float, Number.NaN))).toMatchObject({ ok: false, reason: 'type', detail: expect.stringMatching(/not a finite number/) });
    expect(convertValue(binding('flow_l_min', 'float'), { value: { dataType: DATA_TYPE.Float, arrayType: 1, value: new Float32Array([1, 2]) }, statusCode: GOOD })).toMatchObject({
      ok: false,
      reason: 'type',
      detail: expect.stringMatching(/array/),
    });
    expect(convertValue(binding('flow_l_min', 'float'), { value: { dataType: 0, value: null }, statusCode: GOOD })).toMatchObject({ ok: false, reason: 'type' });
    expect(convertValue(binding('flow_l_min', 'float'), dv(DATA_TYPE.String, '12'))).toMatchObject({
      ok: false,
      detail: 'String cannot feed float field flow_l_min',
    });
  });

  it('leaves out Bad and Uncertain values, naming the status', () => {
    expect(convertValue(binding('flow_l_min', 'float'), dv(DATA_TYPE.Float, 12, { value: 0x808c0000, name: 'BadSensorFailure' }))).toStrictEqual({
      ok: false,
      reason: 'bad',
      detail: 'BadSensorFailure',
    });
    expect(convertValue(binding('flow_l_min', 'float'), dv(DATA_TYPE.Float, 12, { value: 0x40900000 }))).toStrictEqual({ ok: false, reason: 'uncertain', detail: '0x40900000' });
  });
});

describe('ItemTable: coalescing, keep-alive, verdicts', () => {
  const NOW = Date.UTC(2026, 4, 1, 0, 0, 0);
  const make = () => {
    const t = new ItemTable(
      [
        binding('pump_running', 'boolean', undefined, 0),
        binding('flow_l_min', 'float', undefined, 1),
        binding('tank_level_pct', 'float', undefined, 2),
        binding('flow_l_min', 'float', undefined, 3, 'tuoi-02'),
        binding('supply_v', 'float', undefined, 4, 'ups-01'),
      ],
      { plcOnlineDevices: new Set(['tuoi-01', 'tuoi-02']), freshWindowMs: 10_000 },
    );
    for (let i = 0; i < 5; i++) t.setMonitored(i);
    return t;
  };

  it('turns one publish notification into one update per device, with the newest fresh source timestamp', () => {
    const t = make();
    const { updates, dropped } = t.apply(
      [
        { index: 0, dataValue: dv(DATA_TYPE.Boolean, true, GOOD, new Date(NOW - 2000)) },
        { index: 1, dataValue: dv(DATA_TYPE.Float, 512.5, GOOD, new Date(NOW - 1000)) },
        { index: 3, dataValue: dv(DATA_TYPE.Float, 80, GOOD, new Date(NOW - 3 * 86_400_000)) },
        { index: 4, dataValue: dv(DATA_TYPE.Double, 12.5, GOOD, null) },
      ],
      NOW,
    );
    expect(dropped).toEqual([]);
    expect(updates).toStrictEqual([
      { deviceId: 'tuoi-01', fields: { pump_running: true, flow_l_min: 512.5, plc_online: true }, ts: NOW - 1000, verdict: undefined },
      // Three days old: when the value last changed, not an observation: the gateway stamps it.
      { deviceId: 'tuoi-02', fields: { flow_l_min: 80, plc_online: true }, ts: undefined, verdict: undefined },
      // A kind without plc_online gets none.
      { deviceId: 'ups-01', fields: { supply_v: 12.5 }, ts: undefined, verdict: undefined },
    ]);
  });

  it('keeps the last of several changes of one field in a notification', () => {
    const t = make();
    const { updates } = t.apply(
      [
        { index: 1, dataValue: dv(DATA_TYPE.Float, 1) },
        { index: 1, dataValue: dv(DATA_TYPE.Float, 2) },
      ],
      NOW,
    );
    expect(updates[0]!.fields).toStrictEqual({ flow_l_min: 2, plc_online: true });
  });

  it('re-sends the latest good values as a keep-alive, and forgets a value that went bad', () => {
    const t = make();
    expect(t.keepAlive('tuoi-01')).toStrictEqual({ deviceId: 'tuoi-01', fields: { plc_online: true }, ts: undefined, verdict: undefined });
    expect(t.keepAlive('ups-01')).toBeUndefined();
    t.apply([{ index: 0, dataValue: dv(DATA_TYPE.Boolean, true) }, { index: 1, dataValue: dv(DATA_TYPE.Float, 500) }], NOW);
    expect(t.keepAlive('tuoi-01')!.fields).toStrictEqual({ pump_running: true, flow_l_min: 500, plc_online: true });

    const { updates, dropped } = t.apply([{ index: 1, dataValue: dv(DATA_TYPE.Float, 0, { value: 0x808c0000, name: 'BadSensorFailure' }) }], NOW);
    expect(dropped).toMatchObject([{ binding: { field: 'flow_l_min' }, reason: 'bad', detail: 'BadSensorFailure' }]);
    // The device still hears from the PLC (plc_online) and learns why it is DEGRADED.
    expect(updates).toStrictEqual([
      { deviceId: 'tuoi-01', fields: { plc_online: true }, ts: undefined, verdict: { state: 'DEGRADED', reason: 'opcua-bad-value' } },
    ]);
    expect(t.keepAlive('tuoi-01')!.fields).toStrictEqual({ pump_running: true, plc_online: true });

    const back = t.apply([{ index: 1, dataValue: dv(DATA_TYPE.Float, 450) }], NOW);
    expect(back.updates[0]).toMatchObject({ fields: { flow_l_min: 450, plc_online: true }, verdict: undefined });
  });

  it('marks a device with a rejected node DEGRADED, ignores that item, and offers plc_online false when the session is lost', () => {
    const t = make();
    t.setRejected(2);
    expect(t.rejected().map((b) => b.field)).toStrictEqual(['tank_level_pct']);
    expect(t.monitoredCount()).toBe(4);
    expect(t.monitoredCount('tuoi-01')).toBe(2);
    expect(t.verdict('tuoi-01')).toStrictEqual({ state: 'DEGRADED', reason: 'opcua-node-rejected' });
    expect(t.verdict('tuoi-02')).toBeUndefined();
    expect(t.apply([{ index: 2, dataValue: dv(DATA_TYPE.Float, 50) }], NOW).updates).toStrictEqual([]);
    expect(t.offline('tuoi-01')).toStrictEqual({ deviceId: 'tuoi-01', fields: { plc_online: false }, ts: undefined, verdict: undefined });
    expect(t.offline('ups-01')).toBeUndefined();
  });

  it('forgets the previous session on reconnect: values and rejections are learnt again', () => {
    const t = make();
    t.apply([{ index: 1, dataValue: dv(DATA_TYPE.Float, 500) }], NOW);
    t.setRejected(2);
    t.resetSession();
    expect(t.rejected()).toStrictEqual([]);
    expect(t.monitoredCount()).toBe(0);
    expect(t.keepAlive('tuoi-01')!.fields).toStrictEqual({ plc_online: true });
    expect(t.verdict('tuoi-01')).toBeUndefined();
  });
});

describe('error classification', () => {
  it.each([
    ['BadUserAccessDenied (0x801f0000)', 'CE_OPCUA_AUTH'],
    ['Error: BadIdentityTokenRejected', 'CE_OPCUA_AUTH'],
    ['Cannot find an Endpoint matching  security mode: 2 policy: http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256', 'CE_OPCUA_SECURITY'],
    ['server Certificate verification failed with err BadCertificateUntrusted (0x801a0000)', 'CE_OPCUA_SECURITY'],
    ['BadSecurityPolicyRejected', 'CE_OPCUA_SECURITY'],
    ['The connection cannot be established with server opc.tcp://127.0.0.1:4840 . Err = (connect ECONNREFUSED 127.0.0.1:4840)', 'CE_OPCUA_CONNECT'],
    ['BadTooManySessions', 'CE_OPCUA_CONNECT'],
  ])('%s → %s', (message, code) => {
    const e = classifyOpcuaError(new Error(message));
    expect(e.code).toBe(code);
    expect(e.detail).toBe(message.replace(/\s+/g, ' '));
  });

  it('keeps an already coded error', () => {
    const e = new CodedError('CE_OPCUA_AUTH', 'environment variable X is not set');
    expect(classifyOpcuaError(e)).toBe(e);
  });
});

describe('weight', () => {
  it('keeps node-opcua out of the settings side (only source.ts and the simulator import it)', () => {
    for (const f of ['gateway/inputs/opcua/settings.ts', 'gateway/inputs/opcua/node-id.ts', 'gateway/inputs/opcua/mapping.ts', 'gateway/settings/schema.ts']) {
      const text = readFileSync(new URL(`../${f}`, import.meta.url), 'utf8');
      expect(text, f).not.toMatch(/from ['"]node-opcua/);
      expect(text, f).not.toMatch(/from ['"][./]*inputs\/opcua\/source/);
    }
    expect(OpcuaSchema.parse({}).servers).toStrictEqual([]);
  });
});
