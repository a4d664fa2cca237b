/**
 * A simulated irrigation PLC with an OPC UA server (node-opcua-server), for the
 * demo commune, `commune-edge simulate`, and the OPC UA integration tests.
 *
 * It looks like a Siemens S7-1500 / S7-1200 OPC UA server: the program's tags are
 * in namespace 3 (`http://www.siemens.com/simatic-s7-opcua`), named after the data
 * block and member, e.g. `ns=3;s="PumpStation1"."Pump"."Running"`. Each station
 * (one data block) has the tags of devices/irrigation/README.md, driven by the
 * kind's simulator (./simulator.ts) once a second, or set by hand (`simulate: false`
 * and `set()`) for tests. A tag can be given a Bad or Uncertain StatusCode
 * (`setStatus`), as a PLC does when it loses a sensor or its I/O.
 *
 * `stop()` and `start()` again restart the server on the same port with the same
 * state (a PLC reboot as the gateway sees it); certificates live in `pkiDir`,
 * never in the home directory.
 */
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  DataType,
  MessageSecurityMode,
  SecurityPolicy,
  StatusCodes,
  Variant,
  setDebugLogger,
  setErrorLogger,
  setWarningLogger,
  type StatusCode,
} from 'node-opcua-client';
import { OPCUAServer } from 'node-opcua-server';
import type { Fields, FieldValue, SimFault } from '../define.js';
import { irrigationSimulator } from './simulator.js';
import { mulberry32 as prng } from '../prng.js';

/** The namespace of an S7-1500/S7-1200 OPC UA server's PLC tags (Siemens OPC UA system manual). */
export const S7_NAMESPACE_URI = 'http://www.siemens.com/simatic-s7-opcua';

/** Tag path inside a station's data block → canonical field and OPC UA type. */
export const IRRIGATION_TAGS = {
  'Pump.Running': { field: 'pump_running', dataType: 'Boolean' },
  'Pump.Fault': { field: 'pump_fault', dataType: 'Boolean' },
  'Valve.Open': { field: 'valve_open', dataType: 'Boolean' },
  Flow: { field: 'flow_l_min', dataType: 'Float' },
  TankLevel: { field: 'tank_level_pct', dataType: 'Float' },
  Pressure: { field: 'pressure_bar', dataType: 'Float' },
} as const;
export type IrrigationTag = keyof typeof IRRIGATION_TAGS;
const TAG_NAMES = Object.keys(IRRIGATION_TAGS) as IrrigationTag[];

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';

export interface StationOptions {
  /** Data block name, e.g. "PumpStation1" (quoted in node ids as S7 does). */
  name: string;
  role?: 'pump_station' | 'valve_group';
  /** Seed of the station's simulator (deterministic values). */
  seed?: number;
}

export interface IrrigationControllerOptions {
  /** TCP port; 0 (default) picks a free one, kept across restarts. */
  port?: number;
  host?: string;
  /** Path of the endpoint URL, default "/irrigation". */
  resourcePath?: string;
  stations?: StationOptions[];
  /** Accept anonymous sessions (default true). */
  anonymous?: boolean;
  /** User name → password accepted for UserName identity tokens. */
  users?: Record<string, string>;
  securityModes?: SecurityModeName[];
  /** Policies offered for Sign / SignAndEncrypt (None is offered when the None mode is). */
  securityPolicies?: Array<'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss'>;
  /** Server certificates (own/, trusted/, rejected/); default <tmpdir>/commune-edge-opcua-sim-pki. */
  pkiDir?: string;
  /** Drive the tags from the kind's simulator (default true); false: values change only by set(). */
  simulate?: boolean;
  updateIntervalMs?: number;
  /** Simulated seconds per real second (default 1). */
  speed?: number;
  /** Where node-opcua's own warnings go; default: left as they are (console). */
  log?: (line: string) => void;
}

