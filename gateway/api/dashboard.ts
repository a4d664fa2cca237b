/**
 * The IT officer's web dashboard: static files from `dashboards/web/` (plain ES
 * modules, no build step, nothing from a CDN: the commune office may have no
 * internet) served by @fastify/static at `/ui/...` and `/`, the Be Vietnam Pro
 * typeface from its npm package, and `GET /api/session` (who the bearer token
 * is: the page shows or hides officer/admin views by role; the API enforces it).
 */
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import { CodedError } from '../errors.js';
import type { ApiPlugin } from './server.js';

/** The repository (or installed package) root: this file is gateway/api/ or dist/gateway/api/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    dir = dirname(dir);
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'commune-edge') return dir;
    } catch {
      // not this level
    }
  }
  throw new Error('dashboard: cannot find the commune-edge package root (package.json) above ' + fileURLToPath(import.meta.url));
}

export const WEB_ROOT: string = join(packageRoot(), 'dashboards', 'web');

/** Be Vietnam Pro (SIL OFL 1.1): drawn for Vietnamese diacritics; served locally, cached for a year. */
const FONTS: Record<string, string> = (() => {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('@expo-google-fonts/be-vietnam-pro/package.json'));
  return {
    'be-vietnam-pro-400.ttf': join(dir, '400Regular', 'BeVietnamPro_400Regular.ttf'),
    'be-vietnam-pro-600.ttf': join(dir, '600SemiBold', 'BeVietnamPro_600SemiBold.ttf'),
  };
})();

/**
 * The page runs only its own scripts and talks only to this gateway (a
 * Content-Security-Policy, W3C CSP Level 3): an injected device name cannot
 * become a script, and nothing is fetched from outside the commune's network.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function pageHeaders(reply: FastifyReply | { setHeader(k: string, v: string): void }): void {
  const set = 'setHeader' in reply ? (k: string, v: string) => reply.setHeader(k, v) : (k: string, v: string) => void reply.header(k, v);
  set('content-security-policy', CSP);
  set('x-content-type-options', 'nosniff');
  set('referrer-policy', 'no-referrer');
}

const SessionOut = z.object({
  name: z.string().describe("The token's name from api.tokens"),
  role: z.enum(['viewer', 'officer', 'admin']),
  commune: z.object({ code: z.string(), name: z.string(), province: z.object({ code: z.string(), name: z.string() }) }),
  gatewayId: z.string(),
  timezone: z.string(),
  demo: z.boolean(),
  version: z.string(),
});

export const dashboardPlugin: ApiPlugin = async (app: FastifyInstance, ctx: GatewayContext) => {
  // Registered once per API (buildGateway's, and a test's again, are the same thing).
  if (app.hasRoute({ method: 'GET', url: '/api/session' })) return;
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`dashboard: ${WEB_ROOT}/index.html is missing`);

  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/ui/',
    // No build step, so no content hashes in file names: the browser revalidates
    // every load (ETag / Last-Modified) and gets a 304 when nothing changed.
    maxAge: 0,
    dotfiles: 'deny',
    index: ['index.html'],
    setHeaders: (res) => pageHeaders(res),
  });

  // `/` is the dashboard. Until the placeholder `/` page in server.ts is removed,
  // keep it (a second GET / would be a duplicate route); the page is at /ui/ too.
  if (!app.hasRoute({ method: 'GET', url: '/' })) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => {
      pageHeaders(reply);
      return reply.sendFile('index.html');
    });
  }

  app.get('/ui/fonts/:file', { schema: { hide: true } }, async (req, reply) => {
    const { file } = req.params as { file: string };
    const path = FONTS[file];
    if (!path) throw new CodedError('CE_NOT_FOUND', `font ${file}`);
    return reply.sendFile(path.split('/').pop()!, dirname(path), { maxAge: 365 * 86_400_000, immutable: true });
  });

  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/session',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Who this bearer token is (name, role) and the commune it watches; the dashboard logs in with it', response: { 200: SessionOut } },
    },
    async (req) => {
      const s = ctx.settings;
      return {
        name: req.tokenName ?? '',
        role: req.role ?? 'viewer',
        commune: { code: s.commune.code, name: s.commune.name, province: { code: s.commune.province.code, name: s.commune.province.name } },
        gatewayId: s.gateway.id,
        timezone: s.commune.timezone,
        demo: s.gateway.demo,
        version: ctx.version,
      };
    },
  );
};
