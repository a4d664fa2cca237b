/**
 * Settings of the OPC UA client transport (`opcua:` in the config): the PLCs'
 * OPC UA servers the gateway subscribes to, and which node feeds which canonical
 * field of which inventory device.
 *
 * This module must stay light: it is loaded with every config, while node-opcua
 * (tens of MB) is imported only by ./source.ts, and only when `opcua` is set.
 */
import { z } from 'zod';
import { kindById } from '../../../devices/registry.js';
import { arr, checkDeviceRef, hint, loose, str, type CheckRefs } from '../../settings/check-kit.js';
import { NODE_ID_EXAMPLES, parseNodeId } from './node-id.js';

/** OPC UA Part 4 §7.20 MessageSecurityMode (Invalid is not a choice). */
export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
/**
 * OPC UA Part 7 security policies node-opcua implements. Basic128Rsa15 and Basic256
 * are deprecated (SHA-1) since OPC UA 1.04 and left out; an old PLC that offers
 * nothing else should be updated, or run with None on an isolated farm network.
 */
export const SECURITY_POLICIES = ['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'] as const;

/** Fields the gateway sets itself from the session state: never mapped to a node. */
export const GATEWAY_FIELDS = ['plc_online'] as const;

const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lower-case letters, digits, ".", "_" or "-" (max 64), starting with a letter or digit');

const NodeIdText = z
  .string()
  .superRefine((text, ctx) => {
    const parsed = parseNodeId(text);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `invalid OPC UA node id (Part 6 §5.3.1.10): ${parsed.reason}; ${NODE_ID_EXAMPLES}` });
  })
  .describe('OPC UA node id in its string form (Part 6 §5.3.1.10), e.g. ns=3;s="PumpStation1"."Pump"."Running" (Siemens S7), or nsu=<namespace URI>;s=...');

export const OpcuaItemSchema = z
  .strictObject({
    device: Id.describe('Inventory device id this value belongs to'),
    field: z.string().min(1).describe("A canonical field of the device's kind, e.g. pump_running, flow_l_min (see GET /api/kinds)"),
    nodeId: NodeIdText,
    scale: z
      .number()
      .finite()
      .optional()
      .describe('Multiply a numeric value by this before it is stored (e.g. 0.1 for a PLC that sends tenths of bar)'),
  })
  .describe('One monitored item: an OPC UA node feeding one field of one device');

export const OpcuaAuthSchema = z
  .strictObject({
    type: z.enum(['anonymous', 'username']).default('anonymous').describe('anonymous, or a user name and password (OPC UA UserNameIdentityToken)'),
    username: z.string().min(1).optional().describe('User name configured on the PLC (type: username)'),
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .optional()
      .describe('Name of the environment variable holding the password (secrets stay out of files)'),
  })
  .describe('The user identity of the session (OPC UA Part 4 §7.41)');

export const OpcuaServerSchema = z
  .strictObject({
    id: Id.describe('Server id, used in logs, metrics (server label) and the API'),
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^\s/:]+(:\d{1,5})?(\/\S*)?$/, 'must be opc.tcp://host:port/path')
      .describe('Endpoint URL of the PLC, e.g. opc.tcp://192.168.1.10:4840 (S7-1200/1500 default port 4840)'),
    securityMode: z
      .enum(SECURITY_MODES)
      .default('None')
      .describe('None: plain; Sign: messages signed; SignAndEncrypt: signed and encrypted (recommended where the PLC supports it)'),
    securityPolicy: z.enum(SECURITY_POLICIES).default('None').describe('Must be None with securityMode None, and not None otherwise'),
    auth: OpcuaAuthSchema.default({ type: 'anonymous' }),
    trustServerCertificate: z
      .enum(['auto', 'pki'])
      .default('auto')
      .describe(
        "auto: trust on first use: the server certificate seen at the first secure connection is pinned, a different one later is refused; pki: only certificates in <pkiDir>/trusted/certs are trusted (an unknown one is put in <pkiDir>/rejected for the officer to move)",
      ),
    publishingIntervalMs: z.number().int().min(50).max(600_000).default(1000).describe('Requested publishing interval of the subscription (OPC UA Part 4 §5.13.2)'),
    samplingIntervalMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(500)
      .describe('Requested sampling interval of each monitored item; 0 = the fastest the server allows (Part 4 §5.12.1.2)'),
    reconnectMinMs: z.number().int().min(100).default(1000).describe('First reconnect delay after a lost or failed session (jittered, doubling)'),
    reconnectMaxMs: z.number().int().min(1000).default(60_000).describe('Longest reconnect delay'),
    connectTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000).describe('A connect, session or subscription step that takes longer is abandoned and retried'),
    items: z.array(OpcuaItemSchema).min(1).describe('Monitored items: which node feeds which device field'),
  })
  .describe('One OPC UA server (a PLC, or a PC/edge OPC UA server in front of PLCs)');

