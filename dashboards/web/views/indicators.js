// Indicators page: each indicator against its target for a chosen period
// (month, quarter, half-year, year), with the status the plans' report tables use
// (Đạt / Chưa đạt / Không đủ dữ liệu) and the per-hamlet breakdown; buttons to
// download the half-year report (GET /api/reports/<period>.xlsx|pdf|csv, with the
// bearer header, saved from a blob). Contract: gateway/indicators/types.ts.
import { api, ApiError, download } from '../api.js';
import { h, message, replace } from '../dom.js';
import { fmtDateTime, fmtDuration, fmtNumber, fmtShare, getLang, label, t } from '../i18n.js';

const STATUS_STATE = { DAT: 'UP', CHUA_DAT: 'DOWN', KHONG_DU_DU_LIEU: 'UNKNOWN' };
const STATUS_ICON = { DAT: '✓', CHUA_DAT: '✕', KHONG_DU_DU_LIEU: '?' };

/** Year and month now in the commune's zone. */
function nowParts(tz) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: tz, year: 'numeric', month: '2-digit' }).formatToParts(new Date()).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month) };
}

/** Period id (types.ts Period.id) from the picker: 2026-05, 2026-Q2, 2026-H1, 2026. */
export function periodId(kind, y, n) {
  if (kind === 'month') return `${y}-${String(n).padStart(2, '0')}`;
  if (kind === 'quarter') return `${y}-Q${n}`;
  if (kind === 'half') return `${y}-H${n}`;
  return String(y);
}

export function parsePeriod(id) {
  let m;
  if ((m = /^(\d{4})-(\d{2})$/.exec(id))) return { kind: 'month', y: +m[1], n: +m[2] };
  if ((m = /^(\d{4})-Q([1-4])$/.exec(id))) return { kind: 'quarter', y: +m[1], n: +m[2] };
  if ((m = /^(\d{4})-H([12])$/.exec(id))) return { kind: 'half', y: +m[1], n: +m[2] };
  if ((m = /^(\d{4})$/.exec(id))) return { kind: 'year', y: +m[1], n: 1 };
  return null;
}

function periodTitle(p) {
  if (p.kind === 'month') return t('periodTitle_month', { m: p.n, y: p.y });
  if (p.kind === 'quarter') return t('periodTitle_quarter', { q: p.n, y: p.y });
  if (p.kind === 'half') return t(`periodTitle_half${p.n}`, { y: p.y });
  return t('periodTitle_year', { y: p.y });
}

/** The half-year a period falls in (the plans report "định kỳ 6 tháng"). */
function halfOf(p) {
  if (p.kind === 'half') return p;
  if (p.kind === 'year') return { kind: 'half', y: p.y, n: 1 };
  const month = p.kind === 'month' ? p.n : (p.n - 1) * 3 + 1;
  return { kind: 'half', y: p.y, n: month <= 6 ? 1 : 2 };
}

/** An indicator value in its unit: "98,5 %", "18 ấp". */
export function fmtValue(v, unit) {
  if (v === null || v === undefined) return '—';
  return unit === '%' ? `${fmtNumber(v, 1)} %` : `${fmtNumber(v, 1)} ${unit}`;
}

function fmtTarget(target, unit) {
  if (!target) return t('noTarget');
  return `${target.op === '>=' ? '≥' : '≤'} ${fmtValue(target.value, unit)}`;
}

function fmtPart(x, method) {
  return method === 'time-weighted' ? fmtDuration(x) : fmtNumber(x, 1);
}

function statusBadge(status) {
  return h('span', { class: `badge st-${STATUS_STATE[status]}`, 'data-status': status }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, STATUS_ICON[status]), h('span', {}, t(`status_${status}`)));
}