export interface IrrigationController {
  readonly endpointUrl: string;
  readonly port: number;
  readonly running: boolean;
  /** The node id of a tag, e.g. ns=3;s="PumpStation1"."Pump"."Running". */
  nodeId(station: string, tag: IrrigationTag): string;
  /** The same node with its namespace named by URI (nsu=...). */
  expandedNodeId(station: string, tag: IrrigationTag): string;
  /** Set a tag's value now (status Good, source timestamp now). */
  set(station: string, tag: IrrigationTag, value: boolean | number): void;
  /** Give a tag a status (e.g. "BadSensorFailure", "UncertainLastUsableValue", "Good"), keeping its value. */
  setStatus(station: string, tag: IrrigationTag, status: keyof typeof StatusCodes): void;
  /** Put a station in a simulator fault mode (degrade, power, flap, none). */
  setFault(station: string, fault: SimFault): void;
  /** Current value of a tag. */
  get(station: string, tag: IrrigationTag): boolean | number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface TagState {
  value: boolean | number;
  status: StatusCode;
  changedAt: Date;
  setFromSource: ((v: Variant, s: StatusCode, t: Date) => void) | null;
}

interface Station {
  opts: StationOptions;
  fault: SimFault;
  sim: ReturnType<typeof irrigationSimulator>;
  tags: Map<IrrigationTag, TagState>;
}


function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const quoted = (station: string, tag: IrrigationTag) => [station, ...tag.split('.')].map((p) => `"${p}"`).join('.');

class Controller implements IrrigationController {
  port: number;
  private readonly opts: Required<Omit<IrrigationControllerOptions, 'log' | 'port' | 'users'>> & Pick<IrrigationControllerOptions, 'log' | 'users'>;
  private readonly stations = new Map<string, Station>();
  private server: OPCUAServer | null = null;
  private certManager: OPCUACertificateManager | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastTick = Date.now();
  private nsIndex = 3;

  constructor(opts: IrrigationControllerOptions) {
    this.port = opts.port ?? 0;
    this.opts = {
      host: opts.host ?? '127.0.0.1',
      resourcePath: opts.resourcePath ?? '/irrigation',
      stations: opts.stations ?? [{ name: 'PumpStation1' }],
      anonymous: opts.anonymous ?? true,
      users: opts.users,
      securityModes: opts.securityModes ?? ['None', 'Sign', 'SignAndEncrypt'],
      securityPolicies: opts.securityPolicies ?? ['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'],
      pkiDir: opts.pkiDir ?? join(tmpdir(), 'commune-edge-opcua-sim-pki'),
      simulate: opts.simulate ?? true,
      updateIntervalMs: opts.updateIntervalMs ?? 1000,
      speed: opts.speed ?? 1,
      log: opts.log,
    };
    const now = Date.now();
    this.opts.stations.forEach((s, i) => {
      const sim = irrigationSimulator({ deviceId: s.name, hamlet: '-', role: s.role ?? 'pump_station', rng: prng(s.seed ?? 1000 + i) });
      const first = sim.next({ now, dtS: 0, fault: 'none' });
      const tags = new Map<IrrigationTag, TagState>();
      for (const tag of TAG_NAMES) {
        const spec = IRRIGATION_TAGS[tag];
        const v = first[spec.field];
        tags.set(tag, {
          value: v === undefined ? (spec.dataType === 'Boolean' ? false : 0) : (v as boolean | number),
          status: StatusCodes.Good,
          changedAt: new Date(now),
          setFromSource: null,
        });
      }
      this.stations.set(s.name, { opts: s, fault: 'none', sim, tags });
    });
  }