export const OpcuaSchema = z.strictObject({
  pkiDir: z
    .string()
    .optional()
    .describe("Folder of the gateway's OPC UA certificates (own/, trusted/, rejected/); default <gateway.dataDir>/opcua-pki"),
  servers: z.array(OpcuaServerSchema).default([]).describe('OPC UA servers the gateway subscribes to'),
});
export type OpcuaSettings = z.output<typeof OpcuaSchema>;
export type OpcuaServerSettings = OpcuaSettings['servers'][number];
export type OpcuaItemSettings = OpcuaServerSettings['items'][number];

/**
 * Cross-references and combinations the schema cannot see (runs on raw input, so
 * `check-config` reports these together with type errors): devices exist, fields
 * belong to the device's kind, server ids are unique, security mode and policy
 * agree, a user name comes with its password variable.
 */
export function checkOpcua(raw: Record<string, unknown>, refs: CheckRefs): void {
  const serverIds = new Set<string>();
  const mapped = new Map<string, string>();
  const deviceServer = new Map<string, number>();
  arr(raw['servers']).forEach((server, si) => {
    const at = (...p: (string | number)[]) => ['opcua', 'servers', si, ...p];
    const id = str(server['id']);
    if (id !== undefined) {
      if (serverIds.has(id)) refs.issue(at('id'), `duplicate OPC UA server id "${id}"`);
      serverIds.add(id);
    }

    const mode = str(server['securityMode']) ?? 'None';
    const policy = str(server['securityPolicy']) ?? 'None';
    if (mode === 'None' && policy !== 'None') {
      refs.issue(at('securityPolicy'), `securityMode None sends messages unsigned; securityPolicy must be None (got ${policy}), or set securityMode Sign or SignAndEncrypt`);
    } else if (mode !== 'None' && policy === 'None') {
      refs.issue(at('securityPolicy'), `securityMode ${mode} needs a securityPolicy; e.g. Basic256Sha256 (S7-1200/1500 default)`);
    }

    const auth = loose(server['auth']);
    const authType = str(auth['type']) ?? 'anonymous';
    if (authType === 'username') {
      if (str(auth['username']) === undefined) refs.issue(at('auth', 'username'), 'auth type username needs a username');
      if (str(auth['passwordEnv']) === undefined) refs.issue(at('auth', 'passwordEnv'), 'auth type username needs passwordEnv (the environment variable holding the password)');
    } else if (authType === 'anonymous' && (auth['username'] !== undefined || auth['passwordEnv'] !== undefined)) {
      refs.issue(at('auth', 'type'), 'username/passwordEnv given but auth type is anonymous; set type: username');
    }

    const min = server['reconnectMinMs'];
    const max = server['reconnectMaxMs'];
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      refs.issue(at('reconnectMinMs'), `reconnectMinMs (${min}) is above reconnectMaxMs (${max})`);
    }

    arr(server['items']).forEach((item, ii) => {
      const itemAt = (...p: (string | number)[]) => at('items', ii, ...p);
      const deviceId = item['device'];
      if (!checkDeviceRef(refs, itemAt('device'), deviceId)) return;
      // plc_online says whether THE PLC of a device is readable: one device, one server.
      const otherServer = deviceServer.get(deviceId as string);
      if (otherServer !== undefined && otherServer !== si) {
        refs.issue(itemAt('device'), `device "${String(deviceId)}" is already read from opcua.servers[${otherServer}]; a device is read from one server`);
        return;
      }
      deviceServer.set(deviceId as string, si);
      const kind = kindById(refs.devices.get(deviceId as string)?.kind ?? '');
      const field = str(item['field']);
      if (!kind || field === undefined) return;
      if ((GATEWAY_FIELDS as readonly string[]).includes(field)) {
        refs.issue(itemAt('field'), `${field} is set by the gateway from the OPC UA session state; do not map it to a node`);
        return;
      }
      const spec = kind.fieldByName.get(field);
      if (!spec) {
        const known = kind.fields.map((f) => f.name).filter((f) => !(GATEWAY_FIELDS as readonly string[]).includes(f));
        refs.issue(itemAt('field'), `"${field}" is not a ${kind.id} field; ${hint(field, known)}known: ${known.join(', ')}`);
        return;
      }
      if (item['scale'] !== undefined && spec.type !== 'float' && spec.type !== 'integer') {
        refs.issue(itemAt('scale'), `scale applies to numbers; ${field} is a ${spec.type}`);
      }
      const key = `${String(deviceId)}\u0000${field}`;
      const prior = mapped.get(key);
      if (prior !== undefined) refs.issue(itemAt('field'), `${String(deviceId)}.${field} is already fed by ${prior}; two nodes would overwrite each other`);
      else mapped.set(key, `items[${ii}]`);
    });
  });
}
