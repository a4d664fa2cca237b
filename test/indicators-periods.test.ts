/**
 * Period ids and their boundaries: 00:00 in the commune's zone; invalid ids are
 * CE_PERIOD_INVALID naming what is wrong. The arithmetic asks the zone database at
 * every instant, so zones with DST work too (checked on days whose midnight is
 * skipped or repeated).
 */
import { describe, expect, it } from 'vitest';
import { CodedError } from '../gateway/errors.js';
import { dayStartOf, isoWithOffset, localParts, parsePeriod, periodAt, periodIdAt, wallToEpoch } from '../gateway/indicators/periods.js';

const VN = 'Asia/Ho_Chi_Minh';
const at = (iso: string) => Date.parse(iso);

describe('period ids (Asia/Ho_Chi_Minh, UTC+7)', () => {
  it.each([
    ['2026-05-14', 'day', '2026-05-14T00:00+07:00', '2026-05-15T00:00+07:00'],
    ['2026-05', 'month', '2026-05-01T00:00+07:00', '2026-06-01T00:00+07:00'],
    ['2026-12', 'month', '2026-12-01T00:00+07:00', '2027-01-01T00:00+07:00'],
    ['2026-Q2', 'quarter', '2026-04-01T00:00+07:00', '2026-07-01T00:00+07:00'],
    ['2026-Q4', 'quarter', '2026-10-01T00:00+07:00', '2027-01-01T00:00+07:00'],
    ['2026-H1', 'half', '2026-01-01T00:00+07:00', '2026-07-01T00:00+07:00'],
    ['2026-H2', 'half', '2026-07-01T00:00+07:00', '2027-01-01T00:00+07:00'],
    ['2026', 'year', '2026-01-01T00:00+07:00', '2027-01-01T00:00+07:00'],
    ['2026-01-01..2026-03-31', 'custom', '2026-01-01T00:00+07:00', '2026-04-01T00:00+07:00'],
    ['2028-02-29', 'day', '2028-02-29T00:00+07:00', '2028-03-01T00:00+07:00'],
  ])('%s is a %s from %s to %s', (id, kind, from, to) => {
    expect(parsePeriod(id, VN)).toEqual({ id, kind, from: at(from), to: at(to), timezone: VN });
  });

  it('H1 ends exactly where H2 starts: 2026-06-30T17:00:00Z', () => {
    expect(parsePeriod('2026-H1', VN).to).toBe(at('2026-06-30T17:00:00Z'));
    expect(parsePeriod('2026-H2', VN).from).toBe(at('2026-06-30T17:00:00Z'));
    // 23:59 +07:00 on June 30 is in H1; 00:00 +07:00 on July 1 is not.
    const h1 = parsePeriod('2026-H1', VN);
    expect(at('2026-06-30T23:59+07:00')).toBeLessThan(h1.to);
    expect(at('2026-07-01T00:00+07:00')).toBe(h1.to);
  });

  it('normalises the id (q/h, spaces)', () => {
    expect(parsePeriod(' 2026-q2 ', VN).id).toBe('2026-Q2');
    expect(parsePeriod('2026-h1', VN).id).toBe('2026-H1');
  });

  it.each([
    ['', 'not a period id'],
    ['abc', 'not a period id'],
    ['2026-13', 'month 13 does not exist'],
    ['2026-00', 'month 0 does not exist'],
    ['2026-02-30', '2026-02-30 is not a date'],
    ['2026-02-29', '2026-02-29 is not a date'],
    ['2026-Q5', 'quarter 5 does not exist'],
    ['2026-H3', 'half-year 3 does not exist'],
    ['2026-03-31..2026-01-01', 'the last day 2026-01-01 is before the first day 2026-03-31'],
    ['1969', 'year 1969 is out of range'],
    ['2026-1-5', 'not a period id'],
  ])('"%s" is CE_PERIOD_INVALID: %s', (id, why) => {
    let caught: unknown;
    try {
      parsePeriod(id, VN);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CodedError);
    const e = caught as CodedError;
    expect(e.code).toBe('CE_PERIOD_INVALID');
    expect(e.status).toBe(400);
    expect(e.message).toContain(why);
    expect(e.message).toContain('2026-H1'); // the accepted forms are listed
  });

  it('an unknown time zone is a configuration error, not a crash', () => {
    expect(() => parsePeriod('2026-05', 'Asia/Hanoi_City')).toThrow(/commune.timezone "Asia\/Hanoi_City" is not an IANA time zone/);
  });

  it('the period containing an instant', () => {
    const t = at('2026-06-30T23:30+07:00'); // 16:30Z: the last half hour of June in Viet Nam
    expect(periodIdAt('month', t, VN)).toBe('2026-06');
    expect(periodIdAt('quarter', t, VN)).toBe('2026-Q2');
    expect(periodIdAt('half', t, VN)).toBe('2026-H1');
    expect(periodIdAt('day', at('2026-06-30T17:30:00Z'), VN)).toBe('2026-07-01');
    expect(periodAt('year', t, VN).id).toBe('2026');
  });

  it('ISO time with the commune offset', () => {
    expect(isoWithOffset(at('2026-07-01T01:15:30Z'), VN)).toBe('2026-07-01T08:15:30+07:00');
  });
});

