#!/usr/bin/env node
/**
 * Modbus RTU bus capacity: how many soil probes one 9600-baud RS-485 bus can poll
 * per minute, measured, against the limit the frame times set.
 *
 *   node dist/bench/modbus.js                      # both maps × turnaround 0, 20, 50 ms, 15 s each (~2 min)
 *   node dist/bench/modbus.js --seconds 30 --turnaround 10,30 --slaves 16 --json
 *
 * Measured: the real gateway in this process (buildGateway, the real pipeline and
 * store) with a ModbusSource polling `--slaves` simulated probes on one bus, over
 * a socat pty pair. The slave simulator (devices/soil_probe/modbus-slave.ts) runs in
 * `wireTiming` mode: it holds each answer back by the time a real 9600-baud line
 * takes (request on the wire + t3.5 + the slave's turnaround + answer on the wire),
 * so the pty behaves like the wire. Every slave is always due (pollS 0.05 s), so
 * the bus never idles: polls per minute over the window is the bus capacity, and
 * one slave polled once a minute needs one poll per minute of it.
 *
 * Theory (Modbus over Serial Line V1.02 §2.5.1; Application Protocol §6.3):
 *   character = 1 start + 8 data + parity + stop bits (8N1 = 10 bits: 1.042 ms at 9600)
 *   one poll  = request 8 bytes + t3.5 + turnaround + answer (5 + 2N bytes) + t3.5
 *   cwt-7in1 (N = 7): 8 + 19 = 27 characters = 28.1 ms + 2 × 3.65 ms = 35.4 ms + turnaround
 *   sensecap-3in1 (N = 3): 8 + 11 = 19 characters = 19.8 ms + 7.3 ms = 27.1 ms + turnaround
 *
 * Assumptions: 8N1 (the probes' factory setting; 8E1 adds 10 % line time); the
 * turnaround (how long a probe thinks before it answers) is not in the manuals:
 * 0 ms gives the line-only bound, 20–50 ms is what cheap soil probes typically
 * take; every probe answers (a dead probe costs one `timeoutMs` per backed-off
 * poll, see gateway/inputs/modbus/bus.ts). Timer resolution on the simulated wire
 * is about 1 ms. The figures are for the bus, not the CPU: the process CPU column
 * shows how little of a core the polling takes. Electrically a bus ends earlier than
 * its line time: 247 unit ids (Serial Line §2.2), and 32 unit loads per segment
 * with standard RS-485 transceivers (TIA-485-A), so the line time matters for how
 * often each probe can be read, not for how many fit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startSoilProbeBus, type SoilProbeBus } from '../devices/soil_probe/modbus-slave.js';
import { buildGateway, type Gateway } from '../gateway/build.js';
import { builtinMap } from '../gateway/inputs/modbus/maps.js';
import { charTimeMs, interFrameMs, READ_REQUEST_BYTES, readResponseBytes, type LineFormat } from '../gateway/inputs/modbus/registers.js';
import { ModbusSource } from '../gateway/inputs/modbus/source.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { PtyPair } from '../test/integration/serial-pty.js';

const MAPS = ['cwt-7in1', 'sensecap-3in1'] as const;
const LINE: LineFormat = { baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 };

interface Options {
  seconds: number;
  warmupSeconds: number;
  slaves: number;
  turnarounds: number[];
  baudRate: number;
  json: boolean;
}

interface Row {
  map: string;
  registers: number;
  baudRate: number;
  turnaroundMs: number;
  theoryMsPerPoll: number;
  theoryPollsPerMin: number;
  measuredPollsPerMin: number;
  pctOfTheory: number;
  meanResponseMs: number;
  failedRequests: number;
  cpuPctOfCore: number;
  /** Probes the bus can serve at pollS 60 and 10 (measured). */
  slavesAt60s: number;
  slavesAt10s: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      slaves: { type: 'string' },
      turnaround: { type: 'string' },
      baud: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('node dist/bench/modbus.js [--seconds 15] [--warmup 2] [--slaves 16] [--turnaround 0,20,50] [--baud 9600] [--json]\n');
    process.exit(0);
  }
  return {
    seconds: Number(values.seconds ?? 15),
    warmupSeconds: Number(values.warmup ?? 2),
    slaves: Number(values.slaves ?? 16),
    turnarounds: (values.turnaround ?? '0,20,50').split(',').map(Number),
    baudRate: Number(values.baud ?? 9600),
    json: values.json,
  };
}

/** Line-time bound of one poll (see the header). */
function theoryMs(line: LineFormat, registers: number, turnaroundMs: number): number {
  return (READ_REQUEST_BYTES + readResponseBytes(registers)) * charTimeMs(line) + 2 * interFrameMs(line) + turnaroundMs;
}

function settingsFor(dir: string, port: string, map: string, n: number, baudRate: number): SettingsInput {
  const devices = Array.from({ length: n }, (_, i) => ({
    id: `dat-${String(i + 1).padStart(2, '0')}`,
    name: `Cảm biến ${i + 1}`,
    kind: 'soil_probe',
    hamlet: 'ap-01',
    role: 'farm',
  }));
  return {
    commune: { code: '12345', name: 'Xã Đo Thử', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: 'gw-bench', dataDir: dir, heartbeatS: 30 },
    log: { level: 'silent', rejectLogIntervalS: 60 },
    hamlets: [{ id: 'ap-01', name: 'Ấp 1' }],
    mqtt: { host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0 },
    devices,
    modbus: {
      buses: [
        {
          id: 'bench',
          port,
          baudRate,
          timeoutMs: 500,
          slaves: devices.map((d, i) => ({ device: d.id, unitId: i + 1, map, pollS: 0.05 })),
        },
      ],
    },
  } as SettingsInput;
}

