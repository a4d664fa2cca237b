/**
 * Every kind's simulator against its own schema and health rule: healthy when no
 * fault is injected, visibly unhealthy when one is, and deterministic per seed.
 */
import { describe, expect, it } from 'vitest';
import { decodeFields } from '../../devices/decode.js';
import type { DeviceKind, Fields, SimFault, Verdict } from '../../devices/define.js';
import { KINDS } from '../../devices/registry.js';
import { mulberry32 } from './helpers.js';

const STEPS = 500;
/** Many seeds for 'none': a simulator's per-device constants (base RSRP, ...) come from the seed. */
const SEEDS = Array.from({ length: 12 }, (_, i) => 1 + i * 7919);
const FAULT_SEEDS = SEEDS.slice(0, 3);
/** Monday 2026-03-02 08:00 in Asia/Ho_Chi_Minh: office hours, a meeting slot. */
const START = Date.UTC(2026, 2, 2, 1, 0, 0);

interface Run {
  fields: Fields[];
  verdicts: Verdict[];
  implausible: (readonly string[])[];
}

function run(kind: DeviceKind, role: string | undefined, seed: number, fault: SimFault, stepS: number): Run {
  const sim = kind.simulator({ deviceId: `sim-${seed}`, hamlet: 'ap-01', role, rng: mulberry32(seed) });
  const out: Run = { fields: [], verdicts: [], implausible: [] };
  for (let i = 0; i < STEPS; i++) {
    const fields = sim.next({ now: START + i * stepS * 1000, dtS: i === 0 ? 0 : stepS, fault });
    const decoded = decodeFields(kind, fields);
    if (!decoded.ok) throw new Error(`${kind.id}/${role}/seed ${seed}/${fault} step ${i}: ${decoded.message}`);
    // Canonical output needs no normalising and loses nothing to the schema.
    expect(decoded.fields).toStrictEqual(fields);
    out.fields.push(fields);
    out.implausible.push(decoded.implausible);
    out.verdicts.push(kind.health(decoded.fields, { id: 't', kind: kind.id, role }));
  }
  return out;
}

const rolesOf = (kind: DeviceKind): Array<string | undefined> => (kind.roles.length ? [...kind.roles] : [undefined]);

describe.each(KINDS.map((k) => [k.id, k] as const))('simulator: %s', (_id, kind) => {
  for (const role of rolesOf(kind)) {
    // At the kind's own cadence, and at 10 min so a run spans several days and nights.
    for (const [stepS, seeds] of [
      [kind.heartbeatS, SEEDS],
      [600, FAULT_SEEDS],
    ] as const) {
      it(`role ${role ?? '-'}, every ${stepS} s, fault none: valid, plausible, UP for ${STEPS} steps`, () => {
        for (const seed of seeds) {
          const r = run(kind, role, seed, 'none', stepS);
          r.implausible.forEach((bad, i) => expect(bad, `seed ${seed} step ${i}`).toStrictEqual([]));
          r.verdicts.forEach((v, i) =>
            expect(v, `seed ${seed} step ${i}: ${JSON.stringify(r.fields[i])}`).toStrictEqual({ state: 'UP', reason: 'ok' }),
          );
        }
      });
    }

    for (const fault of ['degrade', 'power', 'flap'] as const) {
      it(`role ${role ?? '-'}, fault ${fault}: valid, and not always UP`, () => {
        for (const seed of FAULT_SEEDS) {
          const r = run(kind, role, seed, fault, kind.heartbeatS);
          const bad = r.verdicts.filter((v) => v.state !== 'UP');
          expect(bad.length, `seed ${seed}`).toBeGreaterThan(0);
          if (fault === 'flap') {
            // A flapping link alternates: it is also seen up between the drops.
            expect(r.verdicts.some((v) => v.state === 'UP'), `seed ${seed}`).toBe(true);
          }
        }
      });
    }
  }

  it('is deterministic for a given seed', () => {
    const role = kind.roles[0];
    for (const fault of ['none', 'degrade', 'power', 'flap'] as const) {
      expect(run(kind, role, 42, fault, kind.heartbeatS).fields).toStrictEqual(run(kind, role, 42, fault, kind.heartbeatS).fields);
    }
  });
});
