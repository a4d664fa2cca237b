/**
 * GET /api/reports/:period.(xlsx|csv|pdf) on the real gateway API (plugged in the
 * way build.ts will), through fastify inject: auth, headers, bodies, coded errors.
 */
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodedError } from '../gateway/errors.js';
import type { IndicatorReport } from '../gateway/indicators/types.js';
import type { ComputeReport } from '../gateway/report/cli.js';
import { contentDisposition } from '../gateway/report/routes.js';
import { SAMPLE_HAMLETS, sampleReport } from '../gateway/report/sample.js';
import { removeDir, startTestGateway, TOKENS, type TestGateway } from './helpers/gateway.js';

const asked: string[] = [];
const computeReport: ComputeReport = (periodId) => {
  asked.push(periodId);
  // Stands in for the indicators engine (built in parallel): it validates the period id.
  if (periodId === '2026-H3') throw new CodedError('CE_BAD_REQUEST', `period "${periodId}"`);
  if (periodId === '2026-Q9') throw new Error('engine bug');
  const r: IndicatorReport = sampleReport();
  r.period = { ...r.period, id: periodId };
  return r;
};

let t: TestGateway;
beforeAll(async () => {
  // The gateway's own report routes, with the engine replaced by the sample report (and its hamlets).
  t = await startTestGateway((s) => ({ ...s, hamlets: SAMPLE_HAMLETS.map((h) => ({ id: h.id, name: h.name })) , devices: [] }), { computeReport: async (p, onProgress) => computeReport(p, onProgress ?? (() => undefined)) });
});
afterAll(async () => {
  await t?.close();
  if (t) removeDir(t.dir);
});

const get = (url: string, role: keyof typeof TOKENS | null = 'viewer') =>
  t.gw.api.inject({ method: 'GET', url, headers: role ? { authorization: `Bearer ${TOKENS[role]}` } : {} });

describe('GET /api/reports/:period.:format', () => {
  it('serves the XLSX with its content type and an ASCII + RFC 8187 file name', async () => {
    const res = await get('/api/reports/2026-H1.xlsx');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="bao-cao-ha-tang-so-26999-2026-H1.xlsx"; filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20h%E1%BA%A1%20t%E1%BA%A7ng%20s%E1%BB%91%20-%20X%C3%A3%20T%C3%A0%20L%C3%A0i%20-%206%20th%C3%A1ng%20%C4%91%E1%BA%A7u%20n%C4%83m%202026.xlsx`,
    );
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(Number(res.headers['content-length'])).toBe(res.rawPayload.length);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
    expect(wb.worksheets[0]!.getCell('A2').value).toBe('XÃ TÀ LÀI');
    expect(asked.at(-1)).toBe('2026-H1');
  });

  it('serves a CSV table chosen by ?table=, and the PDF', async () => {
    const csv = await get('/api/reports/2026-H1.csv?table=hamlets');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    expect(csv.headers['content-disposition']).toContain('filename="bao-cao-ha-tang-so-26999-2026-H1-theo-ap.csv"');
    expect(csv.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(csv.rawPayload.toString('utf8')).toContain(';Ấp Đắc Lua;');

    const pdf = await get('/api/reports/2026-H1.pdf?lang=en');
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.headers['content-disposition']).toContain("filename*=UTF-8''Digital%20infrastructure%20report%20-%20X%C3%A3%20T%C3%A0%20L%C3%A0i%20-%20first%20half%20of%202026.pdf");
  });

  it('takes a custom period with its dots and names the file without them', async () => {
    const res = await get('/api/reports/2026-01-01..2026-03-31.csv');
    expect(res.statusCode).toBe(200);
    expect(asked.at(-1)).toBe('2026-01-01..2026-03-31');
    expect(res.headers['content-disposition']).toContain('filename="bao-cao-ha-tang-so-26999-2026-01-01_2026-03-31.csv"');
  });

  it('needs a viewer token', async () => {
    const res = await get('/api/reports/2026-H1.xlsx', null);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('CE_AUTH_REQUIRED');
  });

  it('refuses an unknown format or a malformed name with CE_BAD_REQUEST, before computing', async () => {
    const before = asked.length;
    for (const url of ['/api/reports/2026-H1.docx', '/api/reports/2026-H1', '/api/reports/..%2Fetc.pdf', '/api/reports/2026-H1.xlsx?lang=fr', '/api/reports/2026-H1.csv?table=x']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code, url).toBe('CE_BAD_REQUEST');
    }
    expect(asked.length).toBe(before);
  });

  it("passes the engine's coded error through, and hides an unexpected one behind CE_INTERNAL", async () => {
    const bad = await get('/api/reports/2026-H3.pdf');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('period "2026-H3"');
    const bug = await get('/api/reports/2026-Q9.pdf');
    expect(bug.statusCode).toBe(500);
    expect(bug.json().error.code).toBe('CE_INTERNAL');
    expect(bug.body).not.toContain('engine bug');
  });
});

describe('contentDisposition', () => {
  it("escapes what RFC 8187 attr-char does not allow, ' ( ) * included, and keeps the ASCII name printable", () => {
    expect(contentDisposition('a"b\\c\u00e9.pdf', "Báo cáo (bản 1) 'x' *.pdf")).toBe(
      `attachment; filename="a_b_c_.pdf"; filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20%28b%E1%BA%A3n%201%29%20%27x%27%20%2A.pdf`,
    );
  });
});
