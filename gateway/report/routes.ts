/**
 * `GET /api/reports/:period.(xlsx|csv|pdf)`: the half-year report (or any
 * period's) as a download, for the viewer role. Registered as an API plugin:
 * `apiPlugins: [(app) => registerReportRoutes(app, { computeReport })]`, so auth,
 * coded errors and the OpenAPI document come from gateway/api/server.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ComputeReport } from './cli.js';
import { CSV_TABLES } from './csv.js';
import type { ReportInventory } from './model.js';
import type { ReportFormat } from './render.js';

/**
 * exceljs and pdfkit add ~45 MB of resident memory and ~0.5 s on first load
 * (measured on the dev machine): loaded on the first report request, not when the
 * gateway starts on a Pi.
 */
const renderer = () => import('./render.js');

export interface ReportRoutesOptions {
  computeReport: ComputeReport;
  /** The commune's hamlets (settings order); a function so a reloaded inventory is seen. */
  inventory?: () => ReportInventory;
}

/** `2026-H1.xlsx`, `2026-01-01..2026-03-31.pdf`: the period is everything before the last dot. */
const FILE = /^(?<period>[0-9A-Za-z.-]{1,32})\.(?<format>xlsx|csv|pdf)$/;

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/**
 * Content-Disposition per RFC 6266 §4.3: an ASCII `filename` for old clients and
 * `filename*` in the RFC 8187 (formerly RFC 5987) encoding with the Vietnamese
 * name. encodeURIComponent leaves ' ( ) * unescaped, which RFC 8187 attr-char
 * does not allow.
 */
export function contentDisposition(asciiName: string, utf8Name: string): string {
  const ascii = asciiName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(utf8Name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export function registerReportRoutes(app: FastifyInstance, o: ReportRoutesOptions): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/api/reports/:file',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The indicator report of a period as XLSX, CSV or PDF (Vietnamese by default), e.g. /api/reports/2026-H1.xlsx',
        description:
          'Period ids as /api/indicators: 2026-05-14, 2026-05, 2026-Q2, 2026-H1, 2026, 2026-01-01..2026-03-31. CSV is one table per file (`table`), UTF-8 with BOM, ";" and the decimal comma for vi. See docs/report.md.',
        params: z.object({
          file: z.string().regex(FILE, 'expected <period>.xlsx, <period>.csv or <period>.pdf').describe('<period id>.<xlsx|csv|pdf>'),
        }),
        querystring: z.object({
          lang: z.enum(['vi', 'en']).default('vi').describe('Language of labels and number conventions'),
          table: z.enum(CSV_TABLES as [string, ...string[]]).default('indicators').describe('CSV only: indicators, devices or hamlets'),
        }),
        response: { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const m = FILE.exec(req.params.file)!;
      const period = m.groups!['period']!;
      const format = m.groups!['format'] as ReportFormat;
      const report = await o.computeReport(period, () => undefined);
      const inventory = o.inventory?.();
      const { renderReport } = await renderer();
      const rendered = await renderReport(report, {
        format,
        lang: req.query.lang,
        csvTable: req.query.table as (typeof CSV_TABLES)[number],
        ...(inventory ? { inventory } : {}),
      });
      // The body is bytes, not a schema-typed JSON reply: fastify sends a Buffer as is (no serializer).
      const raw = reply as unknown as FastifyReply;
      return raw
        .header('Content-Type', rendered.contentType)
        .header('Content-Disposition', contentDisposition(rendered.fileName, rendered.fileNameUtf8))
        .header('Content-Length', rendered.body.length)
        // A report of a running period changes from one minute to the next, and it is not public.
        .header('Cache-Control', 'private, no-store')
        .send(rendered.body);
    },
  );
}