function picker(p, onChange) {
  const kind = h(
    'select',
    { id: 'period-kind', 'aria-label': t('periodKind') },
    ['month', 'quarter', 'half', 'year'].map((k) => h('option', { value: k, selected: k === p.kind }, t(`pk_${k}`))),
  );
  const thisYear = new Date().getFullYear();
  const year = h(
    'select',
    { id: 'period-year', 'aria-label': t('year') },
    Array.from({ length: 6 }, (_, i) => thisYear + 1 - i).map((y) => h('option', { value: y, selected: y === p.y }, String(y))),
  );
  const sub = h('select', { id: 'period-sub', 'aria-label': t('periodKind') });
  const fillSub = (k, n) => {
    const opts = k === 'month' ? 12 : k === 'quarter' ? 4 : k === 'half' ? 2 : 0;
    sub.hidden = opts === 0;
    replace(
      sub,
      Array.from({ length: opts }, (_, i) => i + 1).map((i) =>
        h('option', { value: i, selected: i === n }, k === 'month' ? t('monthN', { n: i }) : k === 'quarter' ? t('quarterN', { n: i }) : t(`half${i}`)),
      ),
    );
  };
  fillSub(p.kind, p.n);
  kind.addEventListener('change', () => fillSub(kind.value, 1));
  return h(
    'form',
    {
      class: 'period-picker',
      onsubmit: (e) => {
        e.preventDefault();
        onChange(periodId(kind.value, Number(year.value), Number(sub.value || 1)));
      },
    },
    h('label', { for: 'period-kind' }, t('periodKind')),
    kind,
    sub,
    year,
    h('button', { type: 'submit', class: 'btn-primary', id: 'period-show' }, t('show')),
  );
}

