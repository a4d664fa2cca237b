/**
 * `indicators:` settings: targets, responsible units, the data-coverage floor,
 * planned maintenance windows, office hours (office computers on the LAN), the
 * RSRP threshold of a usable cellular signal. Every key has a default, so a config
 * without `indicators:` gets the definitions' targets and units (definitions.ts).
 */
import { z } from 'zod';
import { KIND_IDS, kindById } from '../../devices/registry.js';
import { arr, checkDeviceRef, hint, loose, obj, str, summarizeIds, type CheckRefs } from '../settings/check-kit.js';
import { definitionById, INDICATOR_IDS, isPercent } from './definitions.js';

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, 24-hour (e.g. "07:30")');

/** An instant with an explicit offset: a maintenance window must not depend on where the config is read. */
const Instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, 'must be ISO 8601 with an offset, e.g. "2026-03-14T08:00+07:00"')
  .refine((s) => Number.isFinite(Date.parse(s)), 'is not a valid date-time');

const TargetOverride = z
  .strictObject({
    op: z.enum(['>=', '<=']).optional().describe("Default: the indicator's own (>= for shares, <= for MTTR)"),
    value: z.number().finite().describe('In the indicator unit: percent (0..100) for shares, minutes for MTTR'),
  })
  .describe('Target (Chỉ tiêu) of one indicator');

const Unit = z.string().min(1).max(200);

export const MaintenanceSchema = z
  .strictObject({
    from: Instant.describe('Start, e.g. "2026-03-14T08:00+07:00"'),
    to: Instant.describe('End (exclusive); must be after from'),
    devices: z.array(z.string().min(1)).optional().describe('Device ids (devices[].id)'),
    kinds: z
      .array(z.string().min(1))
      .optional()
      .describe('Device kinds, or kind:role (e.g. "camera:onestop", "network:wan")'),
    hamlets: z.array(z.string().min(1)).optional().describe('Every device of these hamlets (hamlets[].id)'),
    reason: z.string().min(1).max(200).describe('Why, for the report (e.g. "Điện lực cắt điện bảo trì lưới")'),
  })
  .describe(
    'Planned maintenance: matching devices are left out of availability, coverage and incidents during [from, to). ' +
      'A device matches when it is listed, or of a listed kind, or in a listed hamlet; with none of the three, the whole commune.',
  );

const DEFAULT_OFFICE_HOURS = { days: [1, 2, 3, 4, 5], from: '07:00', to: '17:00' };

export const IndicatorsSchema = z
  .strictObject({
    minCoverage: z
      .number()
      .min(0)
      .max(1)
      .default(0.8)
      .describe('Below this share of known time (data coverage) an indicator is "Không đủ dữ liệu" instead of Đạt / Chưa đạt'),
    serviceThresholdPct: z
      .number()
      .min(0)
      .max(100)
      .default(90)
      .describe('A hamlet is covered by a loudspeaker, a public Wi-Fi point is in service, when available at least this % of its known time'),
    rsrpUsableDbm: z
      .number()
      .min(-140)
      .max(-44)
      .default(-110)
      .describe('Mean RSRP (dBm) at or above which a measuring point has usable LTE signal (3GPP TS 36.133 range -140..-44)'),
    officeHours: z
      .strictObject({
        days: z
          .array(z.number().int().min(1).max(7))
          .min(1)
          .default(DEFAULT_OFFICE_HOURS.days)
          .describe('Working days, ISO 8601 numbering: 1 = Monday … 7 = Sunday'),
        from: HHMM.default(DEFAULT_OFFICE_HOURS.from).describe('Office hours start, local time'),
        to: HHMM.default(DEFAULT_OFFICE_HOURS.to).describe('Office hours end, local time'),
      })
      .prefault({})
      .describe('When office computers are expected on the LAN (office_computers_lan looks at the last working day of the period)'),
    targets: z
      .record(z.string(), TargetOverride)
      .default({})
      .describe('Per indicator id (GET /api/indicators/definitions), e.g. { wan_availability: { value: 99.5 } }'),
    responsibleUnits: z
      .record(z.string(), Unit)
      .default({})
      .describe('Đơn vị theo dõi per indicator id, e.g. { vconf_availability: "Văn phòng HĐND và UBND" }'),
    cooperatingUnits: z.record(z.string(), Unit).default({}).describe('Đơn vị phối hợp per indicator id'),
    maintenance: z.array(MaintenanceSchema).default([]).describe('Planned maintenance windows'),
  })
  .prefault({})
  .describe('Infrastructure indicators (docs/indicators.md)');

