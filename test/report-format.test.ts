import { describe, expect, it } from 'vitest';
import {
  formatDateLineVi,
  formatDateTimeVi,
  formatDateVi,
  formatNumber,
  formatNumberVi,
  formatPercent,
  formatPercentVi,
  NO_VALUE,
} from '../gateway/report/format.js';

describe('formatNumberVi: decimal comma, thousands dot', () => {
  it.each([
    [99.5, {}, '99,5'],
    [1234567.25, {}, '1.234.567,3'],
    [1234.5, { grouping: false }, '1234,5'],
    [100, {}, '100'],
    [100, { minDecimals: 1 }, '100,0'],
    [0.05, { decimals: 2 }, '0,05'],
    [2.449, { decimals: 2 }, '2,45'],
    [-3.25, { decimals: 1 }, '-3,3'],
    [12, { decimals: 0 }, '12'],
  ] as const)('%s %o → %s', (value, o, text) => {
    expect(formatNumberVi(value, o)).toBe(text);
  });

  it('rounds a small negative to "0", not "-0"', () => {
    expect(formatNumberVi(-0.04)).toBe('0');
    expect(formatNumberVi(-0.04, { minDecimals: 1 })).toBe('0,0');
  });

  it.each([null, undefined, Number.NaN, Number.POSITIVE_INFINITY])('%s → the no-value dash', (v) => {
    expect(formatNumberVi(v)).toBe(NO_VALUE);
    expect(formatPercentVi(v)).toBe(NO_VALUE);
  });

  it('English uses the decimal point and the thousands comma', () => {
    expect(formatNumber(1234567.25, 'en')).toBe('1,234,567.3');
    expect(formatPercent(99.5, 'en')).toBe('99.5%');
  });
});

describe('formatPercentVi', () => {
  it('writes the sign without a space, as the plans do ("85%")', () => {
    expect(formatPercentVi(85)).toBe('85%');
    expect(formatPercentVi(99.53)).toBe('99,5%');
    expect(formatPercentVi(99.53, { decimals: 2 })).toBe('99,53%');
  });
  it('takes a fraction 0..1 with { fraction: true } (data coverage)', () => {
    expect(formatPercentVi(0.9871, { fraction: true })).toBe('98,7%');
    expect(formatPercentVi(1, { fraction: true, minDecimals: 1 })).toBe('100,0%');
  });
});

describe('dates in Asia/Ho_Chi_Minh', () => {
  // 17:30 UTC on 30 June is 00:30 on 1 July in Vietnam (UTC+7): the day must follow the commune's zone.
  const lateJune = Date.UTC(2026, 5, 30, 17, 30);
  it('formatDateVi is dd/mm/yyyy in the commune zone', () => {
    expect(formatDateVi(lateJune)).toBe('01/07/2026');
    expect(formatDateVi(lateJune, 'UTC')).toBe('30/06/2026');
    expect(formatDateVi('2026-01-05T00:00:00+07:00')).toBe('05/01/2026');
    expect(formatDateVi(new Date(Number.NaN))).toBe(NO_VALUE);
  });
  it('formatDateTimeVi puts the time first, 24-hour', () => {
    expect(formatDateTimeVi('2026-07-01T20:05:00+07:00')).toBe('20:05 01/07/2026');
  });
  it('formatDateLineVi zero-pads days below 10 and months 1 and 2 only (Decree 30/2020/NĐ-CP)', () => {
    expect(formatDateLineVi('2026-07-01T08:00:00+07:00')).toBe('ngày 01 tháng 7 năm 2026');
    expect(formatDateLineVi('2026-02-05T08:00:00+07:00')).toBe('ngày 05 tháng 02 năm 2026');
    expect(formatDateLineVi('2026-12-25T08:00:00+07:00')).toBe('ngày 25 tháng 12 năm 2026');
  });
});
