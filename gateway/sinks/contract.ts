/**
 * The sink contract (Telegraf's Output): a sink writes one batch and says, per
 * batch, what happened. The forwarder (forwarder.ts) owns batching, retries,
 * pacing and the durable cursors; a sink only talks to its server.
 */
import type { FieldType, FieldValue } from '../../devices/define.js';

/** One point, typed: the device kind fixes each field's type, the writer coerces. */
export interface SinkPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, { type: FieldType; value: FieldValue }>;
  /** Epoch milliseconds (points are written with ms precision). */
  ts: number;
}

export type WriteResult =
  /** Every point is stored. */
  | { kind: 'ok' }
  /** Nothing can be said about the batch (transport error, timeout, 5xx, 429): retry it whole. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /**
   * The server rejected the batch as bad input (4xx). Some points may have been
   * written (InfluxDB's partial writes); the forwarder splits the batch to find
   * the points that fail alone and quarantines them.
   */
  | { kind: 'rejected'; reason: string; status: number };

export interface Sink {
  readonly id: string;
  readonly type: 'influxdb-v1' | 'influxdb-v2';
  /** Prepare (e.g. create the database when allowed). Must not throw for a peer that is down. */
  open(): Promise<void>;
  write(batch: SinkPoint[]): Promise<WriteResult>;
  close(): Promise<void>;
}
