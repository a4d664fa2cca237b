/**
 * Reading and validating settings: YAML text → every problem with its path, its
 * line, and a hint; or frozen `Settings`.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isScalar, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { closest, crossCheck, SettingsSchema, type Settings } from './schema.js';

export interface SettingsProblem {
  /** e.g. `devices[12].hamlet` */
  path: string;
  /** 1-based line in the YAML file, when known. */
  line?: number;
  message: string;
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; problems: SettingsProblem[] };

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

type ZodInternal = { _zod: { def: Record<string, unknown> & { type: string } } };

/** The object keys the schema allows at `path` (for "did you mean" hints). */
export function keysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let cur = unwrap(schema);
  for (const seg of path) {
    if (!cur) return [];
    const def = cur._zod.def;
    if (def.type === 'object') cur = unwrap((def['shape'] as Record<string, unknown>)[String(seg)]);
    else if (def.type === 'array') cur = unwrap(def['element']);
    else if (def.type === 'record') cur = unwrap(def['valueType']);
    else return [];
  }
  if (cur && cur._zod.def.type === 'object') return Object.keys(cur._zod.def['shape'] as object);
  return [];
}

function unwrap(s: unknown): ZodInternal | undefined {
  let cur = s as ZodInternal | undefined;
  for (let i = 0; cur && i < 10; i++) {
    const def = cur._zod.def;
    if (['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type)) {
      cur = def['innerType'] as ZodInternal;
    } else if (def.type === 'pipe') cur = def['in'] as ZodInternal;
    else break;
  }
  return cur;
}

/** Validate already-parsed config data (from YAML, or built in code by tests). */
export function validateSettings(input: unknown, locate?: (path: PropertyKey[]) => number | undefined): SettingsResult {
  const parsed = SettingsSchema.safeParse(input);
  if (parsed.success) return { ok: true, settings: deepFreeze(parsed.data) };
  const problems: SettingsProblem[] = [];
  const seen = new Set<string>();
  const push = (path: PropertyKey[], message: string) => {
    const p = formatPath(path);
    const key = `${p}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const line = locate?.(path);
    problems.push(line === undefined ? { path: p, message } : { path: p, line, message });
  };
  for (const issue of parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(SettingsSchema, issue.path);
      for (const key of issue.keys) {
        const guess = closest(key, known);
        push([...issue.path, key], `unknown key "${key}"; ${guess ? `did you mean "${guess}"? ` : ''}allowed: ${known.join(', ')}`);
      }
    } else if (issue.code === 'invalid_value' && 'values' in issue) {
      const values = (issue.values as unknown[]).map(String);
      const got = getAt(input, issue.path);
      const guess = typeof got === 'string' ? closest(got, values) : undefined;
      push(issue.path, `${JSON.stringify(got)} is not allowed; ${guess ? `did you mean "${guess}"? ` : ''}expected one of: ${values.join(', ')}`);
    } else if (issue.code === 'invalid_type' && getAt(input, issue.path) === undefined) {
      push(issue.path, `required (${issue.expected}) but missing`);
    } else {
      push(issue.path, issue.message);
    }
  }
  // zod does not run an object's refinements when its fields failed; run the
  // cross-reference checks anyway so one pass reports every problem.
  for (const c of crossCheck(input)) push(c.path, c.message);
  return { ok: false, problems };
}

function getAt(v: unknown, path: readonly PropertyKey[]): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

export function parseSettingsYaml(text: string): SettingsResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        path: '(yaml)',
        line: e.linePos?.[0]?.line ?? 0,
        message: `CE_CONFIG_UNREADABLE: ${e.message.split('\n')[0]}`,
      })),
    };
  }
  const locate = (path: PropertyKey[]): number | undefined => {
    // Prefer the key's own line for the last segment (unknown keys, bad values).
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1];
    const parent = parentPath.length ? doc.getIn(parentPath as unknown[], true) : doc.contents;
    if (isMap(parent) && last !== undefined) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
      const node = (pair?.key ?? undefined) as YamlNode | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true)) as YamlNode | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return validateSettings(doc.toJS(), locate);
}

export function loadSettingsFile(file: string): SettingsResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, problems: [{ path: '(file)', message: `CE_CONFIG_UNREADABLE: ${(err as Error).message}` }] };
  }
  return parseSettingsYaml(text);
}

export function formatProblems(file: string, problems: SettingsProblem[]): string {
  return problems.map((p) => `${file}${p.line ? `:${p.line}` : ''}: ${p.path}: ${p.message}`).join('\n');
}

/** Parse or throw (for code and tests that build settings in memory). */
export function settingsFrom(input: z.input<typeof SettingsSchema>): Settings {
  const r = validateSettings(input);
  if (!r.ok) throw new Error(`invalid settings:\n${r.problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  return r.settings;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}
