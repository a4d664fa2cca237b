/**
 * The InfluxDB harness itself (test/integration/influx.ts), before any gateway
 * test relies on it:
 *
 * - a real influxd 1.x (Debian package): line protocol written to /write is read
 *   back with `rows()`; field types; a field type conflict (400, partial write);
 *   `restart()` keeps data and port; `pause()` makes requests hang until
 *   `resume()`; auth mode refuses a wrong password;
 * - the InfluxDB 2.x write API contract server: gzip and plain bodies, the token,
 *   programmed failures (503 with Retry-After, 429), rejected lines (422 partial
 *   write), malformed lines (400).
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, sleep } from './helpers.js';
import { influxdBinary, parseLine, startInfluxV1, startInfluxV2Contract, type InfluxV1, type InfluxV2Contract } from './influx.js';

const T0 = 1_700_000_000_000; // ms

/** POST line protocol with fetch; bounded. */
async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('influxd missing', () => {
  it('is an error that says how to install it (tests fail, never skip)', () => {
    expect(() => influxdBinary(['/nonexistent-dir'])).toThrow(/apt-get install influxdb/);
    expect(() => influxdBinary(['/nonexistent-dir'])).toThrow(/test\/peers\/ensure-peers\.sh/);
  });
});

describe('InfluxDB 1.x harness (real influxd)', () => {
  const cleanup = new Cleanup();
  let inf: InfluxV1;
  const pids: (number | undefined)[] = [];

  beforeAll(async () => {
    const t = Date.now();
    inf = await startInfluxV1(cleanup);
    pids.push(inf.pid);
    console.log(`influxd up on ${inf.url} in ${Date.now() - t} ms`);
    await inf.createDatabase('edge');
  }, 60_000);

  afterAll(async () => {
    await cleanup.run();
    for (const pid of pids) expect(alive(pid), `influxd pid ${pid} still running after cleanup`).toBe(false);
  }, 60_000);

  it('reads back with rows() what fetch wrote to /write?precision=ms', async () => {
    const r = await post(`${inf.url}/write?db=edge&precision=ms`, [
      `power,device=ups-1,hamlet=ap-01 input_v=228.5,battery_pct=100i,mains_ok=true,state="UP" ${T0}`,
      `power,device=ups-1,hamlet=ap-01 input_v=0,battery_pct=97i,mains_ok=false,state="DOWN" ${T0 + 1000}`,
      `power,device=ups-2,hamlet=ap-01 input_v=230.25,battery_pct=88i,mains_ok=true,state="UP" ${T0 + 2000}`,
    ].join('\n'));
    expect(r.status, r.text).toBe(204);

    expect(await inf.rows('SELECT * FROM power ORDER BY time', 'edge')).toEqual([
      { time: T0, battery_pct: 100, device: 'ups-1', hamlet: 'ap-01', input_v: 228.5, mains_ok: true, state: 'UP' },
      { time: T0 + 1000, battery_pct: 97, device: 'ups-1', hamlet: 'ap-01', input_v: 0, mains_ok: false, state: 'DOWN' },
      { time: T0 + 2000, battery_pct: 88, device: 'ups-2', hamlet: 'ap-01', input_v: 230.25, mains_ok: true, state: 'UP' },
    ]);
    // GROUP BY tags: the tags come from the series, not the columns.
    expect(await inf.rows('SELECT last(battery_pct) AS b FROM power GROUP BY device', 'edge')).toEqual([
      { time: T0 + 1000, b: 97, device: 'ups-1' },
      { time: T0 + 2000, b: 88, device: 'ups-2' },
    ]);
  }, 30_000);

  it('shows field types with SHOW FIELD KEYS', async () => {
    expect(await inf.rows('SHOW FIELD KEYS FROM power', 'edge')).toEqual([
      { fieldKey: 'battery_pct', fieldType: 'integer' },
      { fieldKey: 'input_v', fieldType: 'float' },
      { fieldKey: 'mains_ok', fieldType: 'boolean' },
      { fieldKey: 'state', fieldType: 'string' },
    ]);
  }, 30_000);

  it('reports a field type conflict as 400 partial write, and writes the other points', async () => {
    const r = await inf.write('edge', [`conflict v=1.5 ${T0}`, `conflict v=2i ${T0 + 1}`, `conflict v=3 ${T0 + 2}`]);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toEqual({
      error: 'partial write: field type conflict: input field "v" on measurement "conflict" is type integer, already exists as type float dropped=1',
    });
    expect(await inf.rows('SELECT v FROM conflict', 'edge')).toEqual([
      { time: T0, v: 1.5 },
      { time: T0 + 2, v: 3 },
    ]);
  }, 30_000);

  it('restart() keeps the data and the port', async () => {
    const { url, port } = inf;
    const pidBefore = inf.pid;
    const t = Date.now();
    await inf.restart();
    pids.push(inf.pid);
    console.log(`influxd restarted in ${Date.now() - t} ms`);
    expect(inf.url).toBe(url);
    expect(inf.port).toBe(port);
    expect(inf.pid).not.toBe(pidBefore);
    expect(alive(pidBefore)).toBe(false);
    expect(await inf.rows('SELECT count(input_v) AS n FROM power', 'edge')).toEqual([{ time: 0, n: 3 }]);
    const r = await inf.write('edge', `power,device=ups-3,hamlet=ap-01 input_v=1 ${T0 + 3000}`);
    expect(r.status, r.text).toBe(204);
    expect(await inf.rows('SELECT count(input_v) AS n FROM power', 'edge')).toEqual([{ time: 0, n: 4 }]);
  }, 60_000);

  it('pause() makes a request time out; resume() lets a pending one complete', async () => {
    inf.pause();
    try {
      const hung = fetch(`${inf.url}/ping`, { signal: AbortSignal.timeout(500) });
      await expect(hung).rejects.toMatchObject({ name: 'TimeoutError' });

      let done = false;
      const pending = inf.rows('SELECT count(input_v) AS n FROM power', 'edge').finally(() => (done = true));
      await sleep(300);
      expect(done).toBe(false);
      inf.resume();
      expect(await pending).toEqual([{ time: 0, n: 4 }]);
    } finally {
      if (inf.paused) inf.resume();
    }
  }, 30_000);
});

