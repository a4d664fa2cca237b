/**
 * Shared by the IOC feed tests: hand-built indicator reports (the engine is
 * another module; the feed takes `computeReport` as a dependency), feed settings,
 * and a throwaway CA with a server certificate for 127.0.0.1 (openssl).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IndicatorReport, IndicatorResult, Period } from '../../gateway/indicators/types.js';
import { IocSchema, type IocSettings, type IocSettingsInput } from '../../gateway/uplink/settings.js';

export const IOC_TOKEN = 'test-ioc-token-0123456789';
export const IOC_KEY = 'test-ioc-hmac-key-abcdefghijklmnop';
export const IOC_ENV = { CE_IOC_TOKEN: IOC_TOKEN, CE_IOC_HMAC_KEY: IOC_KEY };

/** Period boundaries in Asia/Ho_Chi_Minh (UTC+7 all year, no DST since 1975). */
export function periodOf(id: string): Period {
  const tz = 'Asia/Ho_Chi_Minh';
  const at = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) - 7 * 3600_000;
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(id))) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    return { id, kind: 'day', from: at(y, mo, d), to: at(y, mo, d + 1), timezone: tz };
  }
  if ((m = /^(\d{4})-(\d{2})$/.exec(id))) {
    const [y, mo] = [Number(m[1]), Number(m[2])];
    return { id, kind: 'month', from: at(y, mo, 1), to: at(y, mo + 1, 1), timezone: tz };
  }
  if ((m = /^(\d{4})-Q([1-4])$/.exec(id))) {
    const [y, q] = [Number(m[1]), Number(m[2])];
    return { id, kind: 'quarter', from: at(y, 3 * q - 2, 1), to: at(y, 3 * q + 1, 1), timezone: tz };
  }
  if ((m = /^(\d{4})-H([12])$/.exec(id))) {
    const [y, h] = [Number(m[1]), Number(m[2])];
    return { id, kind: 'half', from: at(y, h === 1 ? 1 : 7, 1), to: at(y, h === 1 ? 7 : 13, 1), timezone: tz };
  }
  if ((m = /^(\d{4})$/.exec(id))) {
    const y = Number(m[1]);
    return { id, kind: 'year', from: at(y, 1, 1), to: at(y + 1, 1, 1), timezone: tz };
  }
  throw new Error(`period id ${id}`);
}

/**
 * A loudspeaker-availability result over `devices` loudspeakers in `hamlets`
 * hamlets: each device up `upShare` of the known time; numerators and
 * denominators in ms, breakdowns summing to the totals.
 */
export function availabilityResult(period: Period, devices: number, hamlets: number, upShare = 0.9, id = 'loudspeaker_availability'): IndicatorResult {
  const span = period.to - period.from;
  const byDevice = Array.from({ length: devices }, (_, i) => {
    const known = span;
    const up = Math.round(known * upShare);
    return {
      id: `loa-${String(i + 1).padStart(3, '0')}`,
      name: `Loa ${i + 1}`,
      kind: 'loudspeaker',
      role: undefined,
      hamlet: `ap-${String((i % hamlets) + 1).padStart(2, '0')}`,
      value: (up / known) * 100,
      numerator: up,
      denominator: known,
      coverage: 1,
      upMs: up,
      degradedMs: 0,
      downMs: known - up,
      unknownMs: 0,
      maintenanceMs: 0,
      incidents: 1,
      mttrMin: 30,
    };
  });
  const byHamlet = Array.from({ length: hamlets }, (_, h) => {
    const id = `ap-${String(h + 1).padStart(2, '0')}`;
    const mine = byDevice.filter((d) => d.hamlet === id);
    const numerator = mine.reduce((s, d) => s + d.numerator, 0);
    const denominator = mine.reduce((s, d) => s + d.denominator, 0);
    return { id, name: `Ấp ${h + 1}`, value: denominator ? (numerator / denominator) * 100 : null, numerator, denominator, coverage: mine.length ? 1 : null };
  });
  const numerator = byDevice.reduce((s, d) => s + d.numerator, 0);
  const denominator = byDevice.reduce((s, d) => s + d.denominator, 0);
  const value = denominator ? (numerator / denominator) * 100 : null;
  return {
    id,
    name: { vi: 'Tỷ lệ cụm loa hoạt động', en: 'Loudspeaker availability' },
    unit: { vi: '%', en: '%' },
    method: 'time-weighted',
    value,
    numerator,
    denominator,
    target: { op: '>=', value: 95 },
    status: value === null ? 'KHONG_DU_DU_LIEU' : value >= 95 ? 'DAT' : 'CHUA_DAT',
    coverage: 1,
    responsibleUnit: 'Phòng Văn hóa - Xã hội',
    byHamlet,
    byDevice,
  };
}

/** A report as the engine would produce it for the test commune (12345, see test/helpers/gateway.ts). */
export function reportFor(periodId: string, opts: { generatedAt?: string; devices?: number; upShare?: number; commune?: string } = {}): IndicatorReport {
  const period = periodOf(periodId);
  return {
    commune: { code: opts.commune ?? '12345', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gatewayId: 'gw-test',
    period,
    generatedAt: opts.generatedAt ?? '2026-05-14T08:00:00.000+07:00',
    gatewayCoverage: 0.98,
    partial: true,
    indicators: [availabilityResult(period, opts.devices ?? 4, 2, opts.upShare ?? 0.9)],
  };
}

/** Parsed `ioc:` settings for a receiver URL, small bounds and fast retries for tests. */
export function feedSettings(url: string, extra: Partial<IocSettingsInput> = {}): IocSettings {
  return IocSchema.parse({ url, retryMinMs: 50, retryMaxMs: 400, timeoutMs: 2000, statusDebounceS: 0.2, ...extra });
}

export interface TestCerts {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A second CA that signed nothing here (to prove verification fails). */
  otherCaFile: string;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, valid one day (openssl from Debian). */
export function makeCerts(dir: string): TestCerts {
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  for (const ca of ['ca', 'other-ca']) {
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '1', '-subj', `/CN=commune-edge test ${ca}`);
  }
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '1', '-extfile', f('san.ext'));
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key'), otherCaFile: f('other-ca.crt') };
}
