/**
 * InfluxDB 1.x writer, through the `influx` package. Field types come from the
 * package's per-measurement schema, built from the device kinds
 * (points.ts: measurementSchemas), so an integer field is always written `42i`
 * and a float field never flips to integer.
 *
 * Errors (InfluxDB 1.x HTTP API, /write): 204 written; 400 with "partial write"
 * or "unable to parse" = bad points (some may have been written); 401/403 =
 * credentials; 404 = database not found; 5xx and transport errors = retry.
 */
import { readFileSync } from 'node:fs';
import { FieldType, InfluxDB, type IPoint } from 'influx';
import type { FieldType as OurFieldType } from '../../devices/define.js';
import type { SinkSettings } from '../settings/schema.js';
import type { Sink, SinkPoint, WriteResult } from './contract.js';
import { measurementSchemas } from './points.js';

type V1Settings = Extract<SinkSettings, { type: 'influxdb-v1' }>;

const TYPE: Record<OurFieldType, FieldType> = {
  float: FieldType.FLOAT,
  integer: FieldType.INTEGER,
  boolean: FieldType.BOOLEAN,
  string: FieldType.STRING,
};

/** The `influx` pool's IBackoffStrategy: re-enable a failed host after 100 ms. */
const NO_HOST_BACKOFF = {
  getDelay: () => 100,
  next() {
    return NO_HOST_BACKOFF;
  },
  reset() {
    return NO_HOST_BACKOFF;
  },
};

export class InfluxV1Sink implements Sink {
  readonly type = 'influxdb-v1' as const;
  readonly id: string;
  private readonly settings: V1Settings;
  private readonly client: InfluxDB;

  constructor(settings: V1Settings) {
    this.id = settings.id;
    this.settings = settings;
    const url = new URL(settings.url);
    const options = {
      ...(settings.caFile ? { ca: readFileSync(settings.caFile) } : {}),
      rejectUnauthorized: settings.rejectUnauthorized,
    };
    this.client = new InfluxDB({
      hosts: [{ host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 8086)), protocol: url.protocol === 'https:' ? 'https' : 'http', options }],
      database: settings.database,
      ...(settings.username ? { username: settings.username } : {}),
      ...(settings.passwordEnv ? { password: process.env[settings.passwordEnv] ?? '' } : {}),
      // Retries, backoff and pacing are the forwarder's job: one attempt per call,
      // and no host "disabled" for up to 10 s by the package's own backoff after
      // a failure (it would delay the first write after InfluxDB is back).
      pool: { maxRetries: 0, requestTimeout: settings.forwarding.timeoutMs, backoff: NO_HOST_BACKOFF },
      schema: measurementSchemas().map((m) => ({
        measurement: m.measurement,
        tags: m.tags,
        fields: Object.fromEntries(Object.entries(m.fields).map(([k, t]) => [k, TYPE[t]])),
      })),
    });
  }

  async open(): Promise<void> {
    if (!this.settings.createDatabase) return;
    // CREATE DATABASE is idempotent in InfluxDB 1.x. A server that is down is
    // not an error here: the forwarder retries writes, and a 404 on write
    // ("database not found") asks it to call open() again.
    await this.client.createDatabase(this.settings.database).catch(() => undefined);
  }

  async write(batch: SinkPoint[]): Promise<WriteResult> {
    const points: IPoint[] = batch.map((p) => ({
      measurement: p.measurement,
      tags: Object.fromEntries(Object.entries(p.tags).filter(([, v]) => v !== '')), // empty tag values are invalid line protocol
      fields: Object.fromEntries(Object.entries(p.fields).map(([k, f]) => [k, f.value])),
      timestamp: p.ts,
    }));
    try {
      await this.client.writePoints(points, {
        precision: 'ms',
        ...(this.settings.retentionPolicy ? { retentionPolicy: this.settings.retentionPolicy } : {}),
      });
      return { kind: 'ok' };
    } catch (err) {
      return classify(err);
    }
  }

  async close(): Promise<void> {
    // The influx package keeps no open connections beyond node's agent.
  }
}

function classify(err: unknown): WriteResult {
  const e = err as Error & { res?: { statusCode?: number }; code?: string };
  const status = e.res?.statusCode;
  const reason = (e.message || String(err)).slice(0, 500);
  if (status === undefined) {
    // The influx package validates points against the schema before sending: a
    // point it refuses (e.g. a non-numeric value for a numeric field) is bad input.
    if (/^(Expected|Extraneous|Unknown field type)/.test(reason)) return { kind: 'rejected', reason, status: 0 };
    return { kind: 'retry', reason }; // ECONNREFUSED, timeout, "No host available"
  }
  if (status === 404 && /database not found/i.test(reason)) return { kind: 'retry', reason: `${reason} (will create it)` };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', reason };
  if (status === 401 || status === 403) return { kind: 'retry', reason: `credentials refused: ${reason}` };
  return { kind: 'rejected', reason, status };
}
