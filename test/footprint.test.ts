/**
 * The Pi footprint: heavy libraries are loaded only when configured or used.
 * Walks the static import graph from gateway/main.ts (the TypeScript sources,
 * `import ... from` and `export ... from`, not `import type` and not dynamic
 * `await import()`), and fails when a heavy package is reachable statically.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;

/** Packages that cost megabytes of RSS or start work at load, and are needed only by some configurations. */
const LAZY = [
  'node-opcua-client', // OPC UA: only with `opcua:` (~tens of MB)
  'node-opcua-server', // the irrigation simulator
  'node-opcua-certificate-manager',
  'serialport', // Modbus RTU: only with `modbus:` (native binding)
  'modbus-serial',
  'net-snmp', // SNMP probes: only with snmp targets
  'exceljs', // the half-year report: only when one is produced
  'pdfkit',
  'nodemailer', // e-mail alerts: only with an email channel
  'mqtt', // external broker mode and the IOC MQTT uplink
  'influx', // InfluxDB sinks: only when configured
  '@influxdata/influxdb-client',
  'playwright-core',
  'ws', // the MQTT-over-WebSocket listener: only with mqtt.websocket
];

function staticImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  // Statements beginning a line: import X from 'y' / import 'y' / export ... from 'y' (multi-line clauses included).
  const re = /^(?:import|export)\s+(?!type\b)(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gms;
  for (const m of src.matchAll(re)) out.push(m[1]!);
  return out;
}

function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
}

function reachablePackages(entry: string): Map<string, string[]> {
  const seen = new Set<string>();
  const packages = new Map<string, string[]>();
  const stack: { file: string; path: string[] }[] = [{ file: entry, path: [entry.replace(ROOT, '')] }];
  while (stack.length) {
    const { file, path } = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of staticImports(file)) {
      const local = resolveLocal(file, spec);
      if (local) stack.push({ file: local, path: [...path, local.replace(ROOT, '')] });
      else if (!spec.startsWith('node:') && !spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!packages.has(pkg)) packages.set(pkg, path);
      }
    }
  }
  return packages;
}

describe('footprint: heavy packages load only when configured', () => {
  it('the import-graph walker sees through re-exports and skips type-only and dynamic imports', () => {
    const pkgs = reachablePackages(join(ROOT, 'gateway/main.ts'));
    // Sanity: what every gateway needs is found.
    for (const p of ['fastify', 'aedes', 'better-sqlite3', 'zod', 'pino']) expect(pkgs.has(p), p).toBe(true);
  });

  it('gateway/main.ts reaches none of the heavy packages statically', () => {
    const pkgs = reachablePackages(join(ROOT, 'gateway/main.ts'));
    const offenders = LAZY.filter((p) => pkgs.has(p)).map((p) => `${p} via ${pkgs.get(p)!.join(' → ')}`);
    expect(offenders).toEqual([]);
  });
});
