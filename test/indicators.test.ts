/**
 * Indicator scenarios with hand-computed answers. Each scenario writes transitions,
 * gateway runs and readings into a real Store (as the health tracker and the
 * pipeline do) and checks the engine's figures against the arithmetic in the
 * comments. Times are local (+07:00): t('2026-03-02 08:00').
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parsePeriod } from '../gateway/indicators/periods.js';
import { rollupReadings } from '../gateway/indicators/rollup.js';
import type { InventoryDevice } from '../gateway/pipeline/inventory.js';
import { computeIndicators, lastOfficeWindow } from '../gateway/indicators/engine.js';
import { DAY, H, indicator, MIN, scenario, t, type Scenario } from './indicators-scenario.js';

const open: Scenario[] = [];
function make(...args: Parameters<typeof scenario>): Scenario {
  const s = scenario(...args);
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const sum = (xs: { numerator: number; denominator: number }[]) => ({
  numerator: xs.reduce((a, x) => a + x.numerator, 0),
  denominator: xs.reduce((a, x) => a + x.denominator, 0),
});

describe('three loudspeakers in two hamlets, one DOWN 6 h on day 2, the gateway off 3 h on day 5', () => {
  // Period 2026-03-01..2026-03-07: 7 days = 168 h, every device present all of it.
  //   loa-a1, loa-a2 in ap-01; loa-b1 in ap-02; all UP since 2026-02-20.
  //   loa-a1 DOWN (amp-fault) 2026-03-02 08:00 → 14:00: 6 h.
  //   gateway stopped 2026-03-05 10:00, started again 13:00: every device UNKNOWN 3 h.
  // Per device: known = 168 − 3 = 165 h. loa-a1 available 165 − 6 = 159 h.
  // Availability = (159 + 165 + 165) / (3 × 165) = 489 / 495 = 98.7878… %  (target ≥ 95 → Đạt)
  // Data coverage = 495 / (3 × 168) = 495 / 504 = 0.982142…
  // ap-01: 324 / 330 h = 98.1818… %, coverage 330 / 336; ap-02: 165 / 165 = 100 %.
  // Hamlet coverage: in ap-01 loa-a2 broadcasts while loa-a1 is down, so both hamlets
  //   are covered 165 h of 165 known h (100 % ≥ 90 %) → 2 / 2 = 100 %; coverage 330 / 336.
  // Gateway coverage: 165 / 168. Incidents 1 / 3 devices; MTTR 6 h = 360 min.
  async function build() {
    const s = make(['ap-01', 'ap-02'], [
      { id: 'loa-a1', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-a2', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-b1', kind: 'loudspeaker', hamlet: 'ap-02' },
    ]);
    const now = t('2026-03-08 01:00');
    s.run(t('2026-02-20 00:00'), t('2026-03-05 10:00'), t('2026-03-05 10:00'));
    s.run(t('2026-03-05 13:00'), now, null);
    for (const id of ['loa-a1', 'loa-a2', 'loa-b1']) {
      s.transition(id, t('2026-02-20 00:00'), 'UNKNOWN', 'never-seen');
      s.transition(id, t('2026-02-20 00:01'), 'UP');
      s.transition(id, t('2026-03-05 10:00'), 'UNKNOWN', 'gateway-stopped');
      s.transition(id, t('2026-03-05 13:00'), 'UP', 'ok', 2);
    }
    s.transition('loa-a1', t('2026-03-02 08:00'), 'DOWN', 'amp-fault');
    s.transition('loa-a1', t('2026-03-02 14:00'), 'UP');
    return { s, report: await s.compute('2026-03-01..2026-03-07', now) };
  }

  it('availability, data coverage and per-hamlet figures', async () => {
    const { report } = await build();
    expect(report.period).toMatchObject({ id: '2026-03-01..2026-03-07', kind: 'custom', from: t('2026-03-01 00:00'), to: t('2026-03-08 00:00') });
    expect(report.partial).toBe(false);
    expect(report.gatewayCoverage).toBeCloseTo(165 / 168, 12);
    const a = indicator(report, 'loudspeaker_availability');
    expect(a.numerator).toBe(489 * H);
    expect(a.denominator).toBe(495 * H);
    expect(a.value).toBeCloseTo((489 / 495) * 100, 10);
    expect(a.coverage).toBeCloseTo(495 / 504, 12);
    expect(a.status).toBe('DAT');
    expect(a.target).toEqual({ op: '>=', value: 95 });
    expect(a.byHamlet.map((h) => [h.id, h.numerator / H, h.denominator / H, h.coverage])).toEqual([
      ['ap-01', 324, 330, 330 / 336],
      ['ap-02', 165, 165, 165 / 168],
    ]);
    // Breakdowns sum to the commune's numerator and denominator.
    expect(sum(a.byHamlet)).toEqual({ numerator: a.numerator, denominator: a.denominator });
    expect(sum(a.byDevice)).toEqual({ numerator: a.numerator, denominator: a.denominator });
    const a1 = a.byDevice.find((d) => d.id === 'loa-a1')!;
    expect(a1).toMatchObject({ upMs: 159 * H, degradedMs: 0, downMs: 6 * H, unknownMs: 3 * H, maintenanceMs: 0, incidents: 1, mttrMin: 360 });
  });

  it('hamlet coverage, incidents and MTTR', async () => {
    const { report } = await build();
    const c = indicator(report, 'hamlets_loudspeaker_coverage');
    expect([c.numerator, c.denominator, c.value, c.status]).toEqual([2, 2, 100, 'DAT']);
    expect(c.coverage).toBeCloseTo(330 / 336, 12);
    expect(c.byHamlet.map((h) => [h.id, h.numerator, h.denominator])).toEqual([
      ['ap-01', 1, 1],
      ['ap-02', 1, 1],
    ]);
    const inc = indicator(report, 'incidents_per_device');
    expect([inc.numerator, inc.denominator]).toEqual([1, 3]);
    expect(inc.value).toBeCloseTo(1 / 3, 12);
    expect(inc.detail?.['byKind']).toEqual([
      { kind: 'loudspeaker', devices: 3, incidents: 1, repairs: 1, repairMin: 360, mttrMin: 360, openAtEnd: 0, repairsAcrossUnknown: 0 },
    ]);
    const m = indicator(report, 'mttr');
    expect([m.numerator, m.denominator, m.value, m.status]).toEqual([360, 1, 360, 'DAT']);
    // Kinds the commune does not have: nothing to divide by.
    expect(indicator(report, 'wan_availability')).toMatchObject({ denominator: 0, value: null, status: 'KHONG_DU_DU_LIEU' });
  });
});

describe('hamlet coverage combines the hamlet\'s loudspeakers', () => {
  // 2026-05-14 in ap-01: loa-1 DOWN 10:00–16:00, loa-2 DOWN 12:00–20:00, the gateway
  // off 21:00–22:00 (both UNKNOWN). Three-valued OR over the day:
  //   covered 00–12 (12 h) + 16–21 (5 h) + 22–24 (2 h) = 19 h; not covered 12–16 = 4 h;
  //   unknown 21–22 = 1 h. Covered share of the known time 19 / 23 = 82.6 %.
  // At the default 90 % the hamlet is not covered; at 80 % it is. Coverage 23 / 24.
  async function day(serviceThresholdPct?: number) {
    const s = make(['ap-01'], [
      { id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-2', kind: 'loudspeaker', hamlet: 'ap-01' },
    ], serviceThresholdPct === undefined ? {} : { indicators: { serviceThresholdPct } });
    s.run(t('2026-05-01 00:00'), t('2026-05-14 21:00'), t('2026-05-14 21:00'));
    s.run(t('2026-05-14 22:00'), t('2026-05-20 00:00'), null);
    for (const id of ['loa-1', 'loa-2']) {
      s.transition(id, t('2026-05-01 00:00'), 'UP');
      s.transition(id, t('2026-05-14 21:00'), 'UNKNOWN', 'gateway-stopped');
      s.transition(id, t('2026-05-14 22:00'), 'UP', 'ok', 2);
    }
    s.transition('loa-1', t('2026-05-14 10:00'), 'DOWN', 'amp-fault');
    s.transition('loa-1', t('2026-05-14 16:00'), 'UP');
    s.transition('loa-2', t('2026-05-14 12:00'), 'DOWN', 'heartbeat-timeout');
    s.transition('loa-2', t('2026-05-14 20:00'), 'UP');
    return indicator(await s.compute('2026-05-14', t('2026-05-20 00:00')), 'hamlets_loudspeaker_coverage');
  }

  it('not covered at 90 % of the known time, covered at 80 %', async () => {
    const strict = await day();
    expect([strict.numerator, strict.denominator, strict.status]).toEqual([0, 1, 'CHUA_DAT']);
    expect(strict.coverage).toBeCloseTo(23 / 24, 12);
    expect(strict.detail).toMatchObject({ uncovered: ['ap-01'], serviceThresholdPct: 90 });
    const lenient = await day(80);
    expect([lenient.numerator, lenient.denominator, lenient.status]).toEqual([1, 1, 'DAT']);
  });
});

describe('mean time to repair across a gateway outage', () => {
  it('counts one outage, and only the DOWN time observed', async () => {
    // loa-1 DOWN 09:00; the gateway stops 10:00 and starts 13:00 (UNKNOWN 3 h); the
    // loudspeaker is still silent, so DOWN again at 13:03 (heartbeat timeout counted
    // from the restart); UP at 15:00. One incident (DOWN → UNKNOWN → DOWN is the same
    // outage). Observed DOWN: 09:00–10:00 + 13:03–15:00 = 60 + 117 = 177 min.
    const s = make(['ap-01'], [{ id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' }]);
    const now = t('2026-03-06 00:00');
    s.run(t('2026-03-01 00:00'), t('2026-03-05 10:00'), t('2026-03-05 10:00'));
    s.run(t('2026-03-05 13:00'), now, null);
    s.transition('loa-1', t('2026-03-01 00:00'), 'UNKNOWN', 'never-seen');
    s.transition('loa-1', t('2026-03-01 00:00'), 'UP');
    s.transition('loa-1', t('2026-03-05 09:00'), 'DOWN', 'heartbeat-timeout');
    s.transition('loa-1', t('2026-03-05 10:00'), 'UNKNOWN', 'gateway-stopped');
    s.transition('loa-1', t('2026-03-05 13:03'), 'DOWN', 'heartbeat-timeout', 2);
    s.transition('loa-1', t('2026-03-05 15:00'), 'UP', 'ok', 2);
    const report = await s.compute('2026-03-05', now);
    expect(indicator(report, 'incidents_per_device').numerator).toBe(1);
    const m = indicator(report, 'mttr');
    expect([m.numerator, m.denominator]).toEqual([177, 1]);
    expect(m.detail?.['repairsAcrossUnknown']).toBe(1);
    // Availability of the day: UNKNOWN 10:00–13:03 (the device says nothing after the
    // restart until its timeout), so known 24 h − 183 min = 1257 min; down 177 min.
    const a = indicator(report, 'loudspeaker_availability');
    expect(a.denominator).toBe(1257 * MIN);
    expect(a.numerator).toBe((1257 - 177) * MIN);
  });

  it('the crash not yet followed by a restart: nothing is known after the last sign of life', async () => {
    // The gateway crashed at 12:00 (last heartbeat) and the CLI runs at 18:00 before it
    // is restarted: the device's UP must not run on to 18:00. Day so far: 18 h;
    // known 12 h (00:00–12:00), unknown 6 h.
    const s = make(['ap-01'], [{ id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' }]);
    s.run(t('2026-03-01 00:00'), t('2026-03-05 12:00'), null);
    s.transition('loa-1', t('2026-03-01 00:00'), 'UP');
    const report = await s.compute('2026-03-05', t('2026-03-05 18:00'));
    const a = indicator(report, 'loudspeaker_availability');
    expect(report.partial).toBe(true);
    expect([a.numerator, a.denominator]).toEqual([12 * H, 12 * H]);
    expect(a.coverage).toBeCloseTo(12 / 18, 12);
    expect(report.gatewayCoverage).toBeCloseTo(12 / 18, 12);
  });
});

describe('period boundaries at 00:00 +07:00', () => {
  // loa-1 UP from 2026-06-01 00:00; DOWN 2026-06-30 23:59 +07:00; UP 2026-07-01 00:00 +07:00
  // (= 2026-06-30T17:00Z, the first instant of July and of H2).
  async function build() {
    const s = make(['ap-01'], [{ id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' }]);
    const now = t('2026-07-15 00:00');
    s.run(t('2026-06-01 00:00'), now, null);
    s.transition('loa-1', t('2026-06-01 00:00'), 'UNKNOWN', 'never-seen');
    s.transition('loa-1', t('2026-06-01 00:00'), 'UP');
    s.transition('loa-1', t('2026-06-30 23:59'), 'DOWN', 'heartbeat-timeout');
    s.transition('loa-1', Date.parse('2026-06-30T17:00:00Z'), 'UP');
    return { s, now };
  }

  it('June has the minute of downtime and the incident; July has the repair', async () => {
    const { s, now } = await build();
    expect(parsePeriod('2026-07', 'Asia/Ho_Chi_Minh').from).toBe(Date.parse('2026-06-30T17:00:00Z'));
    // June: 30 days = 43,200 min, 1 down → 43,199 / 43,200.
    const june = await s.compute('2026-06', now);
    const a6 = indicator(june, 'loudspeaker_availability');
    expect([a6.numerator / MIN, a6.denominator / MIN]).toEqual([43_199, 43_200]);
    expect(indicator(june, 'incidents_per_device').numerator).toBe(1);
    // Not repaired within June: no MTTR for June, the incident is open at its end.
    expect(indicator(june, 'mttr')).toMatchObject({ denominator: 0, status: 'KHONG_DU_DU_LIEU' });
    expect(indicator(june, 'mttr').detail?.['openAtEnd']).toBe(1);
    // July (partial, 14 days so far): no downtime, no incident, one repair of 1 min.
    const july = await s.compute('2026-07', now);
    expect(july.partial).toBe(true);
    const a7 = indicator(july, 'loudspeaker_availability');
    expect([a7.numerator, a7.denominator]).toEqual([14 * DAY, 14 * DAY]);
    expect(indicator(july, 'incidents_per_device').numerator).toBe(0);
    expect(indicator(july, 'mttr')).toMatchObject({ numerator: 1, denominator: 1, value: 1 });
  });

  it('H1 ends and H2 starts at 2026-07-01 00:00 +07:00', async () => {
    const { s, now } = await build();
    const h1 = parsePeriod('2026-H1', 'Asia/Ho_Chi_Minh');
    expect([h1.from, h1.to]).toEqual([t('2026-01-01 00:00'), t('2026-07-01 00:00')]);
    // H1: the device counts from its first transition (June 1): 30 days, 1 min down.
    const a1 = indicator(await s.compute('2026-H1', now), 'loudspeaker_availability');
    expect([a1.numerator / MIN, a1.denominator / MIN]).toEqual([43_199, 43_200]);
    expect(a1.byDevice[0]!.coverage).toBe(1);
    const a2 = indicator(await s.compute('2026-H2', now), 'loudspeaker_availability');
    expect([a2.numerator, a2.denominator, a2.byDevice[0]!.downMs]).toEqual([14 * DAY, 14 * DAY, 0]);
  });
});

describe('a device added mid-period counts from its first transition', () => {
  it('April: loa-x added on the 11th, loa-y present all month', async () => {
    // loa-x: never-seen 2026-04-11 00:00 (it entered the inventory), UP 12:00:
    //   counted 20 days = 480 h, unknown 12 h, known 468 h, all available.
    // loa-y: all month (720 h), DOWN 24 h on 2026-04-20: known 720 h, available 696 h.
    // Availability = (468 + 696) / (468 + 720) = 1164 / 1188 = 97.9797… %
    // Coverage = 1188 / (480 + 720) = 0.99
    const s = make(['ap-01', 'ap-02'], [
      { id: 'loa-x', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-y', kind: 'loudspeaker', hamlet: 'ap-02' },
    ]);
    const now = t('2026-05-02 00:00');
    s.run(t('2026-03-01 00:00'), now, null);
    s.transition('loa-y', t('2026-03-01 00:00'), 'UP');
    s.transition('loa-y', t('2026-04-20 00:00'), 'DOWN', 'amp-fault');
    s.transition('loa-y', t('2026-04-21 00:00'), 'UP');
    s.transition('loa-x', t('2026-04-11 00:00'), 'UNKNOWN', 'never-seen');
    s.transition('loa-x', t('2026-04-11 12:00'), 'UP');
    const a = indicator(await s.compute('2026-04', now), 'loudspeaker_availability');
    expect([a.numerator / H, a.denominator / H]).toEqual([1164, 1188]);
    expect(a.coverage).toBeCloseTo(0.99, 12);
    expect(a.byDevice.find((d) => d.id === 'loa-x')).toMatchObject({ unknownMs: 12 * H, upMs: 468 * H, coverage: 468 / 480 });
    // And in March it did not exist yet: listed, with no time at all.
    const march = indicator(await s.compute('2026-03', now), 'loudspeaker_availability');
    expect(march.byDevice.find((d) => d.id === 'loa-x')).toMatchObject({ numerator: 0, denominator: 0, value: null, coverage: null });
  });
});

describe('planned maintenance', () => {
  it('is left out of availability, coverage and incidents', async () => {
    // loa-m (ap-01): DOWN 2026-04-05 08:00–12:00; window for hamlet ap-01 07:00–11:00.
    //   The failure started inside the window → no incident then; still DOWN when it
    //   closed at 11:00 → an incident from 11:00, repaired 12:00: MTTR 60 min.
    //   April = 720 h; maintenance 4 h; down outside it 1 h: 715 / 716 = 99.8603… %.
    // loa-n (ap-02): DOWN 09:00–12:00 inside its own window 08:00–13:00 → no incident,
    //   no downtime: 715 / 715 h... = 720 − 5 = 715 h, all available.
    const s = make(['ap-01', 'ap-02'], [
      { id: 'loa-m', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-n', kind: 'loudspeaker', hamlet: 'ap-02' },
    ], {
      indicators: {
        maintenance: [
          { from: '2026-04-05T07:00+07:00', to: '2026-04-05T11:00+07:00', hamlets: ['ap-01'], reason: 'Điện lực cắt điện bảo trì lưới' },
          { from: '2026-04-05T08:00+07:00', to: '2026-04-05T13:00+07:00', devices: ['loa-n'], reason: 'Thay bộ khuếch đại' },
        ],
      },
    });
    const now = t('2026-05-01 00:00');
    s.run(t('2026-03-01 00:00'), now, null);
    for (const id of ['loa-m', 'loa-n']) s.transition(id, t('2026-03-01 00:00'), 'UP');
    s.transition('loa-m', t('2026-04-05 08:00'), 'DOWN', 'heartbeat-timeout');
    s.transition('loa-m', t('2026-04-05 12:00'), 'UP');
    s.transition('loa-n', t('2026-04-05 09:00'), 'DOWN', 'amp-fault');
    s.transition('loa-n', t('2026-04-05 12:00'), 'UP');
    const report = await s.compute('2026-04', now);
    const a = indicator(report, 'loudspeaker_availability');
    const m = a.byDevice.find((d) => d.id === 'loa-m')!;
    const n = a.byDevice.find((d) => d.id === 'loa-n')!;
    expect(m).toMatchObject({ maintenanceMs: 4 * H, downMs: 1 * H, numerator: 715 * H, denominator: 716 * H, coverage: 1, incidents: 1, mttrMin: 60 });
    expect(n).toMatchObject({ maintenanceMs: 5 * H, downMs: 0, numerator: 715 * H, denominator: 715 * H, incidents: 0, mttrMin: null });
    expect(indicator(report, 'incidents_per_device').numerator).toBe(1);
    expect(indicator(report, 'mttr')).toMatchObject({ numerator: 60, denominator: 1 });
  });
});

describe('status Không đủ dữ liệu', () => {
  it('when the gateway watched too little of the period, even at 100 %', async () => {
    // The WAN line was UP whenever seen, but the gateway ran 6 h of the day:
    // coverage 6 / 24 = 0.25 < 0.8 → Không đủ dữ liệu, not Đạt.
    const s = make(['ap-01'], [{ id: 'wan-1', kind: 'network', hamlet: 'ap-01', role: 'wan' }]);
    s.run(t('2026-05-14 08:00'), t('2026-05-14 14:00'), t('2026-05-14 14:00'));
    s.transition('wan-1', t('2026-05-14 08:00'), 'UNKNOWN', 'never-seen');
    s.transition('wan-1', t('2026-05-14 08:00'), 'UP');
    s.transition('wan-1', t('2026-05-14 14:00'), 'UNKNOWN', 'gateway-stopped');
    // Counted from its first transition at 08:00: 16 h, of which 6 known.
    const report = await s.compute('2026-05-14', t('2026-05-20 00:00'));
    const w = indicator(report, 'wan_availability');
    expect([w.value, w.status]).toEqual([100, 'KHONG_DU_DU_LIEU']);
    expect(w.coverage).toBeCloseTo(6 / 16, 12);
    expect(report.gatewayCoverage).toBeCloseTo(6 / 24, 12);
    // With the floor lowered in config the same data is Đạt.
    const s2 = make(['ap-01'], [{ id: 'wan-1', kind: 'network', hamlet: 'ap-01', role: 'wan' }], { indicators: { minCoverage: 0.3 } });
    s2.run(t('2026-05-14 08:00'), t('2026-05-14 14:00'), t('2026-05-14 14:00'));
    s2.transition('wan-1', t('2026-05-14 08:00'), 'UP');
    s2.transition('wan-1', t('2026-05-14 14:00'), 'UNKNOWN', 'gateway-stopped');
    expect(indicator(await s2.compute('2026-05-14', t('2026-05-20 00:00')), 'wan_availability').status).toBe('DAT');
  });

  it('a target from config decides Đạt / Chưa đạt', async () => {
    // TSLCD 23 h up of 24 → 95.83 %: Chưa đạt at the default 99 %, Đạt at a configured 95 %.
    const mk = (target?: number) => {
      const s = make(['ap-01'], [{ id: 'tslcd-1', kind: 'network', hamlet: 'ap-01', role: 'tslcd' }], target === undefined ? {} : { indicators: { targets: { tslcd_availability: { value: target } } } });
      s.run(t('2026-05-01 00:00'), t('2026-05-20 00:00'), null);
      s.transition('tslcd-1', t('2026-05-01 00:00'), 'UP');
      s.transition('tslcd-1', t('2026-05-14 03:00'), 'DOWN', 'link-down');
      s.transition('tslcd-1', t('2026-05-14 04:00'), 'DEGRADED', 'loss-high');
      return s.compute('2026-05-14', t('2026-05-20 00:00'));
    };
    const def = indicator(await mk(), 'tslcd_availability');
    expect(def.value).toBeCloseTo((23 / 24) * 100, 10);
    expect([def.target, def.status]).toEqual([{ op: '>=', value: 99 }, 'CHUA_DAT']);
    expect(indicator(await mk(95), 'tslcd_availability')).toMatchObject({ target: { op: '>=', value: 95 }, status: 'DAT' });
  });
});

describe('readings-based indicators (rollup)', () => {
  it('RSRP: dead zones are hamlets with a measuring point below −110 dBm', async () => {
    // ap-01: loa-1 −95, −97 → mean −96 (usable).
    // ap-02: loa-2 −112, −115 → −113.5 (weak); loa-3 −100 (usable) → ap-02 has a dead spot.
    // ap-03: loa-4 reports no network at all (NONE) → counted at −140 → dead zone.
    // ap-04: no loudspeaker → unmeasured.
    // Measured 3 of 4 hamlets (coverage 0.75); usable 1 of 3 = 33.3 %.
    const s = make(['ap-01', 'ap-02', 'ap-03', 'ap-04'], [
      { id: 'loa-1', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'loa-2', kind: 'loudspeaker', hamlet: 'ap-02' },
      { id: 'loa-3', kind: 'loudspeaker', hamlet: 'ap-02' },
      { id: 'loa-4', kind: 'loudspeaker', hamlet: 'ap-03' },
    ], { indicators: { minCoverage: 0.7 } });
    const now = t('2026-05-20 00:00');
    s.run(t('2026-05-01 00:00'), now, null);
    s.reading('loa-1', t('2026-05-14 08:00'), { rsrp_dbm: -95, network_type: '4G' });
    s.reading('loa-1', t('2026-05-14 09:00'), { rsrp_dbm: -97, network_type: '4G' });
    s.reading('loa-2', t('2026-05-14 08:00'), { rsrp_dbm: -112, network_type: '4G' });
    s.reading('loa-2', t('2026-05-14 09:00'), { rsrp_dbm: -115, network_type: '4G' });
    s.reading('loa-3', t('2026-05-14 08:00'), { rsrp_dbm: -100, network_type: '4G' });
    s.reading('loa-4', t('2026-05-14 08:00'), { network_type: 'NONE' });
    // A reading from the day before is not in the period.
    s.reading('loa-1', t('2026-05-13 23:59'), { rsrp_dbm: -130, network_type: '4G' });
    const report = await s.compute('2026-05-14', now);
    const c = indicator(report, 'cellular_coverage_hamlets');
    expect([c.numerator, c.denominator, c.coverage, c.status]).toEqual([1, 3, 0.75, 'CHUA_DAT']);
    // No transitions were written here: the loudspeakers have no state in the period, so
    // hamlets ap-01..03 are unknown for loudspeaker coverage, while ap-04 (no loudspeaker
    // in the inventory) is known not covered for the 24 h the gateway watched.
    const lc = indicator(report, 'hamlets_loudspeaker_coverage');
    expect(lc.byHamlet.map((h) => [h.id, h.numerator, h.denominator, h.coverage])).toEqual([
      ['ap-01', 0, 1, 0],
      ['ap-02', 0, 1, 0],
      ['ap-03', 0, 1, 0],
      ['ap-04', 0, 1, 1],
    ]);
    expect(lc.detail).toMatchObject({ uncovered: ['ap-01', 'ap-02', 'ap-03'], withoutLoudspeaker: ['ap-04'] });
    expect(lc.status).toBe('KHONG_DU_DU_LIEU');
    expect(c.detail?.['deadZones']).toEqual(['ap-02', 'ap-03']);
    expect(c.detail?.['unmeasured']).toEqual(['ap-04']);
    const points = c.detail?.['points'] as { deviceId: string; meanDbm: number; usable: boolean }[];
    expect(points.map((p) => [p.deviceId, p.meanDbm, p.usable])).toEqual([
      ['loa-1', -96, true],
      ['loa-2', -113.5, false],
      ['loa-3', -100, true],
      ['loa-4', -140, false],
    ]);
  });

  it('soil completeness survives the eviction of the readings it was computed from', async () => {
    // soil-1 reports every 15 min (900 s): 96 readings expected in a day it is UP.
    // 2026-05-14: 88 received (a 2-hour hole: 8 missing) → 88 / 96 = 91.67 % (≥ 90: Đạt).
    const s = make(['ap-01'], [{ id: 'soil-1', kind: 'soil_probe', hamlet: 'ap-01' }, { id: 'ups-1', kind: 'power', hamlet: 'ap-01' }]);
    const now = t('2026-05-20 00:00');
    s.run(t('2026-05-01 00:00'), now, null);
    s.transition('soil-1', t('2026-05-01 00:00'), 'UP');
    for (let i = 0; i < 96; i++) {
      if (i >= 40 && i < 48) continue; // 10:00–12:00 lost on the radio
      s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 31.5 });
    }
    expect(rollupReadings(s.store)).toMatchObject({ rows: 88, more: false });
    // The spool fills up with other readings; the store evicts the oldest (ours).
    const filler = { note: 'x'.repeat(4000) };
    for (let i = 0; i < 600; i++) s.reading('ups-1', t('2026-05-15 00:00') + i * MIN, filler);
    (s.store as unknown as { opts: { maxBytes: number } }).opts.maxBytes = 1024 * 1024;
    s.store.enforceCap();
    const left = s.store.database.prepare("SELECT count(*) AS n FROM readings WHERE device_id = 'soil-1'").get() as { n: number };
    expect(left.n).toBe(0);
    const c = indicator(await s.compute('2026-05-14', now), 'soil_probe_completeness');
    expect([c.numerator, c.denominator, c.status]).toEqual([88, 96, 'DAT']);
    expect(c.value).toBeCloseTo((88 / 96) * 100, 10);
    expect(c.coverage).toBe(1);
  });

  it('readings evicted before the rollup saw them are a gap: unknown, not missing', async () => {
    // Day 1 (05-14) rolled up. Day 2 (05-15): 96 readings, the first 40 (00:00–09:45)
    // evicted before the next rollup. The gap runs from the last reading rolled up
    // (05-14 23:45) to the first one left (05-15 10:00): day 2 is known 10:00–24:00 =
    // 14 h → 56 expected, 56 received = 100 %, coverage 14 / 24 = 0.583 → Không đủ dữ liệu.
    const s = make(['ap-01'], [{ id: 'soil-1', kind: 'soil_probe', hamlet: 'ap-01' }]);
    const now = t('2026-05-20 00:00');
    s.run(t('2026-05-01 00:00'), now, null);
    s.transition('soil-1', t('2026-05-01 00:00'), 'UP');
    for (let i = 0; i < 96; i++) s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 30 });
    rollupReadings(s.store);
    for (let i = 0; i < 96; i++) s.reading('soil-1', t('2026-05-15 00:00') + i * 15 * MIN, { moisture_pct: 30 });
    // What Store.enforceCap does: DELETE FROM readings WHERE id <= cutoff (oldest first).
    s.store.database.prepare('DELETE FROM readings WHERE id <= ?').run(96 + 40);
    expect(rollupReadings(s.store)).toMatchObject({ rows: 56, missed: 40 });
    const c = indicator(await s.compute('2026-05-15', now), 'soil_probe_completeness');
    expect([c.numerator, c.denominator, c.value, c.status]).toEqual([56, 56, 100, 'KHONG_DU_DU_LIEU']);
    expect(c.coverage).toBeCloseTo(14 / 24, 12);
    // The day before is untouched: 96 / 96.
    expect(indicator(await s.compute('2026-05-14', now), 'soil_probe_completeness')).toMatchObject({ numerator: 96, denominator: 96, coverage: 1 });
  });

  it('mains power: on battery and power-loss DOWN count as lost, a silent UPS as unknown', async () => {
    // 2026-05-14, ups-1 (power):
    //   00:00–10:00 UP, mains on            → on 10 h
    //   10:00–12:00 DEGRADED on-battery     → lost 2 h
    //   12:00–13:00 DOWN battery-exhausting → lost 1 h
    //   13:00–18:00 UP, mains back          → on 5 h
    //   18:00–20:00 DOWN heartbeat-timeout  → unknown (the bridge is silent)
    //   20:00–24:00 UP                      → on 4 h
    // Mains availability = 19 / 22 = 86.36 %; coverage 22 / 24.
    const s = make(['ap-01'], [{ id: 'ups-1', kind: 'power', hamlet: 'ap-01', role: 'hamlet' }]);
    const now = t('2026-05-20 00:00');
    s.run(t('2026-05-01 00:00'), now, null);
    s.transition('ups-1', t('2026-05-13 00:00'), 'UP');
    s.transition('ups-1', t('2026-05-14 10:00'), 'DEGRADED', 'on-battery');
    s.transition('ups-1', t('2026-05-14 12:00'), 'DOWN', 'battery-exhausting');
    s.transition('ups-1', t('2026-05-14 13:00'), 'UP');
    s.transition('ups-1', t('2026-05-14 18:00'), 'DOWN', 'heartbeat-timeout');
    s.transition('ups-1', t('2026-05-14 20:00'), 'UP');
    s.reading('ups-1', t('2026-05-13 23:00'), { mains_ok: true, on_battery: false });
    s.reading('ups-1', t('2026-05-14 10:00'), { mains_ok: false, on_battery: true });
    s.reading('ups-1', t('2026-05-14 12:00'), { on_battery: true, battery_pct: 15 });
    s.reading('ups-1', t('2026-05-14 13:00'), { mains_ok: true, on_battery: false });
    s.reading('ups-1', t('2026-05-14 20:00'), { mains_ok: true });
    const p = indicator(await s.compute('2026-05-14', now), 'mains_power_availability');
    expect([p.numerator / H, p.denominator / H]).toEqual([19, 22]);
    expect(p.coverage).toBeCloseTo(22 / 24, 12);
    expect(p.status).toBe('CHUA_DAT');
  });
});

describe('count at the end of the period', () => {
  it('one-stop-shop cameras connected to the IOC', async () => {
    // cam-1 UP, last ioc_link true → connected. cam-2 UP (DEGRADED ioc-link-down), last
    // ioc_link false → not. cam-3 DOWN at the end → not. cam-4 UNKNOWN at midnight (the
    // gateway stopped 23:30) but UP at 23:29 with ioc_link true → its last known state
    // in the final day counts: connected. 2 / 4 = 50 % (target 100: Chưa đạt).
    const s = make(['ap-01'], ['cam-1', 'cam-2', 'cam-3', 'cam-4'].map((id) => ({ id, kind: 'camera', hamlet: 'ap-01', role: 'onestop' })));
    const now = t('2026-06-02 00:00');
    s.run(t('2026-05-01 00:00'), t('2026-05-31 23:30'), t('2026-05-31 23:30'));
    for (const id of ['cam-1', 'cam-2', 'cam-3', 'cam-4']) s.transition(id, t('2026-05-01 00:00'), 'UP');
    s.transition('cam-2', t('2026-05-20 00:00'), 'DEGRADED', 'ioc-link-down');
    s.transition('cam-3', t('2026-05-31 20:00'), 'DOWN', 'stream-down');
    s.transition('cam-4', t('2026-05-31 23:30'), 'UNKNOWN', 'gateway-stopped');
    s.reading('cam-1', t('2026-05-31 22:00'), { ioc_link: true, stream_ok: true });
    s.reading('cam-2', t('2026-05-19 22:00'), { ioc_link: true });
    s.reading('cam-2', t('2026-05-20 00:00'), { ioc_link: false });
    s.reading('cam-3', t('2026-05-31 19:00'), { ioc_link: true });
    s.reading('cam-4', t('2026-05-31 23:29'), { ioc_link: true });
    const c = indicator(await s.compute('2026-05', now), 'onestop_camera_ioc');
    expect([c.numerator, c.denominator, c.value, c.status, c.coverage]).toEqual([2, 4, 50, 'CHUA_DAT', 1]);
    expect(c.detail?.['notConnected']).toEqual(['cam-2', 'cam-3']);
    expect(c.byDevice.map((d) => [d.id, d.numerator])).toEqual([
      ['cam-1', 1],
      ['cam-2', 0],
      ['cam-3', 0],
      ['cam-4', 1],
    ]);
  });

  it('office computers: seen during office hours of the last working day (kind handled by id)', async () => {
    // May 2026 ends on a Sunday: the last working day is Friday 05-29, 07:00–17:00.
    // pc-1 on 08:00–16:30 → seen. pc-2 switched off all Friday (DOWN) → not seen, though
    // it was on Saturday. 1 / 2 = 50 %. The office_pc kind may not be registered yet: the
    // engine only compares kind ids, so the devices are added to the inventory by hand.
    const s = make(['ap-01'], []);
    const pc = (id: string) => ({ id, name: id, kind: { id: 'office_pc' }, hamlet: 'ap-01', role: undefined, heartbeatS: 60 }) as unknown as InventoryDevice;
    const devices = new Map<string, InventoryDevice>([['pc-1', pc('pc-1')], ['pc-2', pc('pc-2')]]);
    const now = t('2026-06-02 00:00');
    s.run(t('2026-05-01 00:00'), now, null);
    s.transition('pc-1', t('2026-05-01 00:00'), 'DOWN', 'not-seen');
    s.transition('pc-1', t('2026-05-29 08:00'), 'UP');
    s.transition('pc-1', t('2026-05-29 16:30'), 'DOWN', 'not-seen');
    s.transition('pc-2', t('2026-05-01 00:00'), 'DOWN', 'not-seen');
    s.transition('pc-2', t('2026-05-30 08:00'), 'UP');
    s.transition('pc-2', t('2026-05-30 11:00'), 'DOWN', 'not-seen');
    const window = lastOfficeWindow(s.settings, 'Asia/Ho_Chi_Minh', t('2026-05-01 00:00'), t('2026-06-01 00:00'));
    expect(window).toEqual([t('2026-05-29 07:00'), t('2026-05-29 17:00')]);
    const report = await computeIndicators({ settings: s.settings, store: s.store, inventory: { devices }, now }, parsePeriod('2026-05', 'Asia/Ho_Chi_Minh'));
    const c = indicator(report, 'office_computers_lan');
    expect([c.numerator, c.denominator, c.value, c.status, c.coverage]).toEqual([1, 2, 50, 'CHUA_DAT', 1]);
    expect(c.detail?.['notSeen']).toEqual(['pc-2']);
    // Office PCs off every night are not incidents.
    expect(indicator(report, 'incidents_per_device').denominator).toBe(0);
  });
});

describe('the rollup', () => {
  it('two connections rolling up the same file (gateway and CLI) never count a reading twice', async () => {
    const s = make(['ap-01'], [{ id: 'soil-1', kind: 'soil_probe', hamlet: 'ap-01' }]);
    const Database = (await import('better-sqlite3')).default;
    const cli = new Database(s.store.path);
    try {
      for (let i = 0; i < 10; i++) s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 30 });
      expect(rollupReadings({ database: cli })).toMatchObject({ rows: 10 });
      expect(rollupReadings(s.store)).toMatchObject({ rows: 0 });
      for (let i = 10; i < 15; i++) s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 30 });
      expect(rollupReadings(s.store)).toMatchObject({ rows: 5 });
      expect(rollupReadings({ database: cli })).toMatchObject({ rows: 0 });
      const row = s.store.database.prepare("SELECT sum(readings) AS n FROM indicator_daily WHERE device_id = 'soil-1'").get() as { n: number };
      expect(row.n).toBe(15);
    } finally {
      cli.close();
    }
  });

  it('goes on when SQLite reuses ids after every reading was evicted', () => {
    const s = make(['ap-01'], [{ id: 'soil-1', kind: 'soil_probe', hamlet: 'ap-01' }]);
    for (let i = 0; i < 5; i++) s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 30 });
    expect(rollupReadings(s.store)).toMatchObject({ rows: 5, cursor: 5 });
    s.store.database.prepare('DELETE FROM readings').run();
    for (let i = 5; i < 8; i++) s.reading('soil-1', t('2026-05-14 00:00') + i * 15 * MIN, { moisture_pct: 30 });
    // New ids 1..3, below the cursor: the rollup starts again from the table's first id.
    expect(rollupReadings(s.store)).toMatchObject({ rows: 3, cursor: 3 });
    const row = s.store.database.prepare("SELECT sum(readings) AS n FROM indicator_daily WHERE device_id = 'soil-1'").get() as { n: number };
    expect(row.n).toBe(8);
  });

  it('the gateway schedule rolls up on its own and logs a failure instead of throwing', async () => {
    const { scheduleRollup, ensureRollupTables } = await import('../gateway/indicators/rollup.js');
    const s = make(['ap-01'], [{ id: 'soil-1', kind: 'soil_probe', hamlet: 'ap-01' }]);
    ensureRollupTables(s.store.database);
    s.reading('soil-1', t('2026-05-14 00:00'), { moisture_pct: 30 });
    const warnings: string[] = [];
    const log = { warn: (_o: object, msg: string) => void warnings.push(msg) };
    const stop = scheduleRollup({ store: s.store, settings: s.settings, log }, 20);
    const count = () => (s.store.database.prepare('SELECT count(*) AS n FROM indicator_daily').get() as { n: number }).n;
    const deadline = Date.now() + 10_000;
    while (count() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(count()).toBe(1);
    const broken = { database: { prepare: () => { throw new Error('SQLITE_BUSY: database is locked'); }, exec: () => { throw new Error('SQLITE_BUSY: database is locked'); } } };
    const stop2 = scheduleRollup({ store: broken as never, settings: s.settings, log }, 20);
    while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop2();
    expect(warnings[0]).toBe('indicator rollup failed; retrying at the next tick');
  });
});

describe('against a brute-force oracle', () => {
  it('per-device state times, incidents and breakdown sums match a minute-by-minute count', async () => {
    // 12 loudspeakers in 4 hamlets, April 2026 (43,200 min), random transitions on whole
    // minutes (some before April, some devices appearing mid-month), one maintenance
    // window on two devices. The oracle looks up each device's state at every minute.
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const ids = Array.from({ length: 12 }, (_, i) => `loa-${i}`);
    const s = make(['ap-01', 'ap-02', 'ap-03', 'ap-04'], ids.map((id, i) => ({ id, kind: 'loudspeaker', hamlet: `ap-0${(i % 4) + 1}` })), {
      indicators: { maintenance: [{ from: '2026-04-10T06:00+07:00', to: '2026-04-11T18:30+07:00', devices: ['loa-1', 'loa-2'], reason: 'test' }] },
    });
    const from = t('2026-04-01 00:00');
    const to = t('2026-05-01 00:00');
    const now = t('2026-05-03 00:00');
    s.run(t('2026-03-01 00:00'), now, null);
    const states = ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'] as const;
    const history = new Map<string, { ts: number; to: (typeof states)[number] }[]>();
    ids.forEach((id, i) => {
      const list: { ts: number; to: (typeof states)[number] }[] = [];
      let ts = i % 3 === 0 ? from + Math.floor(rnd() * 10 * 1440) * MIN : from - Math.floor(rnd() * 5 * 1440) * MIN;
      while (ts < to + DAY) {
        const to_ = states[Math.floor(rnd() * 4)]!;
        list.push({ ts, to: to_ });
        s.transition(id, ts, to_, to_ === 'DOWN' ? 'amp-fault' : 'ok');
        ts += Math.floor(1 + rnd() * 3000) * MIN * (rnd() < 0.1 ? 0 : 1); // sometimes two at the same minute
      }
      history.set(id, list);
    });
    const mFrom = t('2026-04-10 06:00');
    const mTo = t('2026-04-11 18:30');
    const report = await s.compute('2026-04', now);
    const a = indicator(report, 'loudspeaker_availability');
    for (const id of ids) {
      const list = history.get(id)!;
      const want = { UP: 0, DEGRADED: 0, DOWN: 0, UNKNOWN: 0, maintenance: 0 };
      let k = -1;
      for (let m = from; m < to; m += MIN) {
        while (k + 1 < list.length && list[k + 1]!.ts <= m) k++;
        if (k < 0) continue; // not in the inventory yet
        if ((id === 'loa-1' || id === 'loa-2') && m >= mFrom && m < mTo) want.maintenance += MIN;
        else want[list[k]!.to] += MIN;
      }
      const got = a.byDevice.find((d) => d.id === id)!;
      expect({ id, up: got.upMs, degraded: got.degradedMs, down: got.downMs, unknown: got.unknownMs, maintenance: got.maintenanceMs }).toEqual({
        id,
        up: want.UP,
        degraded: want.DEGRADED,
        down: want.DOWN,
        unknown: want.UNKNOWN,
        maintenance: want.maintenance,
      });
      if (id === 'loa-1' || id === 'loa-2') continue;
      // Incidents: transitions into DOWN in April whose last known state was not DOWN.
      let lastKnown: string | null = null;
      let incidents = 0;
      for (const x of list) {
        if (x.ts >= to) break;
        if (x.to === 'DOWN' && lastKnown !== 'DOWN' && x.ts >= from) incidents++;
        if (x.to !== 'UNKNOWN') lastKnown = x.to;
      }
      expect({ id, incidents: got.incidents }).toEqual({ id, incidents });
    }
    for (const r of report.indicators) {
      const hamlets = sum(r.byHamlet);
      expect({ id: r.id, ...hamlets }).toEqual({ id: r.id, numerator: expect.closeTo(r.numerator, 6), denominator: expect.closeTo(r.denominator, 6) });
      if (r.byDevice.length > 0) {
        const devices = sum(r.byDevice);
        expect({ id: r.id, ...devices }).toEqual({ id: r.id, numerator: expect.closeTo(r.numerator, 6), denominator: expect.closeTo(r.denominator, 6) });
      }
    }
  });
});