describe('InfluxDB 1.x harness with auth', () => {
  const cleanup = new Cleanup();
  let inf: InfluxV1;

  beforeAll(async () => {
    inf = await startInfluxV1(cleanup, { auth: { username: 'admin', password: "s3cr'et" } });
  }, 60_000);

  afterAll(async () => {
    const pid = inf?.pid;
    await cleanup.run();
    expect(alive(pid)).toBe(false);
  }, 60_000);

  it('the admin user exists and works; a wrong password or none gets 401', async () => {
    expect(await inf.rows('SHOW USERS')).toEqual([{ user: 'admin', admin: true }]);
    await inf.createDatabase('secure');
    expect((await inf.write('secure', `m v=1 ${T0}`)).status).toBe(204);

    const q = new URLSearchParams({ q: 'SHOW DATABASES' });
    const wrong = await fetch(`${inf.url}/query?${q}`, {
      headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
      signal: AbortSignal.timeout(5000),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'authorization failed' });

    const none = await post(`${inf.url}/write?db=secure&precision=ms`, `m v=2 ${T0 + 1}`);
    expect(none.status).toBe(401);
    expect(await inf.rows('SELECT v FROM m', 'secure')).toEqual([{ time: T0, v: 1 }]);
  }, 30_000);
});

describe('InfluxDB 2.x write API contract server', () => {
  const cleanup = new Cleanup();
  let v2: InfluxV2Contract;
  const write = (q = 'org=commune&bucket=edge&precision=ms') => `${v2.url}/api/v2/write?${q}`;
  const auth = () => ({ authorization: `Token ${v2.token}` });

  beforeAll(async () => {
    v2 = await startInfluxV2Contract(cleanup, { org: 'commune', bucket: 'edge' });
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('answers /ping and /health', async () => {
    expect((await fetch(`${v2.url}/ping`, { signal: AbortSignal.timeout(5000) })).status).toBe(204);
    const h = await fetch(`${v2.url}/health`, { signal: AbortSignal.timeout(5000) });
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ name: 'influxdb', status: 'pass' });
  });

  it('decodes gzip and plain bodies', async () => {
    const before = v2.requests.length;
    const gz = await post(write(), gzipSync(`m,device=a v=1.5 ${T0}\nm,device=b v=2i ${T0 + 1}\n`), {
      ...auth(),
      'content-encoding': 'gzip',
      'content-type': 'text/plain; charset=utf-8',
    });
    expect(gz.status, gz.text).toBe(204);
    expect(gz.text).toBe('');
    const plain = await post(write(), `m,device=c v=3 ${T0 + 2}`, { ...auth(), 'content-type': 'text/plain; charset=utf-8' });
    expect(plain.status, plain.text).toBe(204);

    const [g, p] = v2.requests.slice(before);
    expect(g).toMatchObject({
      method: 'POST',
      path: '/api/v2/write',
      query: { org: 'commune', bucket: 'edge', precision: 'ms' },
      lines: [`m,device=a v=1.5 ${T0}`, `m,device=b v=2i ${T0 + 1}`],
      status: 204,
    });
    expect(g!.headers['content-encoding']).toBe('gzip');
    expect(g!.headers['authorization']).toBe(`Token ${v2.token}`);
    expect(p).toMatchObject({ lines: [`m,device=c v=3 ${T0 + 2}`], status: 204 });
    expect(p!.headers['content-encoding']).toBeUndefined();
    expect(v2.lines.slice(-3)).toEqual([`m,device=a v=1.5 ${T0}`, `m,device=b v=2i ${T0 + 1}`, `m,device=c v=3 ${T0 + 2}`]);
    expect(parseLine(v2.lines.at(-2)!)).toEqual({
      measurement: 'm',
      tags: { device: 'b' },
      fields: { v: { type: 'integer', value: 2 } },
      timestamp: String(T0 + 1),
    });
  });

  it('refuses a missing or wrong token with 401', async () => {
    const n = v2.lines.length;
    const missing = await post(write(), `m v=1 ${T0}`);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text)).toEqual({ code: 'unauthorized', message: 'unauthorized access' });
    const bearer = await post(write(), `m v=1 ${T0}`, { authorization: `Bearer ${v2.token}` });
    expect(bearer.status).toBe(401);
    const wrong = await post(write(), `m v=1 ${T0}`, { authorization: 'Token nope' });
    expect(wrong.status).toBe(401);
    expect(v2.lines.length).toBe(n);
  });

  it('answers programmed 503 (Retry-After) and 429, then 204 again', async () => {
    const n = v2.lines.length;
    v2.respondNext(503, { code: 'unavailable', message: 'service unavailable' }, 1, { 'Retry-After': '1' });
    v2.respondNext(429, undefined, 1, { 'Retry-After': '2' });
    const a = await post(write(), `m v=1 ${T0}`, auth());
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(a.text)).toEqual({ code: 'unavailable', message: 'service unavailable' });
    const b = await post(write(), `m v=1 ${T0}`, auth());
    expect(b.status).toBe(429);
    expect(b.headers.get('retry-after')).toBe('2');
    expect(JSON.parse(b.text)).toMatchObject({ code: 'too many requests' });
    expect(v2.lines.length).toBe(n);
    const c = await post(write(), `m v=1 ${T0}`, auth());
    expect(c.status).toBe(204);
    expect(v2.lines.length).toBe(n + 1);
    expect(v2.requests.slice(-3).map((r) => r.status)).toEqual([503, 429, 204]);
  });

  it('rejects matching lines with 422 partial write (dropped=K) and writes the others', async () => {
    const n = v2.lines.length;
    v2.rejectLinesMatching((l) => /\bx=\d+i\b/.test(l));
    try {
      const r = await post(write(), [`m x=1.5 ${T0}`, `m x=2i ${T0 + 1}`, `m x=3 ${T0 + 2}`, `m x=4i ${T0 + 3}`].join('\n'), auth());
      expect(r.status).toBe(422);
      expect(JSON.parse(r.text)).toEqual({
        code: 'unprocessable entity',
        message:
          'failure writing points to database: partial write: field type conflict: input field "x" on measurement "m" is type integer, already exists as type float dropped=2',
      });
      expect(v2.lines.slice(n)).toEqual([`m x=1.5 ${T0}`, `m x=3 ${T0 + 2}`]);
    } finally {
      v2.rejectLinesMatching(null);
    }
  });

  it('refuses a malformed line (400, nothing written), a wrong bucket (404) and a bad precision (400)', async () => {
    const n = v2.lines.length;
    const bad = await post(write(), `m v=1 ${T0}\nm v ${T0}`, auth());
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({ code: 'invalid', message: `unable to parse 'm v ${T0}': invalid field format` });
    const bucket = await post(write('org=commune&bucket=other&precision=ms'), `m v=1 ${T0}`, auth());
    expect(bucket.status).toBe(404);
    expect(JSON.parse(bucket.text)).toEqual({ code: 'not found', message: 'bucket "other" not found' });
    const precision = await post(write('org=commune&bucket=edge&precision=sec'), `m v=1 ${T0}`, auth());
    expect(precision.status).toBe(400);
    expect(v2.lines.length).toBe(n);
  });
});
