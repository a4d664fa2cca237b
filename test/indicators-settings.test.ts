/**
 * `indicators:` settings: defaults when the key is absent, and the cross-checks
 * (unknown ids with a hint, windows that end before they start, unknown devices,
 * kinds, roles, hamlets) reported with their paths like the rest of the config.
 */
import { describe, expect, it } from 'vitest';
import { checkIndicators } from '../gateway/indicators/settings.js';
import type { CheckRefs } from '../gateway/settings/check-kit.js';
import { settingsFrom, validateSettings } from '../gateway/settings/load.js';
import type { SettingsInput } from '../gateway/settings/schema.js';

const base = (indicators?: unknown): SettingsInput =>
  ({
    commune: { code: '26999', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    hamlets: [
      { id: 'ap-01', name: 'Ấp 1' },
      { id: 'ap-02', name: 'Ấp 2' },
    ],
    devices: [
      { id: 'loa-01', name: 'Loa 1', kind: 'loudspeaker', hamlet: 'ap-01' },
      { id: 'cam-01', name: 'Camera 1', kind: 'camera', hamlet: 'ap-02', role: 'onestop' },
    ],
    ...(indicators === undefined ? {} : { indicators }),
  }) as SettingsInput;

function problems(indicators: unknown): string[] {
  const r = validateSettings(base(indicators));
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('indicators settings', () => {
  it('defaults when absent', () => {
    const s = settingsFrom(base());
    expect(s.indicators).toEqual({
      minCoverage: 0.8,
      serviceThresholdPct: 90,
      rsrpUsableDbm: -110,
      officeHours: { days: [1, 2, 3, 4, 5], from: '07:00', to: '17:00' },
      targets: {},
      responsibleUnits: {},
      cooperatingUnits: {},
      maintenance: [],
    });
  });

  it('accepts a full section', () => {
    const s = settingsFrom(
      base({
        minCoverage: 0.9,
        targets: { wan_availability: { value: 99.5 }, mttr: { op: '<=', value: 240 } },
        responsibleUnits: { vconf_availability: 'Văn phòng HĐND và UBND' },
        officeHours: { days: [1, 2, 3, 4, 5, 6], from: '07:30' },
        maintenance: [{ from: '2026-03-14T08:00+07:00', to: '2026-03-14T11:00+07:00', kinds: ['camera:onestop'], hamlets: ['ap-01'], devices: ['loa-01'], reason: 'Bảo trì' }],
      }),
    );
    expect(s.indicators.targets['wan_availability']).toEqual({ value: 99.5 });
    expect(s.indicators.officeHours).toEqual({ days: [1, 2, 3, 4, 5, 6], from: '07:30', to: '17:00' });
    expect(s.indicators.maintenance).toHaveLength(1);
  });

  it('unknown indicator ids, with a hint', () => {
    expect(problems({ targets: { wan_availabilty: { value: 99 } }, responsibleUnits: { mtr: 'X' } })).toEqual([
      expect.stringMatching(/^indicators\.targets\.wan_availabilty: unknown indicator "wan_availabilty"; did you mean "wan_availability"\? known: loudspeaker_availability, /),
      expect.stringMatching(/^indicators\.responsibleUnits\.mtr: unknown indicator "mtr"; did you mean "mttr"\?/),
    ]);
  });

  it('a percentage target outside 0..100', () => {
    expect(problems({ targets: { loudspeaker_availability: { value: 120 } } })).toEqual([
      'indicators.targets.loudspeaker_availability.value: loudspeaker_availability is a percentage: the target must be 0..100, not 120',
    ]);
  });

  it('maintenance windows: end before start, unknown device, kind and role', () => {
    const p = problems({
      maintenance: [
        { from: '2026-03-14T11:00+07:00', to: '2026-03-14T08:00+07:00', reason: 'x' },
        { from: '2026-03-14T08:00+07:00', to: '2026-03-14T11:00+07:00', devices: ['loa-1'], kinds: ['loudspeker', 'camera:lobby'], reason: 'y' },
      ],
    });
    expect(p).toEqual([
      'indicators.maintenance[0].to: the window ends (2026-03-14T08:00+07:00) before or when it starts (2026-03-14T11:00+07:00)',
      expect.stringMatching(/^indicators\.maintenance\[1\]\.devices\[0\]: unknown device "loa-1"/),
      expect.stringMatching(/^indicators\.maintenance\[1\]\.kinds\[0\]: unknown device kind "loudspeker"; did you mean "loudspeaker"\?/),
      expect.stringMatching(/^indicators\.maintenance\[1\]\.kinds\[1\]: "lobby" is not a role of camera; .*known: onestop, security, traffic, farm/),
    ]);
  });

  it('times must carry an offset; office hours must end after they start', () => {
    const p = problems({
      officeHours: { from: '17:00', to: '07:00' },
      maintenance: [{ from: '2026-03-14T08:00', to: '2026-03-14T11:00+07:00', reason: 'x' }],
    });
    expect(p).toContainEqual(expect.stringMatching(/^indicators\.maintenance\[0\]\.from: must be ISO 8601 with an offset/));
    expect(p).toContainEqual('indicators.officeHours.to: office hours end 07:00 is not after their start 17:00');
  });

  it('unknown hamlets, when the caller passes the hamlet ids', () => {
    const issues: string[] = [];
    const refs: CheckRefs = { devices: new Map(), issue: (path, message) => issues.push(`${path.join('.')}: ${message}`) };
    checkIndicators({ maintenance: [{ from: '2026-03-14T08:00+07:00', to: '2026-03-14T09:00+07:00', hamlets: ['ap-01', 'ap-1'], reason: 'x' }] }, refs, ['ap-01', 'ap-02']);
    expect(issues).toEqual(['indicators.maintenance.0.hamlets.1: unknown hamlet "ap-1"; known: ap-01, ap-02']);
  });
});
