/**
 * A real SNMP agent for the integration tests: Debian's net-snmp `snmpd`
 * (ensure-peers installs it), in the foreground, on a free UDP port of 127.0.0.1,
 * with its own generated config and a private persistent directory, so it never
 * reads /etc/snmp or writes /var/lib/snmp. It serves this machine's real IF-MIB
 * (the loopback interface `lo` and its octet counters) and sysUpTime; UPS-MIB,
 * hrProcessorLoad and vendor objects are pinned with `override` lines, since no
 * UPS or AP is attached to a CI box.
 *
 * A missing snmpd is an error with a clear message, never a skip.
 */
import { createSocket } from 'node:dgram';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import snmp from 'net-snmp';
import { Child, removeDir, tempDir, waitFor, GiveUp } from './helpers.js';

export const SNMPD_BIN = '/usr/sbin/snmpd';

export interface SnmpdUser {
  name: string;
  /** snmpd.conf createUser names: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512. */
  auth: 'MD5' | 'SHA' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';
  authKey: string;
  /** DES or AES (AES-128, RFC 3826); none: an authNoPriv user. */
  priv?: 'DES' | 'AES';
  privKey?: string;
  /** rouser minimum level: priv (authPriv), auth (authNoPriv). Omit to create a user without any access. */
  access?: 'priv' | 'auth';
}

/** `override OID TYPE VALUE` (snmpd.conf(5)): a fixed value at an OID, new or existing. */
export interface SnmpdOverride {
  oid: string;
  type: 'integer' | 'unsigned' | 'octet_str' | 'counter' | 'object_id';
  value: string | number;
}

export interface SnmpdOptions {
  community?: string;
  users?: SnmpdUser[];
  overrides?: SnmpdOverride[];
}

/** A UDP port free on 127.0.0.1 right now (the OS picks it). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function snmpdBinary(): string {
  try {
    accessSync(SNMPD_BIN, constants.X_OK);
    return SNMPD_BIN;
  } catch {
    throw new Error(
      `${SNMPD_BIN} is not installed: the SNMP integration tests need a real agent. ` +
        'Run `bash test/peers/ensure-peers.sh` (as root: apt-get install snmpd), or `npm test`, which runs it.',
    );
  }
}

export class Snmpd {
  readonly dir: string;
  readonly persistentDir: string;
  readonly confPath: string;
  readonly community: string;
  readonly users: SnmpdUser[];
  port = 0;
  child: Child | null = null;
  private starts = 0;
  private pastLogs = '';

  constructor(private readonly opts: SnmpdOptions = {}) {
    this.dir = tempDir('snmpd');
    this.persistentDir = join(this.dir, 'persist');
    mkdirSync(this.persistentDir, { recursive: true });
    this.confPath = join(this.dir, 'snmpd.conf');
    this.community = opts.community ?? `ce-ro-${Math.random().toString(36).slice(2, 10)}`;
    this.users = opts.users ?? [];
  }

  /** Everything the agent logged, across restarts. */
  get log(): string {
    return this.pastLogs + (this.child ? this.child.stdout + this.child.stderr : '');
  }

  private writeConfig(): void {
    const conf = [
      `agentaddress udp:127.0.0.1:${this.port}`,
      // Keep the AgentX master off and its socket out of /var/agentx (snmpd.conf(5): master, agentXSocket).
      `agentXSocket unix:${join(this.dir, 'agentx')}`,
      // No "Connection from UDP" line per request.
      'dontLogTCPWrappersConnects yes',
      `rocommunity ${this.community} 127.0.0.1`,
      ...this.users.flatMap((u) => {
        const priv = u.priv ? ` ${u.priv} "${u.privKey}"` : '';
        const lines = [`createUser ${u.name} ${u.auth} "${u.authKey}"${priv}`];
        if (u.access) lines.push(`rouser ${u.name} ${u.access}`);
        return lines;
      }),
      ...(this.opts.overrides ?? []).map((o) => `override ${o.oid} ${o.type} ${o.type === 'octet_str' ? JSON.stringify(String(o.value)) : o.value}`),
      // snmp.conf token in snmpd.conf: where engineBoots and the localized user keys are kept.
      `[snmp] persistentDir ${this.persistentDir}`,
    ];
    writeFileSync(this.confPath, conf.join('\n') + '\n');
  }

  /** Start on a free port (the first start picks it; restarts keep it, as a rebooted device would). */
  async start(): Promise<void> {
    if (this.child?.running) throw new Error('snmpd already running');
    const bin = snmpdBinary();
    const fixedPort = this.port !== 0;
    for (let attempt = 1; ; attempt++) {
      if (!fixedPort) this.port = await freeUdpPort();
      this.writeConfig();
      if (this.child) this.pastLogs += this.child.stdout + this.child.stderr;
      this.starts++;
      // -f foreground, -Lo log to stdout, -C no config but ours, -p pid file.
      this.child = new Child(`snmpd#${this.starts}`, bin, ['-f', '-Lo', '-C', '-c', this.confPath, '-p', join(this.dir, 'snmpd.pid')], {
        env: { ...process.env, SNMP_PERSISTENT_DIR: this.persistentDir, MIBS: '', MIBDIRS: join(this.dir, 'no-mibs') },
      });
      try {
        await this.waitUntilAnswering(10_000);
        return;
      } catch (err) {
        // Another process took the port between the probe and snmpd's bind: try another one.
        const taken = /Error opening specified endpoint|Address already in use/i.test(this.child.stdout + this.child.stderr);
        await this.child.stop(2000);
        if (!taken || fixedPort || attempt >= 5) throw err;
      }
    }
  }

  /** Poll sysUpTime over v2c until the agent answers (fails early, with its log, if snmpd exits). */
  private async waitUntilAnswering(timeoutMs: number): Promise<void> {
    const child = this.child!;
    const session = snmp.createSession('127.0.0.1', this.community, { port: this.port, version: snmp.Version2c, retries: 0, timeout: 300 });
    session.on('error', () => undefined);
    try {
      await waitFor(
        `snmpd on udp:127.0.0.1:${this.port} to answer`,
        () => {
          if (!child.running) throw new GiveUp(`snmpd exited (${JSON.stringify(child.exit)})\n${child.tail()}`);
          return new Promise<boolean>((resolve) => session.get(['1.3.6.1.2.1.1.3.0'], (err) => resolve(!err)));
        },
        timeoutMs,
        50,
      );
    } finally {
      session.close();
    }
  }

  async stop(): Promise<void> {
    if (!this.child?.running) return;
    const e = await this.child.stop(5000);
    if (e.signal === 'SIGKILL') throw new Error(`snmpd did not exit on SIGTERM within 5 s\n${this.child.tail()}`);
  }

  /** An agent restart: sysUpTime starts again from 0, v3 snmpEngineBoots increments. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and remove the temp dir. */
  async dispose(): Promise<void> {
    await this.stop();
    if (existsSync(this.dir)) removeDir(this.dir);
  }
}