async function runOne(opts: Options, map: (typeof MAPS)[number], turnaroundMs: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'ce-bench-modbus-'));
  const pty = new PtyPair(dir);
  let bus: SoilProbeBus | undefined;
  let gw: Gateway | undefined;
  let source: ModbusSource | undefined;
  const line: LineFormat = { ...LINE, baudRate: opts.baudRate };
  try {
    await pty.start();
    bus = await startSoilProbeBus({
      path: pty.devPath,
      baudRate: line.baudRate,
      slaves: Array.from({ length: opts.slaves }, (_, i) => ({ unitId: i + 1, map })),
      wireTiming: true,
      turnaroundMs,
    });
    gw = await buildGateway(settingsFrom(settingsFor(dir, pty.gwPath, map, opts.slaves, line.baudRate)), { logger: pino({ level: 'silent' }) });
    await gw.start();
    // buildGateway loaded and started the Modbus source because `modbus:` is configured.
    source = gw.sources.find((x): x is ModbusSource => x instanceof ModbusSource);
    if (!source) throw new Error('the gateway did not start its Modbus source');
    const poller = source;

    await sleep(opts.warmupSeconds * 1000);
    const count = () => {
      const s = poller.snapshot()[0]!.slaves;
      return {
        ok: s.reduce((n, x) => n + x.okPolls, 0),
        failed: s.reduce((n, x) => n + (Object.values(x.requests).reduce((a, b) => a + b, 0) - x.requests.ok), 0),
      };
    };
    const histogram = async () => {
      const m = (await gw!.ctx.metrics.registry.getSingleMetric('ce_modbus_response_seconds')!.get()).values;
      const named = m as { metricName?: string; value: number }[]; // histogram values carry their series name
      const sum = named.find((v) => v.metricName === 'ce_modbus_response_seconds_sum')?.value ?? 0;
      const cnt = named.find((v) => v.metricName === 'ce_modbus_response_seconds_count')?.value ?? 0;
      return { sum, cnt };
    };
    const c0 = count();
    const h0 = await histogram();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(opts.seconds * 1000);
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const c1 = count();
    const h1 = await histogram();

    const registers = builtinMap(map)!.count;
    const tMs = theoryMs(line, registers, turnaroundMs);
    const measured = ((c1.ok - c0.ok) / elapsedMs) * 60_000;
    return {
      map,
      registers,
      baudRate: line.baudRate,
      turnaroundMs,
      theoryMsPerPoll: round(tMs, 1),
      theoryPollsPerMin: Math.floor(60_000 / tMs),
      measuredPollsPerMin: Math.round(measured),
      pctOfTheory: round((measured / (60_000 / tMs)) * 100, 1),
      meanResponseMs: round(((h1.sum - h0.sum) / Math.max(1, h1.cnt - h0.cnt)) * 1000, 1),
      failedRequests: c1.failed - c0.failed,
      cpuPctOfCore: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100, 1),
      slavesAt60s: Math.floor(measured),
      slavesAt10s: Math.floor(measured / 6),
    };
  } finally {
    await bus?.close().catch(() => undefined);
    await gw?.stop('bench').catch(() => undefined);
    await pty.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function round(v: number, digits: number): number {
  return Math.round(v * 10 ** digits) / 10 ** digits;
}

function table(rows: Row[]): string {
  const head = ['map', 'regs', 'turnaround', 'theory ms/poll', 'theory polls/min', 'measured polls/min', '% of theory', 'mean response', 'failed req', 'CPU % core', 'slaves @60 s', 'slaves @10 s'];
  const body = rows.map((r) => [
    r.map,
    String(r.registers),
    `${r.turnaroundMs} ms`,
    r.theoryMsPerPoll.toFixed(1),
    r.theoryPollsPerMin.toLocaleString('en-US'),
    r.measuredPollsPerMin.toLocaleString('en-US'),
    `${r.pctOfTheory.toFixed(1)} %`,
    `${r.meanResponseMs.toFixed(1)} ms`,
    String(r.failedRequests),
    r.cpuPctOfCore.toFixed(1),
    r.slavesAt60s.toLocaleString('en-US'),
    r.slavesAt10s.toLocaleString('en-US'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const rows: Row[] = [];
  for (const map of MAPS) {
    for (const turnaround of opts.turnarounds) {
      process.stderr.write(`modbus bench: ${map}, turnaround ${turnaround} ms, ${opts.slaves} slaves, ${opts.seconds} s ...\n`);
      rows.push(await runOne(opts, map, turnaround));
    }
  }
  if (!opts.json) {
    process.stdout.write(
      `Modbus RTU bus capacity at ${opts.baudRate} baud 8N1, ${opts.slaves} simulated probes over a socat pty with wire timing, ${opts.seconds} s per row\n\n${table(rows)}\n\n` +
        'slaves @60 s / @10 s: probes the line time allows at that poll interval. A real bus stops earlier: 247 unit ids\n' +
        '(Modbus over Serial Line §2.2) and 32 unit loads per segment with standard RS-485 transceivers (TIA-485-A;\n' +
        '1/8-load transceivers allow 256) without a repeater.\n\n',
    );
  }
  process.stdout.write(`${JSON.stringify({ bench: 'modbus', baudRate: opts.baudRate, slaves: opts.slaves, seconds: opts.seconds, rows })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`modbus bench failed: ${err.stack ?? err.message}\n`);
  process.exit(2);
});
