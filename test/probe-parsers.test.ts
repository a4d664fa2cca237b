/**
 * The pure parts of the probes, table-driven with bad input: fping output and
 * timing, ICMP thresholds, the ARP table (a fixture text) and the LAN-sweep
 * verdicts, RTSP answers, Digest (RFC 2617's own worked example), SDP codecs,
 * the scheduler's phases and the concurrency semaphore.
 */
import { describe, expect, it } from 'vitest';
import { fpingTiming, parseFpingOutput } from '../gateway/probes/fping.js';
import { icmpOutcome } from '../gateway/probes/icmp.js';
import { LanSweep, normalizeMac, parseArpTable } from '../gateway/probes/lan-sweep.js';
import { authorization, codecFromSdp, MAX_BODY_BYTES, MAX_HEAD_BYTES, parseChallenges, parseRtspResponse } from '../gateway/probes/rtsp.js';
import { Semaphore } from '../gateway/probes/semaphore.js';
import { IcmpTargetSchema, LanSweepSchema } from '../gateway/probes/settings.js';
import { ICMP_QUANTUM_MS, hashKey, phaseOf } from '../gateway/probes/source.js';
import { statusExpected } from '../gateway/probes/http.js';

describe('fping output', () => {
  it('reads per-host RTTs and "-" for lost replies, ignoring other lines', () => {
    const text = [
      '127.0.0.1 : 0.04 0.05 0.06',
      'ICMP Host Unreachable from 10.77.0.1 for ICMP Echo sent to 10.77.0.9',
      '10.77.0.9 : - - -',
      'wan-anchor.example : 31.2 - 29.8',
      '::1 : 0.086',
      'garbage line without colon',
      '10.0.0.1 : 1.0 oops 2.0',
      '127.0.0.1 : 9.9 9.9 9.9', // a duplicate: the first line wins
    ].join('\n');
    const r = parseFpingOutput(text);
    expect([...r.keys()]).toStrictEqual(['127.0.0.1', '10.77.0.9', 'wan-anchor.example', '::1']);
    expect(r.get('127.0.0.1')).toStrictEqual([0.04, 0.05, 0.06]);
    expect(r.get('10.77.0.9')).toStrictEqual([null, null, null]);
    expect(r.get('wan-anchor.example')).toStrictEqual([31.2, null, 29.8]);
  });

  it.each([
    [1, 500, 1],
    [3, 3000, 30],
    [3, 3000, 300],
    [10, 5000, 50],
    [20, 2000, 5],
  ])('count %i, budget %i ms, %i hosts: the run fits in the budget', (count, budget, hosts) => {
    const t = fpingTiming(count, budget, hosts);
    expect(t.intervalMs).toBeGreaterThanOrEqual(1);
    expect(t.periodMs).toBeGreaterThanOrEqual(20);
    expect(t.perPingTimeoutMs).toBeGreaterThanOrEqual(50);
    const expectedEnd = (count - 1) * t.periodMs + hosts * t.intervalMs + t.perPingTimeoutMs;
    expect(expectedEnd).toBeLessThanOrEqual(Math.max(budget, 50 + (count - 1) * t.periodMs + hosts * t.intervalMs));
  });
});