function breakdown(ind) {
  if (!ind.byHamlet?.length) return null;
  const unit = label(ind.unit);
  return h(
    'details',
    { class: 'breakdown', 'data-breakdown': ind.id },
    h('summary', {}, `${t('byHamlet')} (${ind.byHamlet.length})`),
    h(
      'table',
      { class: 'table compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('hamlet')), h('th', { scope: 'col', class: 'n' }, t('colResult')), h('th', { scope: 'col', class: 'n' }, t('numDen')), h('th', { scope: 'col', class: 'n' }, t('colCoverage')))),
      h(
        'tbody',
        {},
        ind.byHamlet.map((b) =>
          h(
            'tr',
            { 'data-hamlet': b.id },
            h('th', { scope: 'row' }, b.name),
            h('td', { class: 'n', 'data-label': t('colResult') }, fmtValue(b.value, unit)),
            h('td', { class: 'n', 'data-label': t('numDen') }, b.denominator ? `${fmtPart(b.numerator, ind.method)} / ${fmtPart(b.denominator, ind.method)}` : '—'),
            h('td', { class: 'n', 'data-label': t('colCoverage') }, fmtShare(b.coverage)),
          ),
        ),
      ),
    ),
  );
}

function table(report) {
  const cols = ['colNo', 'colName', 'colUnit', 'colTarget', 'colResult', 'colStatus', 'colCoverage', 'colResponsible'];
  const rows = [];
  report.indicators.forEach((ind, i) => {
    const unit = label(ind.unit);
    rows.push(
      h(
        'tr',
        { 'data-indicator': ind.id, class: `status-${ind.status}` },
        h('td', { class: 'n', 'data-label': t('colNo') }, String(i + 1)),
        h('th', { scope: 'row', 'data-label': t('colName') }, label(ind.name)),
        h('td', { 'data-label': t('colUnit') }, unit),
        h('td', { class: 'n target', 'data-label': t('colTarget') }, fmtTarget(ind.target, unit)),
        h('td', { class: 'n result', 'data-label': t('colResult') }, h('strong', { 'data-value': ind.value ?? '' }, fmtValue(ind.value, unit))),
        h('td', { 'data-label': t('colStatus') }, statusBadge(ind.status)),
        h('td', { class: 'n coverage', 'data-label': t('colCoverage') }, fmtShare(ind.coverage)),
        h('td', { 'data-label': t('colResponsible') }, ind.responsibleUnit),
      ),
    );
    const b = breakdown(ind);
    if (b) rows.push(h('tr', { class: 'breakdown-row' }, h('td', { colspan: cols.length }, b)));
  });
  return h(
    'table',
    // data-period: which period these rows are (a newer render replaces the table; tests wait for theirs).
    { class: 'table indicators', id: 'indicators-table', 'data-period': report.period.id },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
    h('tbody', {}, rows),
  );
}

function summary(report) {
  const n = { DAT: 0, CHUA_DAT: 0, KHONG_DU_DU_LIEU: 0 };
  for (const i of report.indicators) n[i.status]++;
  return h(
    'div',
    { class: 'stats stats-3', role: 'list' },
    Object.keys(n).map((k) => h('div', { class: `stat st-${STATUS_STATE[k]}`, role: 'listitem', 'data-summary': k }, h('span', { class: 'stat-n' }, String(n[k])), h('span', { class: 'stat-l' }, t(`status_${k}`)))),
  );
}

function downloads(p) {
  const half = halfOf(p);
  const id = periodId('half', half.y, half.n);
  const status = h('span', { class: 'dl-status', role: 'status' });
  const button = (fmt, name) =>
    h(
      'button',
      {
        type: 'button',
        class: 'btn',
        'data-download': fmt,
        onclick: async (e) => {
          const btn = e.currentTarget;
          btn.disabled = true;
          status.textContent = t('downloading');
          try {
            await download(`/api/reports/${id}.${fmt}?lang=${getLang()}`, `bao-cao-${id}.${fmt}`);
            status.textContent = '';
          } catch (err) {
            status.textContent = t('downloadFailed', { msg: err instanceof ApiError && err.status === 404 ? t('notEnabled') : err.message });
          } finally {
            btn.disabled = false;
          }
        },
      },
      t('downloadAs', { fmt: name }),
    );
  return h(
    'div',
    { class: 'downloads card' },
    h('h2', {}, t('download', { period: periodTitle(half) })),
    h('div', { class: 'btn-row' }, button('xlsx', 'Excel (.xlsx)'), button('pdf', 'PDF'), button('csv', 'CSV')),
    status,
  );
}

export function renderIndicators(main, { store, query }) {
  const tz = store.session.timezone;
  const now = nowParts(tz);
  const p = parsePeriod(query.get('period') ?? '') ?? { kind: 'half', y: now.y, n: now.m <= 6 ? 1 : 2 };
  const id = periodId(p.kind, p.y, p.n);
  let disposed = false;
  document.title = `${t('indicatorsTitle')} · ${store.session.commune.name}`;
  const body = h('div', { id: 'indicators-body' }, h('p', { class: 'muted' }, t('loading')));
  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, `${t('indicatorsTitle')} – ${periodTitle(p)}`)),
    picker(p, (next) => {
      location.hash = `#/indicators?period=${next}`;
    }),
    body,
  );
  (async () => {
    try {
      const report = await api(`/api/indicators?period=${encodeURIComponent(id)}`);
      if (disposed) return;
      replace(
        body,
        h(
          'p',
          { class: 'muted small' },
          t('generatedAt', { time: fmtDateTime(Date.parse(report.generatedAt)) }),
          ' · ',
          t('gatewayCoverage', { pct: fmtShare(report.gatewayCoverage) }),
        ),
        report.partial ? message(t('partial', { time: fmtDateTime(Date.parse(report.generatedAt)) })) : null,
        summary(report),
        h('div', { class: 'card table-card' }, table(report)),
        downloads(p),
      );
    } catch (err) {
      if (disposed) return;
      replace(body, message(err instanceof ApiError && err.status === 404 && err.code === 'CE_NOT_FOUND' ? t('indicatorsMissing') : t('loadFailed', { msg: err.message }), 'error'), downloads(p));
    }
  })();
  return { dispose: () => (disposed = true) };
}