  get endpointUrl(): string {
    return `opc.tcp://${this.opts.host}:${this.port}${this.opts.resourcePath}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  nodeId(station: string, tag: IrrigationTag): string {
    return `ns=${this.nsIndex};s=${quoted(station, tag)}`;
  }

  expandedNodeId(station: string, tag: IrrigationTag): string {
    return `nsu=${S7_NAMESPACE_URI};s=${quoted(station, tag)}`;
  }

  private tag(station: string, tag: IrrigationTag): TagState {
    const t = this.stations.get(station)?.tags.get(tag);
    if (!t) throw new Error(`no tag ${station}.${tag} (stations: ${[...this.stations.keys()].join(', ')})`);
    return t;
  }

  get(station: string, tag: IrrigationTag): boolean | number {
    return this.tag(station, tag).value;
  }

  set(station: string, tag: IrrigationTag, value: boolean | number): void {
    const t = this.tag(station, tag);
    t.value = value;
    t.status = StatusCodes.Good;
    t.changedAt = new Date();
    this.publish(tag, t);
  }

  setStatus(station: string, tag: IrrigationTag, status: keyof typeof StatusCodes): void {
    const t = this.tag(station, tag);
    const code = StatusCodes[status] as StatusCode | undefined;
    if (!code || typeof code !== 'object') throw new Error(`unknown StatusCode ${String(status)}`);
    t.status = code;
    t.changedAt = new Date();
    this.publish(tag, t);
  }

  setFault(station: string, fault: SimFault): void {
    const s = this.stations.get(station);
    if (!s) throw new Error(`no station ${station}`);
    s.fault = fault;
  }

  private publish(tag: IrrigationTag, t: TagState): void {
    const dataType = IRRIGATION_TAGS[tag].dataType === 'Boolean' ? DataType.Boolean : DataType.Float;
    t.setFromSource?.(new Variant({ dataType, value: t.value }), t.status, t.changedAt);
  }

  /** One simulator step per station; a tag's source timestamp moves only when its value changes. */
  private tick(): void {
    const now = Date.now();
    const dtS = ((now - this.lastTick) / 1000) * this.opts.speed;
    this.lastTick = now;
    for (const s of this.stations.values()) {
      const fields: Fields = s.sim.next({ now, dtS, fault: s.fault });
      for (const tag of TAG_NAMES) {
        const v: FieldValue | undefined = fields[IRRIGATION_TAGS[tag].field];
        const t = s.tags.get(tag)!;
        if (v === undefined || typeof v === 'string' || (v === t.value && t.status === StatusCodes.Good)) continue;
        // A PLC that lost power (flap/power faults offline) keeps serving its last values: the
        // gateway sees that through the session, not through the tags.
        t.value = v;
        t.changedAt = new Date(now);
        this.publish(tag, t);
      }
    }
  }

  async start(): Promise<void> {
    if (this.server) return;
    if (this.opts.log) {
      const route = (_ctx: unknown, ...args: unknown[]) => this.opts.log!(args.map(String).join(' '));
      setWarningLogger(route);
      setErrorLogger(route);
      setDebugLogger(() => undefined);
    }
    if (this.port === 0) this.port = await freePort(this.opts.host);
    const certManager = new OPCUACertificateManager({
      rootFolder: join(this.opts.pkiDir, 'server'),
      // A simulator trusts every client (the PLC's "auto-accept client certificates").
      automaticallyAcceptUnknownCertificate: true,
      disableFileWatchers: true,
    });
    await certManager.initialize();
    const modes = this.opts.securityModes.map((m) => MessageSecurityMode[m]);
    const policies = [
      ...(this.opts.securityModes.includes('None') ? [SecurityPolicy.None] : []),
      ...(this.opts.securityModes.some((m) => m !== 'None') ? this.opts.securityPolicies.map((p) => SecurityPolicy[p]) : []),
    ];
    const users = this.opts.users ?? {};
    const server = new OPCUAServer({
      port: this.port,
      host: this.opts.host,
      hostname: this.opts.host,
      resourcePath: this.opts.resourcePath,
      serverCertificateManager: certManager,
      securityModes: modes,
      securityPolicies: policies,
      allowAnonymous: this.opts.anonymous,
      userManager: { isValidUser: (username: string, password: string) => users[username] !== undefined && users[username] === password },
      buildInfo: { productName: 'commune-edge irrigation PLC simulator', manufacturerName: 'commune-edge', softwareVersion: '1.0' },
      serverCapabilities: { maxSessions: 20 },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace!;
    // Keep the S7 namespace at index 3, as on a real S7-1500: ns=1 is the server's own, ns=2 another.
    addressSpace.registerNamespace('urn:commune-edge:irrigation-sim:diagnostics');
    const ns = addressSpace.registerNamespace(S7_NAMESPACE_URI);
    this.nsIndex = ns.index;
    for (const [name, station] of this.stations) {
      const block = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: name, nodeId: `s="${name}"` });
      const folders = new Map<string, ReturnType<typeof ns.addObject>>();
      for (const tag of TAG_NAMES) {
        const parts = tag.split('.');
        let parent = block;
        for (let i = 0; i < parts.length - 1; i++) {
          const path = parts.slice(0, i + 1).join('.');
          let f = folders.get(path);
          if (!f) {
            f = ns.addObject({ componentOf: parent, browseName: parts[i]!, nodeId: `s=${[name, ...parts.slice(0, i + 1)].map((p) => `"${p}"`).join('.')}` });
            folders.set(path, f);
          }
          parent = f;
        }
        const spec = IRRIGATION_TAGS[tag];
        const state = station.tags.get(tag)!;
        const variable = ns.addVariable({
          componentOf: parent,
          browseName: parts[parts.length - 1]!,
          nodeId: `s=${quoted(name, tag)}`,
          dataType: spec.dataType,
          minimumSamplingInterval: 100,
        });
        state.setFromSource = (v, s, t) => variable.setValueFromSource(v, s, t);
        this.publish(tag, state);
      }
    }
    await server.start();
    this.server = server;
    this.certManager = certManager;
    this.lastTick = Date.now();
    if (this.opts.simulate) {
      this.timer = setInterval(() => this.tick(), this.opts.updateIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const server = this.server;
    const certManager = this.certManager;
    this.server = null;
    this.certManager = null;
    for (const s of this.stations.values()) for (const t of s.tags.values()) t.setFromSource = null;
    // shutdown(0): close the channels at once, as a PLC that loses power or reboots.
    if (server) await server.shutdown(0);
    if (certManager) await certManager.dispose();
  }
}

/** Start a simulated irrigation PLC; `stop()` / `start()` restart it on the same port. */
export async function startIrrigationController(opts: IrrigationControllerOptions = {}): Promise<IrrigationController> {
  const controller = new Controller(opts);
  await controller.start();
  return controller;
}
