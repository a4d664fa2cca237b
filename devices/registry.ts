/**
 * Every device kind, one line each. Adding a kind = a folder under devices/ and a
 * line here; test/devices/meta.test.ts fails when a folder is missing from this list.
 */
import type { DeviceKind } from './define.js';
import { camera } from './camera/kind.js';
import { irrigation } from './irrigation/kind.js';
import { loudspeaker } from './loudspeaker/kind.js';
import { network } from './network/kind.js';
import { officePc } from './office_pc/kind.js';
import { power } from './power/kind.js';
import { soilProbe } from './soil_probe/kind.js';
import { vconf } from './vconf/kind.js';
import { wifiAp } from './wifi_ap/kind.js';

export const KINDS = [
  loudspeaker,
  camera,
  network,
  wifiAp,
  soilProbe,
  vconf,
  power,
  irrigation,
  officePc,
] as const satisfies readonly DeviceKind[];

export type KindId = (typeof KINDS)[number]['id'];
export const KIND_IDS = KINDS.map((k) => k.id) as [string, ...string[]];
const byId = new Map<string, DeviceKind>(KINDS.map((k) => [k.id, k]));

export function kindById(id: string): DeviceKind | undefined {
  return byId.get(id);
}
