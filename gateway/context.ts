/**
 * The one typed context every part receives (Telegraf-style plugins get their
 * accumulator; ours get this), instead of long positional argument lists.
 */
import type { ClockGuard } from './clock-guard.js';
import type { HealthTracker } from './health/tracker.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import type { Inventory } from './pipeline/inventory.js';
import type { Pipeline } from './pipeline/ingest.js';
import type { Settings } from './settings/schema.js';
import type { Store } from './store/store.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface GatewayContext {
  settings: Settings;
  log: Logger;
  metrics: GatewayMetrics;
  store: Store;
  inventory: Inventory;
  health: HealthTracker;
  pipeline: Pipeline;
  /** The guarded clock (holdover when the system clock is behind); use it for every timestamp. */
  clock: Clock;
  clockGuard: ClockGuard;
  /** This run's id in gateway_runs. */
  runId: number;
  version: string;
}

/**
 * An input transport (Telegraf's Input): `start` connects and keeps retrying with
 * backoff — a peer being down is not an error at start; `stop` releases
 * everything. Problems are counted per source, never thrown into the loop.
 */
export interface Source {
  readonly name: string;
  start(ctx: GatewayContext): Promise<void>;
  stop(): Promise<void>;
  status(): SourceStatus;
}

export interface SourceStatus {
  name: string;
  connected: boolean;
  detail?: string;
  clients?: number;
}
