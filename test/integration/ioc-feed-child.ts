/**
 * A gateway with its IOC feed, as a child process of ioc-kill9.integration.test.ts
 * (run from the compiled tree: node <dist>/test/integration/ioc-feed-child.js).
 *
 * Environment:
 *   IOC_CHILD_DIR      the gateway's data dir (kept across runs)
 *   IOC_CHILD_URL      the receiver endpoint
 *   IOC_CHILD_PRODUCE  messages to enqueue (status snapshots), one every IOC_CHILD_EVERY_MS
 *   CE_IOC_TOKEN, CE_IOC_HMAC_KEY
 *
 * Prints `ENQ <seq> <messageId>` once an enqueue has returned (committed, fsync'ed),
 * `DEPTH <n>` every 100 ms, `READY` after start; exits on SIGTERM after a clean stop.
 */
import pino from 'pino';
import { buildGateway } from '../../gateway/build.js';
import { settingsFrom } from '../../gateway/settings/load.js';
import { IocFeed } from '../../gateway/uplink/feed.js';
import { testSettingsInput } from '../helpers/gateway.js';
import { feedSettings } from './ioc-helpers.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const dir = env('IOC_CHILD_DIR');
const produce = Number(process.env['IOC_CHILD_PRODUCE'] ?? 0);
const everyMs = Number(process.env['IOC_CHILD_EVERY_MS'] ?? 5);
const out = (line: string) => process.stdout.write(`${line}\n`);

const gw = await buildGateway(settingsFrom(testSettingsInput(dir)), { logger: pino({ level: 'silent' }) });
await gw.start();
const feed = new IocFeed({ settings: feedSettings(env('IOC_CHILD_URL'), { statusIntervalS: 3600, timeoutMs: 5000 }), timers: false });
await feed.start(gw.ctx);
out(`READY ${feed.outboxStatus().feedId}`);

const depth = setInterval(() => out(`DEPTH ${feed.outboxStatus().depth}`), 100);
let made = 0;
const producer = setInterval(() => {
  if (made >= produce) return clearInterval(producer);
  made++;
  const r = feed.enqueueStatus('periodic');
  if (r?.seq) out(`ENQ ${r.seq} ${r.messageId}`);
}, everyMs);

process.on('SIGTERM', () => {
  clearInterval(depth);
  clearInterval(producer);
  void feed
    .stop()
    .then(() => gw.stop('SIGTERM'))
    .then(() => process.exit(0));
});