describe('ICMP verdicts', () => {
  const target = (over: Record<string, unknown> = {}) => IcmpTargetSchema.parse({ type: 'icmp', device: 'wan-1', host: '10.0.0.1', ...over });

  it.each([
    ['all answered', {}, [10, 12, 11], 'UP', 'ok', 0],
    ['1 of 3 lost: 33.3 %', {}, [10, null, 11], 'DEGRADED', 'loss-high', 33.3],
    ['2 of 3 lost: 66.7 % ≥ 50', {}, [null, 10, null], 'DOWN', 'loss-high', 66.7],
    ['1 of 20 lost: 5 % is the DEGRADED threshold', { count: 20 }, [null, ...Array(19).fill(1)], 'DEGRADED', 'loss-high', 5],
    ['mean RTT 301 ms', {}, [300, 302, 301], 'DEGRADED', 'rtt-high', 0],
    ['mean RTT 300 ms', {}, [300, 300, 300], 'UP', 'ok', 0],
    ['loss named before RTT', {}, [900, null, 900], 'DEGRADED', 'loss-high', 33.3],
  ] as const)('%s', (_name, over, rtts, state, reason, loss) => {
    const o = icmpOutcome({ target: target(over), pathFields: false }, [...rtts]);
    expect(o.verdict).toStrictEqual({ state, reason });
    expect(o.fields['probe_loss_pct']).toBe(loss);
    expect(o.fields['probe_ok']).toBe(true);
    expect(o.error).toBeUndefined();
  });

  it('no reply at all is DOWN no-answer with CE_PROBE_NO_ANSWER, whatever the thresholds', () => {
    const o = icmpOutcome({ target: target({ lossDownPct: 100 }), pathFields: true }, [null, null, null]);
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'no-answer' });
    expect(o.fields).toStrictEqual({ probe_ok: false, probe_loss_pct: 100, loss_pct: 100 });
    expect(o.error?.code).toBe('CE_PROBE_NO_ANSWER');
  });

  it('fills the network path fields for kinds that have them', () => {
    const o = icmpOutcome({ target: target(), pathFields: true }, [20, 22, 24]);
    expect(o.fields).toStrictEqual({ probe_ok: true, probe_loss_pct: 0, loss_pct: 0, probe_latency_ms: 22, rtt_ms: 22 });
  });

  it('a host fping printed nothing for (name not resolved) is DOWN unreachable', () => {
    const o = icmpOutcome({ target: target(), pathFields: false }, undefined);
    expect(o.verdict).toStrictEqual({ state: 'DOWN', reason: 'unreachable' });
    expect(o.error?.code).toBe('CE_PROBE_UNREACHABLE');
  });
});

/**
 * FIXTURE: a /proc/net/arp text as Linux prints it (net/ipv4/arp.c), written by
 * hand for this test: complete entries (0x2), a permanent one (0x6), an
 * incomplete one (0x0, the host did not answer), an all-zero address.
 */
const ARP_FIXTURE = `IP address       HW type     Flags       HW address            Mask     Device
192.168.1.21     0x1         0x2         3c:52:82:1a:2b:3c     *        eth0
192.168.1.22     0x1         0x0         00:00:00:00:00:00     *        eth0
192.168.1.23     0x1         0x2         00:1A:2B:3C:4D:5E     *        eth0
192.168.1.1      0x1         0x6         b8:27:eb:00:00:01     *        eth0
192.168.1.24     0x1         0x2         00:00:00:00:00:00     *        eth0
this line is not an entry
`;

describe('ARP table', () => {
  it('keeps complete entries only, MACs lower-case', () => {
    const t = parseArpTable(ARP_FIXTURE);
    expect([...t.keys()].sort()).toStrictEqual(['192.168.1.1', '192.168.1.21', '192.168.1.23']);
    expect(t.get('192.168.1.23')).toStrictEqual({ ip: '192.168.1.23', mac: '00:1a:2b:3c:4d:5e', flags: 2, iface: 'eth0' });
    expect(t.get('192.168.1.1')!.flags).toBe(6);
  });

  it('accepts Windows-style MACs in the inventory', () => {
    expect(normalizeMac('3C-52-82-1A-2B-3C')).toBe('3c:52:82:1a:2b:3c');
  });
});

