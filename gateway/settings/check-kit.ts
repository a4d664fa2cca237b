/**
 * Small helpers for cross-reference checks of raw (not yet valid) settings, shared
 * by the core schema and each transport's settings module (Modbus, OPC UA, probes),
 * so every part reports "unknown X; did you mean Y? known: ..." the same way.
 */

export interface CrossIssue {
  path: (string | number)[];
  message: string;
}

/** "ap-01..ap-19" for a run of numbered ids, else the first few ids. */
export function summarizeIds(ids: string[]): string {
  if (ids.length === 0) return '(none)';
  const m = ids.map((id) => /^(.*?)(\d+)$/.exec(id));
  if (ids.length > 2 && m.every((x) => x && x[1] === m[0]![1])) {
    const nums = m.map((x) => Number(x![2]));
    const sorted = [...nums].sort((a, b) => a - b);
    if (sorted.every((n, i) => i === 0 || n === sorted[i - 1]! + 1)) {
      const first = ids[nums.indexOf(sorted[0]!)]!;
      const last = ids[nums.indexOf(sorted[sorted.length - 1]!)]!;
      return `${first}..${last}`;
    }
  }
  return ids.length <= 8 ? ids.join(', ') : `${ids.slice(0, 8).join(', ')}, … (${ids.length})`;
}

/** Closest candidate by edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function hint(word: string, candidates: string[]): string {
  // "ap-20" vs "ap-02" is another hamlet, not a typo: no hint between numbered ids.
  const skeleton = (x: string) => x.replace(/\d+/g, '#');
  const c = closest(
    word,
    candidates.filter((x) => skeleton(x) !== skeleton(word)),
  );
  return c ? `did you mean "${c}"? ` : '';
}


export function loose(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
export const obj = loose;
export function arr(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.map(loose) : [];
}
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** What a transport's cross-check gets: the inventory as written, and a way to report. */
export interface CheckRefs {
  /** Device id → its kind id and index in `devices`, from the raw config. */
  devices: Map<string, { kind: string | undefined; index: number }>;
  issue(path: (string | number)[], message: string): void;
}

/** "unknown device "x"; did you mean "y"? known: ..." when `id` is not in the inventory; true when it is. */
export function checkDeviceRef(refs: CheckRefs, path: (string | number)[], id: unknown, kinds?: readonly string[]): boolean {
  if (typeof id !== 'string') return false;
  const d = refs.devices.get(id);
  if (!d) {
    const known = [...refs.devices.keys()];
    refs.issue(path, `unknown device "${id}"; ${hint(id, known)}known: ${summarizeIds(known)}`);
    return false;
  }
  if (kinds && d.kind !== undefined && !kinds.includes(d.kind)) {
    refs.issue(path, `device "${id}" is a ${d.kind}; expected ${kinds.join(' or ')}`);
    return false;
  }
  return true;
}
