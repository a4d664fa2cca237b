/**
 * kill -9 during delivery loses nothing: a gateway with its IOC feed runs in a
 * child process (test/integration/ioc-feed-child.ts, compiled) and enqueues
 * status snapshots faster than the receiver answers. The moment the receiver has
 * stored its 20th message — before it answers — the child gets SIGKILL. Restarted
 * on the same data dir, it resumes from its outbox: the receiver must end with
 * every message the child committed exactly once (the unanswered one is sent
 * again and answered from the idempotency store), in seq order, without gaps.
 *
 * The child runs from the compiled tree: `npm test` builds dist/ first; for a local
 * run, compile elsewhere and point CE_DIST at it (see docs in the report).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startIocReceiver, type IocReceiver } from '../../gateway/uplink/receiver.js';
import { Child, Cleanup, removeDir, ROOT, tempDir, waitFor } from './helpers.js';
import { IOC_ENV, IOC_KEY, IOC_TOKEN } from './ioc-helpers.js';

const DIST = process.env['CE_DIST'] ?? join(ROOT, 'dist');
const CHILD_JS = join(DIST, 'test', 'integration', 'ioc-feed-child.js');
const cleanup = new Cleanup();
afterAll(() => cleanup.run());

function spawnChild(name: string, dir: string, url: string, produce: number): Child {
  if (!existsSync(CHILD_JS)) {
    throw new Error(`${CHILD_JS} is missing: build first (npm test runs tsc), or compile elsewhere and set CE_DIST (npx tsc -p . --outDir /tmp/x; CE_DIST=/tmp/x)`);
  }
  const child = new Child(name, process.execPath, [CHILD_JS], {
    env: { ...process.env, ...IOC_ENV, IOC_CHILD_DIR: dir, IOC_CHILD_URL: url, IOC_CHILD_PRODUCE: String(produce), IOC_CHILD_EVERY_MS: '5' },
  });
  cleanup.add(`${name} process`, () => child.stop(5000));
  return child;
}

const enqueued = (c: Child) => [...c.stdout.matchAll(/^ENQ (\d+) (\S+)$/gm)].map((m) => ({ seq: Number(m[1]), messageId: m[2]! }));
const lastDepth = (c: Child) => {
  const all = [...c.stdout.matchAll(/^DEPTH (\d+)$/gm)];
  return all.length ? Number(all[all.length - 1]![1]) : null;
};

describe('IOC feed: kill -9 during delivery', () => {
  it('loses nothing and duplicates nothing', async () => {
    const gwDir = tempDir('ioc-kill9-gw');
    const recvDir = tempDir('ioc-kill9-recv');
    cleanup.add('dirs', () => {
      removeDir(gwDir);
      removeDir(recvDir);
    });
    let victim: Child | null = null;
    let killedAt: { seq: number } | null = null;
    const receiver: IocReceiver = await startIocReceiver({
      dataDir: recvDir,
      shared: { token: IOC_TOKEN, hmacKey: IOC_KEY },
      // Answers take a while, so the child queues up a backlog.
      answerDelayMs: 30,
      onStored: (m) => {
        // Stored, not yet answered: kill the sender now.
        if (m.seq === 20 && victim?.running && !killedAt) {
          killedAt = { seq: m.seq };
          victim.signal('SIGKILL');
        }
      },
    });
    cleanup.add('receiver', () => receiver.close());

    victim = spawnChild('feed#1', gwDir, receiver.url, 400);
    await victim.waitForOutput(/^READY/m, 30_000);
    const exit = await victim.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(killedAt).toEqual({ seq: 20 });
    const committed = enqueued(victim);
    // The kill caught the child producing: most of what it committed was not delivered yet.
    expect(committed.length).toBeGreaterThan(40);
    const storedBefore = receiver.messages('12345').length;
    expect(storedBefore).toBe(20);

    const second = spawnChild('feed#2', gwDir, receiver.url, 0);
    await second.waitForOutput(/^READY/m, 30_000);
    await waitFor('the outbox drained after the restart', () => lastDepth(second) === 0, 60_000, 100);
    await second.stop(10_000);

    const stored = receiver.messages('12345');
    const bySeq = new Map(stored.map((m) => [m.seq, m]));
    // Everything the first run committed is there, with the same messageId.
    for (const c of committed) expect(bySeq.get(c.seq)?.messageId, `seq ${c.seq}`).toBe(c.messageId);
    // Exactly once, in order, no gaps: seq 1..N in arrival order.
    expect(new Set(stored.map((m) => m.messageId)).size).toBe(stored.length);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    expect(stored.every((m) => m.inOrder)).toBe(true);
    // The message in flight at the kill was sent again and answered from the idempotency store.
    expect(receiver.stats().duplicates).toBeGreaterThanOrEqual(1);
    // The restart's own start snapshot came after the backlog.
    expect(stored.length).toBeGreaterThan(Math.max(...committed.map((c) => c.seq)));
    expect(receiver.stats().rejected).toEqual({});
  });
});