describe('LAN sweep verdicts', () => {
  const settings = LanSweepSchema.parse({
    lookbackMin: 15,
    computers: [
      { device: 'pc-windows', ip: '192.168.1.21' },
      { device: 'pc-linux', ip: '192.168.1.30', mac: '00:1a:2b:3c:4d:5f' },
      { device: 'pc-off', ip: '192.168.1.22' },
      { device: 'pc-swapped', ip: '192.168.1.23', mac: '00-1A-2B-3C-4D-FF' },
    ],
  });
  const arp = parseArpTable(`${ARP_FIXTURE}192.168.1.30     0x1         0x2         00:1a:2b:3c:4d:5f     *        eth0\n`);
  const pings = new Map<string, (number | null)[]>([
    ['192.168.1.21', [null]], // Windows firewall drops ping
    ['192.168.1.30', [0.42]],
    ['192.168.1.22', [null]],
    ['192.168.1.23', [null]],
  ]);
  const T0 = Date.UTC(2026, 2, 2, 1, 0, 0);

  it('counts a PC seen only by ARP as on the LAN; checks MACs; never-seen is DOWN', () => {
    const sweep = new LanSweep(settings, { fpingPath: 'fping' });
    const r = new Map(sweep.judge(pings, arp, T0).map((x) => [x.deviceId, x.outcome]));
    expect(r.get('pc-windows')).toStrictEqual({
      fields: { probe_ok: true, seen_icmp: false, seen_arp: true, last_seen_min: 0 },
      verdict: { state: 'UP', reason: 'ok' },
    });
    expect(r.get('pc-linux')).toStrictEqual({
      fields: { probe_ok: true, seen_icmp: true, seen_arp: true, probe_latency_ms: 0.42, last_seen_min: 0, mac_ok: true },
      verdict: { state: 'UP', reason: 'ok' },
    });
    expect(r.get('pc-off')!.verdict).toStrictEqual({ state: 'DOWN', reason: 'not-seen' });
    expect(r.get('pc-off')!.fields).toStrictEqual({ probe_ok: false, seen_icmp: false, seen_arp: false });
    expect(r.get('pc-off')!.error!.detail).toContain('never seen');
    expect(r.get('pc-swapped')!.verdict).toStrictEqual({ state: 'DEGRADED', reason: 'mac-mismatch' });
    expect(r.get('pc-swapped')!.fields['mac_ok']).toBe(false);
    expect(r.get('pc-swapped')!.error!.code).toBe('CE_PROBE_MAC_MISMATCH');
  });

  it('keeps a PC present through the look-back window, then DOWN', () => {
    const sweep = new LanSweep(settings, { fpingPath: 'fping' });
    sweep.judge(pings, arp, T0);
    const nothing = new Map<string, (number | null)[]>();
    const empty = new Map();
    const at = (min: number) => new Map(sweep.judge(nothing, empty, T0 + min * 60_000).map((x) => [x.deviceId, x.outcome]));
    const in15 = at(15).get('pc-windows')!;
    expect(in15.verdict.state).toBe('UP');
    expect(in15.fields).toMatchObject({ probe_ok: true, seen_arp: false, last_seen_min: 15 });
    const in16 = at(15.1).get('pc-windows')!;
    expect(in16.verdict).toStrictEqual({ state: 'DOWN', reason: 'not-seen' });
    expect(in16.fields).toMatchObject({ probe_ok: false, last_seen_min: 15.1 });
    expect(in16.error!.detail).toContain('last seen 15.1 min ago');
  });

  it('carries "last seen" over a restart through seed()', () => {
    const sweep = new LanSweep(settings, { fpingPath: 'fping' });
    sweep.seed('pc-off', T0 - 5 * 60_000);
    const r = sweep.judge(new Map(), new Map(), T0).find((x) => x.deviceId === 'pc-off')!;
    expect(r.outcome.verdict.state).toBe('UP');
    expect(r.outcome.fields['last_seen_min']).toBe(5);
  });
});

describe('RTSP answers', () => {
  const ok = 'RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n';

  it('parses a complete answer and reports what was consumed', () => {
    const r = parseRtspResponse(Buffer.from(ok + 'RTSP/1.0 200'));
    if (r.kind !== 'response') throw new Error(r.kind);
    expect(r.response.status).toBe(200);
    expect(r.response.version).toBe('1.0');
    expect(r.response.headers.get('cseq')).toStrictEqual(['2']);
    expect(r.response.body).toBe('v=0\r\n');
    expect(r.consumed).toBe(Buffer.byteLength(ok));
  });

  it('waits for the rest of a partial answer', () => {
    expect(parseRtspResponse(Buffer.from('RTS')).kind).toBe('more');
    expect(parseRtspResponse(Buffer.from(ok.slice(0, 30))).kind).toBe('more');
    expect(parseRtspResponse(Buffer.from(ok.slice(0, ok.length - 2))).kind).toBe('more');
  });

  it.each([
    ['another protocol', 'SSH-2.0-dropbear\r\n'],
    ['HTTP on the RTSP port', 'HTTP/1.1 400 Bad Request\r\n\r\n'],
    ['binary noise', '\u0000\u00ff\u0010RTSP/1.0 200 OK'],
    ['a bad status line', 'RTSP/1.0 OK\r\n\r\n'],
    ['a bad header line', 'RTSP/1.0 200 OK\r\nno colon here\r\n\r\n'],
    ['a bad Content-Length', 'RTSP/1.0 200 OK\r\nContent-Length: -4\r\n\r\n'],
    ['a body over the cap', `RTSP/1.0 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`],
    ['a head over the cap', `RTSP/1.0 200 OK\r\nX-Pad: ${'a'.repeat(MAX_HEAD_BYTES + 10)}`],
  ])('rejects %s', (_name, text) => {
    expect(parseRtspResponse(Buffer.from(text, 'latin1')).kind).toBe('error');
  });

  it('accepts bare LF line ends, folded headers and repeated WWW-Authenticate', () => {
    const text = 'RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Digest realm="IP Camera(C6812)",\n  nonce="abc"\nWWW-Authenticate: Basic realm="IP Camera(C6812)"\n\n';
    const r = parseRtspResponse(Buffer.from(text));
    if (r.kind !== 'response') throw new Error(r.kind);
    expect(r.response.status).toBe(401);
    const challenges = parseChallenges(r.response.headers.get('www-authenticate')!);
    expect(challenges).toStrictEqual([
      { scheme: 'digest', params: { realm: 'IP Camera(C6812)', nonce: 'abc' } },
      { scheme: 'basic', params: { realm: 'IP Camera(C6812)' } },
    ]);
  });

  it('drops challenges of schemes it cannot answer', () => {
    expect(parseChallenges(['Negotiate abc', 'Bearer realm="x"'])).toStrictEqual([]);
  });
});

