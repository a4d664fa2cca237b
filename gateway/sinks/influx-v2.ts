/**
 * InfluxDB 2.x / 3.x writer (v2 write API), through @influxdata/influxdb-client.
 * Typed fields through its Point builder (intField, floatField, ...). The
 * client's own retry buffer is disabled: the forwarder owns retries, pacing and
 * durability (the spool is on disk, the client's buffer is in memory).
 *
 * InfluxDB v2 API reference, POST /api/v2/write: 204 written; 400 bad line
 * protocol; 401 token; 404 org/bucket not found; 413 too large; 422 partial
 * write (type conflict: other points were written); 429 and 503 with
 * Retry-After; 500 internal.
 */
import { readFileSync } from 'node:fs';
import { InfluxDB, Point, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import type { SinkSettings } from '../settings/schema.js';
import type { Sink, SinkPoint, WriteResult } from './contract.js';

type V2Settings = Extract<SinkSettings, { type: 'influxdb-v2' }>;

// The client logs every failed write with a stack trace to stderr; the
// forwarder already counts and logs failures (rate-limited), so keep it quiet.
setLogger({ error: () => undefined, warn: () => undefined });

export class InfluxV2Sink implements Sink {
  readonly type = 'influxdb-v2' as const;
  readonly id: string;
  private readonly settings: V2Settings;
  private readonly client: InfluxDB;

  constructor(settings: V2Settings) {
    this.id = settings.id;
    this.settings = settings;
    this.client = new InfluxDB({
      url: settings.url,
      token: process.env[settings.tokenEnv] ?? '',
      timeout: settings.forwarding.timeoutMs,
      transportOptions: {
        ...(settings.caFile ? { ca: readFileSync(settings.caFile) } : {}),
        rejectUnauthorized: settings.rejectUnauthorized,
      },
    });
  }

  async open(): Promise<void> {
    // Buckets are created by the province's administrators, not by gateways.
  }

  private writeApi(): WriteApi {
    return this.client.getWriteApi(this.settings.org, this.settings.bucket, 'ms', {
      batchSize: this.settings.forwarding.batchPoints + 1, // we flush explicitly
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: this.settings.forwarding.batchPoints * 2,
      // gzip above 1 kB when enabled (Content-Encoding: gzip, as the API documents).
      gzipThreshold: this.settings.gzip ? 1000 : Number.MAX_SAFE_INTEGER,
    });
  }

  async write(batch: SinkPoint[]): Promise<WriteResult> {
    const api = this.writeApi();
    for (const p of batch) {
      const point = new Point(p.measurement).timestamp(p.ts);
      for (const [k, v] of Object.entries(p.tags)) if (v !== '') point.tag(k, v);
      for (const [k, f] of Object.entries(p.fields)) {
        if (f.type === 'integer') point.intField(k, Math.round(Number(f.value)));
        else if (f.type === 'float') point.floatField(k, Number(f.value));
        else if (f.type === 'boolean') point.booleanField(k, f.value === true);
        else point.stringField(k, String(f.value));
      }
      api.writePoint(point);
    }
    try {
      await api.close(); // flushes and waits for the response
      return { kind: 'ok' };
    } catch (err) {
      return classify(err);
    }
  }

  async close(): Promise<void> {}
}

function classify(err: unknown): WriteResult {
  const e = err as Error & { statusCode?: number; body?: string; retryAfter?: () => number };
  const status = e.statusCode;
  const reason = `${e.message ?? String(err)}${e.body && !e.message?.includes(e.body) ? `: ${e.body}` : ''}`.slice(0, 500);
  if (status === undefined) return { kind: 'retry', reason };
  if (status === 408 || status === 429 || status >= 500) {
    // HttpError.retryAfter(): the Retry-After header in ms, or a client default when absent.
    const headers = (e as { headers?: Record<string, unknown> }).headers;
    const hasHeader = headers !== undefined && Object.keys(headers).some((h) => h.toLowerCase() === 'retry-after');
    return hasHeader && typeof e.retryAfter === 'function' ? { kind: 'retry', reason, retryAfterMs: e.retryAfter() } : { kind: 'retry', reason };
  }
  if (status === 401 || status === 403 || status === 404) return { kind: 'retry', reason: `refused (${status}): ${reason}` };
  return { kind: 'rejected', reason, status };
}