describe('zones with daylight saving time', () => {
  it('Europe/Berlin: March 2026 starts at +01:00 and ends at +02:00; 29 March has 23 h', () => {
    const m = parsePeriod('2026-03', 'Europe/Berlin');
    expect([m.from, m.to]).toEqual([at('2026-03-01T00:00+01:00'), at('2026-04-01T00:00+02:00')]);
    const d = parsePeriod('2026-03-29', 'Europe/Berlin');
    expect(d.to - d.from).toBe(23 * 3_600_000);
  });

  it('America/Santiago: the clocks jump from 24:00 to 01:00, so 6 September 2026 starts at 01:00', () => {
    const d = parsePeriod('2026-09-06', 'America/Santiago');
    expect(localParts('America/Santiago', d.from)).toMatchObject({ day: 6, hour: 1, minute: 0 });
    expect(localParts('America/Santiago', d.from - 1)).toMatchObject({ day: 5, hour: 23, minute: 59 });
    expect(d.to - d.from).toBe(23 * 3_600_000);
  });

  it('America/Havana: 00:00–01:00 happens twice on 1 November 2026; the day starts at the first', () => {
    const d = parsePeriod('2026-11-01', 'America/Havana');
    expect(localParts('America/Havana', d.from)).toMatchObject({ day: 1, hour: 0, minute: 0 });
    expect(localParts('America/Havana', d.from - 1)).toMatchObject({ day: 31, hour: 23 });
    expect(d.to - d.from).toBe(25 * 3_600_000);
    expect(dayStartOf('America/Havana', d.from + 90 * 60_000)).toBe(d.from);
  });

  it('wall times inside a gap map to the instant the clocks jump', () => {
    // Berlin 2026-03-29 02:30 does not exist (02:00 → 03:00): the jump is at 01:00Z.
    expect(wallToEpoch('Europe/Berlin', 2026, 3, 29, 2, 30)).toBe(at('2026-03-29T01:00:00Z'));
  });
});

describe('fixed-offset zones read without ICU', () => {
  it('gives the same local time as ICU for Asia/Ho_Chi_Minh and UTC, across years, leap days and month ends', () => {
    const icu = (tz: string, t: number) => {
      const p: Record<string, number> = {};
      for (const part of new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(t)) {
        if (part.type !== 'literal') p[part.type] = Number(part.value);
      }
      return p;
    };
    let checked = 0;
    // Every ~7 h 13 min from 1976 to 2040: hits every hour of the day and every kind of date boundary.
    for (let t = Date.UTC(1976, 0, 1); t < Date.UTC(2040, 0, 1); t += 26_000_000 + 17_000) {
      for (const tz of ['Asia/Ho_Chi_Minh', 'UTC']) {
        const fast = localParts(tz, t);
        const ref = icu(tz, t);
        expect({ y: fast.year, mo: fast.month, d: fast.day, h: fast.hour, mi: fast.minute, s: fast.second }, `${tz} ${new Date(t).toISOString()}`).toEqual({
          y: ref['year'], mo: ref['month'], d: ref['day'], h: ref['hour'], mi: ref['minute'], s: ref['second'],
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100_000);
  });

  it('leaves times before 13 June 1975 to ICU (South Vietnam used UTC+8 before)', () => {
    const t = Date.UTC(1970, 0, 1, 12);
    const ref = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Ho_Chi_Minh', hourCycle: 'h23', hour: 'numeric' }).format(t));
    expect(localParts('Asia/Ho_Chi_Minh', t).hour).toBe(ref);
  });
});