describe('Digest (RFC 2617)', () => {
  it('reproduces the worked example of RFC 2617 §3.5', () => {
    const [challenge] = parseChallenges([
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    ]);
    const header = authorization(challenge!, 'GET', '/dir/index.html', { username: 'Mufasa', password: 'Circle Of Life' }, 1, '0a4f113b');
    expect(header).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(header).toContain('qop=auth, nc=00000001, cnonce="0a4f113b"');
    expect(header).toContain('opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  });

  it('answers without qop as RFC 2069 / RTSP cameras do: MD5(HA1:nonce:HA2)', () => {
    const [challenge] = parseChallenges(['Digest realm="IP Camera(C6812)", nonce="0123abcd"']);
    const header = authorization(challenge!, 'DESCRIBE', 'rtsp://10.0.0.64:554/Streaming/Channels/101', { username: 'admin', password: '12345' });
    // Expected value computed outside Node: HA1, HA2 and the response with `openssl md5` (RFC 2069 form, no qop).
    expect(header).toMatch(/^Digest username="admin", realm="IP Camera\(C6812\)", nonce="0123abcd", uri="rtsp:\/\/10\.0\.0\.64:554\/Streaming\/Channels\/101", response="1644ba14cf867fbbd7d5c6f6592c93d4"$/);
    expect(header).not.toContain('qop');
  });

  it('refuses algorithms and qop values it cannot compute', () => {
    const [sha] = parseChallenges(['Digest realm="r", nonce="n", algorithm=SHA-256']);
    const [intOnly] = parseChallenges(['Digest realm="r", nonce="n", qop="auth-int"']);
    expect(authorization(sha!, 'DESCRIBE', 'rtsp://x/', { username: 'u', password: 'p' })).toBeUndefined();
    expect(authorization(intOnly!, 'DESCRIBE', 'rtsp://x/', { username: 'u', password: 'p' })).toBeUndefined();
  });

  it('encodes Basic as base64(user:password)', () => {
    const [basic] = parseChallenges(['Basic realm="cam"']);
    expect(authorization(basic!, 'DESCRIBE', 'rtsp://x/', { username: 'Aladdin', password: 'open sesame' })).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });
});

describe('SDP codec', () => {
  const sdp = (...media: string[]) => ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=Media Presentation', 't=0 0', ...media, ''].join('\r\n');
  it.each([
    ['H264 (Hikvision)', sdp('m=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'm=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000'), 'H264'],
    ['H265', sdp('m=video 0 RTP/AVP 98', 'a=rtpmap:98 H265/90000'), 'H265'],
    ['HEVC spelled out', sdp('m=video 0 RTP/AVP 98', 'a=rtpmap:98 hevc/90000'), 'H265'],
    ['MJPEG by static payload type 26', sdp('m=video 0 RTP/AVP 26'), 'JPEG'],
    ['MPEG-4 part 2', sdp('m=video 0 RTP/AVP 96', 'a=rtpmap:96 MP4V-ES/90000'), 'MP4V-ES'],
    ['an unknown encoding', sdp('m=video 0 RTP/AVP 97', 'a=rtpmap:97 VP8/90000'), 'other'],
    ['audio first, video second', sdp('m=audio 0 RTP/AVP 96', 'a=rtpmap:96 MPEG4-GENERIC/16000', 'm=video 0 RTP/AVP 97', 'a=rtpmap:97 H264/90000'), 'H264'],
    ['the rtpmap of another media section is not used', sdp('m=video 0 RTP/AVP 96', 'm=audio 0 RTP/AVP 97', 'a=rtpmap:96 H264/90000'), 'other'],
  ])('%s', (_name, text, codec) => {
    expect(codecFromSdp(text)).toBe(codec);
  });
  it('is undefined without a video section', () => {
    expect(codecFromSdp(sdp('m=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000'))).toBeUndefined();
    expect(codecFromSdp('garbage')).toBeUndefined();
  });
});

describe('HTTP expected statuses', () => {
  it.each([
    [200, ['2xx', '3xx'], true],
    [302, ['2xx', '3xx'], true],
    [401, ['2xx', '3xx'], false],
    [401, [401, '2xx'], true],
    [500, ['2xx'], false],
  ] as const)('%i in %j: %s', (status, expect_, result) => {
    expect(statusExpected(status, expect_)).toBe(result);
  });
});

describe('scheduler phases', () => {
  it('are deterministic, inside the interval and on the quantum', () => {
    for (const key of ['tcp:cam-1:10.0.0.1:554', 'icmp:wan-1:8.8.8.8', 'x']) {
      const p = phaseOf(key, 10_000, 100);
      expect(p).toBe(phaseOf(key, 10_000, 100));
      expect(p % 100).toBe(0);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(10_000);
    }
    expect(hashKey('a')).not.toBe(hashKey('b'));
  });

  it('spread 300 targets at 10 s over the interval', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `tcp:cam-${String(i).padStart(3, '0')}:192.168.${i >> 8}.${i & 255}:554`);
    const perSecond = new Array(10).fill(0);
    const perTick = new Map<number, number>();
    for (const k of keys) {
      const p = phaseOf(k, 10_000, 100);
      perSecond[Math.floor(p / 1000)]++;
      perTick.set(p, (perTick.get(p) ?? 0) + 1);
    }
    // 30 per second on average; a uniform hash stays well within 2× of it.
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(50);
    expect(Math.min(...perSecond)).toBeGreaterThanOrEqual(15);
    // 100 slots of 100 ms: 3 per slot on average; none holds a burst.
    expect(perTick.size).toBeGreaterThan(80);
    expect(Math.max(...perTick.values())).toBeLessThanOrEqual(10);
    // ICMP phases are whole seconds (shared fping runs).
    const icmp = new Set(keys.map((k) => phaseOf(`icmp:${k}`, 10_000, ICMP_QUANTUM_MS)));
    expect([...icmp].every((p) => p % 1000 === 0)).toBe(true);
    expect(icmp.size).toBe(10);
  });
});

describe('semaphore', () => {
  it('never grants more than its limit, in FIFO order, and aborts waiters', async () => {
    const sem = new Semaphore(2);
    const ac = new AbortController();
    const order: number[] = [];
    const r1 = await sem.acquire(ac.signal);
    const r2 = await sem.acquire(ac.signal);
    const w3 = sem.acquire(ac.signal).then((r) => (order.push(3), r));
    const w4 = sem.acquire(ac.signal).then((r) => (order.push(4), r));
    const aborted = new AbortController();
    const w5 = sem.acquire(aborted.signal);
    expect(sem.inUse).toBe(2);
    expect(sem.waiting).toBe(3);
    aborted.abort('stop');
    await expect(w5).rejects.toBe('stop');
    expect(sem.waiting).toBe(2);
    r1();
    r1(); // idempotent: must not free a second slot
    const r3 = await w3;
    expect(sem.inUse).toBe(2);
    expect(order).toStrictEqual([3]);
    r2();
    const r4 = await w4;
    expect(order).toStrictEqual([3, 4]);
    r3();
    r4();
    expect(sem.inUse).toBe(0);
    expect(sem.peakInUse).toBe(2);
  });
});