export type IndicatorsSettings = z.output<typeof IndicatorsSchema>;
export type MaintenanceWindow = z.output<typeof MaintenanceSchema>;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Cross-references of raw (not yet valid) `indicators:` settings: unknown indicator
 * ids (with a "did you mean" hint), maintenance windows that end before they start,
 * unknown devices, kinds, roles and hamlets. `hamletIds`: the commune's hamlets, when
 * the caller has them (CheckRefs carries only devices).
 */
export function checkIndicators(raw: Record<string, unknown>, refs: CheckRefs, hamletIds?: readonly string[]): void {
  const at = (...p: (string | number)[]) => ['indicators', ...p];
  const ids = [...INDICATOR_IDS] as string[];
  const checkId = (section: string, id: string): boolean => {
    if (definitionById(id)) return true;
    refs.issue(at(section, id), `unknown indicator "${id}"; ${hint(id, ids)}known: ${ids.join(', ')}`);
    return false;
  };

  for (const [id, t] of Object.entries(obj(raw['targets']))) {
    if (!checkId('targets', id)) continue;
    const def = definitionById(id)!;
    const value = loose(t)['value'];
    if (isPercent(def) && typeof value === 'number' && (value < 0 || value > 100)) {
      refs.issue(at('targets', id, 'value'), `${id} is a percentage: the target must be 0..100, not ${value}`);
    }
  }
  for (const section of ['responsibleUnits', 'cooperatingUnits']) {
    for (const id of Object.keys(obj(raw[section]))) checkId(section, id);
  }

  const hours = obj(raw['officeHours']);
  const from = str(hours['from']);
  const to = str(hours['to']);
  if (from && to && /^\d\d:\d\d$/.test(from) && /^\d\d:\d\d$/.test(to) && minutesOf(to) <= minutesOf(from)) {
    refs.issue(at('officeHours', 'to'), `office hours end ${to} is not after their start ${from}`);
  }

  arr(raw['maintenance']).forEach((w, i) => {
    const a = str(w['from']);
    const b = str(w['to']);
    const ta = a === undefined ? NaN : Date.parse(a);
    const tb = b === undefined ? NaN : Date.parse(b);
    if (Number.isFinite(ta) && Number.isFinite(tb) && tb <= ta) {
      refs.issue(at('maintenance', i, 'to'), `the window ends (${b}) before or when it starts (${a})`);
    }
    (Array.isArray(w['devices']) ? w['devices'] : []).forEach((d: unknown, j: number) => {
      checkDeviceRef(refs, at('maintenance', i, 'devices', j), d);
    });
    (Array.isArray(w['kinds']) ? w['kinds'] : []).forEach((k: unknown, j: number) => {
      if (typeof k !== 'string') return;
      const [kindId, role] = k.split(':', 2) as [string, string | undefined];
      const kind = kindById(kindId);
      if (!kind) {
        refs.issue(at('maintenance', i, 'kinds', j), `unknown device kind "${kindId}"; ${hint(kindId, [...KIND_IDS])}known: ${KIND_IDS.join(', ')}`);
      } else if (role !== undefined && !kind.roles.includes(role)) {
        refs.issue(
          at('maintenance', i, 'kinds', j),
          `"${role}" is not a role of ${kindId}; ${hint(role, [...kind.roles])}known: ${kind.roles.join(', ') || '(none)'}`,
        );
      }
    });
    if (hamletIds) {
      (Array.isArray(w['hamlets']) ? w['hamlets'] : []).forEach((h: unknown, j: number) => {
        if (typeof h === 'string' && !hamletIds.includes(h)) {
          refs.issue(at('maintenance', i, 'hamlets', j), `unknown hamlet "${h}"; ${hint(h, [...hamletIds])}known: ${summarizeIds([...hamletIds])}`);
        }
      });
    }
  });
}
