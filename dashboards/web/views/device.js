// Device page: state and current readings (with the kind's labels and units),
// the state timeline for 24 h / 7 d / 30 d with availability, sparklines of the
// numeric fields, and recent incidents.
import { api, ApiError } from '../api.js';
import { timelineChart, sparkline } from '../charts.js';
import { h, message, replace, section, stateBadge } from '../dom.js';
import { fmtDateTime, fmtDuration, fmtNumber, fmtRelative, fmtShare, label, reasonText, t } from '../i18n.js';
import { scheduleRender } from '../state.js';
import { deviceRole } from './overview.js';

const RANGES = { '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3, '30d': 30 * 24 * 3600e3 };

function fieldValue(v, spec) {
  if (typeof v === 'boolean') return v ? t('yes') : t('no');
  if (typeof v === 'number') {
    // Uptimes and runtimes read better as durations: "18 ngày 3 giờ", not "1.565.676 s".
    if (spec?.unit === 's' && v >= 120) return fmtDuration(v * 1000);
    if (spec?.unit === 'min' && v >= 1) return fmtDuration(v * 60_000);
    return `${fmtNumber(v, 2)}${spec?.unit ? ` ${spec.unit}` : ''}`;
  }
  return String(v);
}

function header(store, d, detail) {
  const hamlet = store.hamlets.find((x) => x.id === d.hamlet);
  const since = Date.parse(d.since);
  const kind = store.kinds.get(d.kind);
  return h(
    'div',
    { class: 'device-head' },
    h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, h('a', { href: '#/' }, t('backToOverview')), ' › ', h('span', {}, hamlet?.name ?? d.hamlet)),
    h('div', { class: 'page-head' }, h('h1', {}, d.name), h('span', { id: 'device-state' }, stateBadge(d.state))),
    h(
      'dl',
      { class: 'facts' },
      h('div', {}, h('dt', {}, t('kind')), h('dd', {}, label(kind?.label ?? d.kindLabel))),
      d.role ? h('div', {}, h('dt', {}, t('role')), h('dd', {}, deviceRole(d))) : null,
      h('div', {}, h('dt', {}, t('hamlet')), h('dd', {}, hamlet?.name ?? d.hamlet)),
      h('div', {}, h('dt', {}, t(`state_${d.state}`)), h('dd', {}, h('time', { datetime: d.since }, t('since', { time: fmtDateTime(since) })), ' ', h('span', { class: 'muted' }, `(${fmtRelative(since)})`))),
      h('div', {}, h('dt', {}, t('reason')), h('dd', {}, reasonText(d.reason))),
      h('div', {}, h('dt', {}, t('lastSeen')), h('dd', {}, d.lastSeen ? `${fmtDateTime(Date.parse(d.lastSeen))} (${fmtRelative(Date.parse(d.lastSeen))})` : t('never'))),
      detail ? h('div', {}, h('dt', {}, 'ID'), h('dd', { class: 'mono' }, d.id)) : null,
    ),
  );
}

function rangePicker(id, range) {
  return h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': t('rangeLabel') },
    Object.keys(RANGES).map((r) =>
      h('a', { href: `#/device/${encodeURIComponent(id)}?range=${r}`, class: r === range ? 'active' : undefined, 'aria-current': r === range ? 'true' : undefined, 'data-range': r }, t(`range_${r}`)),
    ),
  );
}

function timelineCard(tl) {
  const d = tl.durationsMs;
  return section(
    t('timeline'),
    h(
      'div',
      { class: 'kpis' },
      h('div', { class: 'kpi', 'data-kpi': 'availability' }, h('span', { class: 'kpi-n' }, fmtShare(tl.availability)), h('span', { class: 'kpi-l' }, t('availability'), h('small', { class: 'muted' }, t('availabilityNote')))),
      h('div', { class: 'kpi', 'data-kpi': 'coverage' }, h('span', { class: 'kpi-n' }, fmtShare(tl.coverage)), h('span', { class: 'kpi-l' }, t('coverage'))),
    ),
    timelineChart(tl),
    h(
      'ul',
      { class: 'legend', 'aria-label': t('timeInState') },
      ['UP', 'DEGRADED', 'DOWN', 'UNKNOWN'].map((st) => h('li', {}, stateBadge(st), h('span', { class: 'muted' }, fmtDuration(d[st])))),
    ),
  );
}

function readingsCard(store, d, detail) {
  const last = detail.lastReading;
  const kind = store.kinds.get(d.kind);
  if (!last) return section(t('currentReadings'), h('p', { class: 'muted' }, t('noData')));
  const specs = new Map((kind?.fields ?? []).map((f) => [f.name, f]));
  const order = [...(kind?.fields ?? []).map((f) => f.name).filter((n) => n in last.fields), ...Object.keys(last.fields).filter((n) => !specs.has(n))];
  return section(
    t('currentReadings'),
    h('p', { class: 'muted small' }, t('measuredAt', { time: fmtDateTime(Date.parse(last.ts)) })),
    h(
      'table',
      { class: 'table readings' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('field')), h('th', { scope: 'col', class: 'n' }, t('value')))),
      h(
        'tbody',
        {},
        order.map((name) => {
          const spec = specs.get(name);
          return h('tr', { 'data-field': name }, h('th', { scope: 'row' }, spec ? label(spec.label) : name), h('td', { class: 'n' }, fieldValue(last.fields[name], spec)));
        }),
      ),
    ),
  );
}

function trendsCard(rd, from, to) {
  const series = rd.series.filter((s) => s.points.length);
  return section(
    t('trends'),
    rd.sampled ? message(t('sampled')) : null,
    rd.spoolStartsAt && Date.parse(rd.spoolStartsAt) > from ? h('p', { class: 'muted small' }, t('spoolStarts', { time: fmtDateTime(Date.parse(rd.spoolStartsAt)) })) : null,
    series.length
      ? h(
          'ul',
          { class: 'sparks' },
          series.map((sr) => {
            const title = label(sr.label);
            const last = sr.points[sr.points.length - 1];
            const spec = { unit: sr.unit };
            return h(
              'li',
              { 'data-series': sr.name },
              h('div', { class: 'spark-head' }, h('span', {}, title), h('strong', {}, fieldValue(last.last, spec))),
              sparkline({ ...sr, title, bucketMs: rd.bucketMs }, from, to),
              h('span', { class: 'muted small' }, t('sparkRange', { min: fieldValue(Math.min(...sr.points.map((p) => p.min)), spec), max: fieldValue(Math.max(...sr.points.map((p) => p.max)), spec) })),
            );
          }),
        )
      : h('p', { class: 'muted' }, t('noData')),
  );
}

function incidentsCard(inc) {
  return section(
    t('incidents'),
    inc.incidents.length
      ? h(
          'table',
          { class: 'table incidents' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('incStart')), h('th', { scope: 'col' }, t('incEnd')), h('th', { scope: 'col' }, t('incDuration')), h('th', { scope: 'col' }, t('reason')))),
          h(
            'tbody',
            {},
            inc.incidents.map((i) =>
              h(
                'tr',
                { class: i.ongoing ? 'ongoing' : undefined },
                h('td', { 'data-label': t('incStart') }, fmtDateTime(Date.parse(i.start))),
                h('td', { 'data-label': t('incEnd') }, i.ongoing ? h('strong', { class: 'st-DOWN-text' }, t('incOngoing')) : i.endState === 'UNKNOWN' ? `${fmtDateTime(Date.parse(i.end))} – ${t('incEndUnknown')}` : fmtDateTime(Date.parse(i.end))),
                h('td', { 'data-label': t('incDuration') }, fmtDuration(i.durationS * 1000)),
                h('td', { 'data-label': t('reason') }, reasonText(i.reason)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('incidentsNone')),
  );
}

export function renderDevice(main, { store, params, query }) {
  const id = params.id;
  const range = RANGES[query.get('range')] ? query.get('range') : '24h';
  let disposed = false;
  let data = null;

  const draw = () => {
    if (disposed) return;
    const d = store.devices.get(id);
    if (!d) return replace(main, message(t('deviceNotFound', { id }), 'error'));
    document.title = `${d.name} · ${store.session.commune.name}`;
    if (!data) return replace(main, header(store, d, null), rangePicker(id, range), h('p', { class: 'muted' }, t('loading')));
    replace(
      main,
      header(store, d, data.detail),
      rangePicker(id, range),
      timelineCard(data.timeline),
      h('div', { class: 'grid-2' }, readingsCard(store, d, data.detail), trendsCard(data.readings, data.from, data.to)),
      incidentsCard(data.incidents),
    );
  };

  const load = async () => {
    const to = Date.now();
    const from = to - RANGES[range];
    const q = `from=${from}&to=${to}`;
    const enc = encodeURIComponent(id);
    try {
      const [detail, timeline, readings, incidents] = await Promise.all([
        api(`/api/devices/${enc}?transitions=0`),
        api(`/api/devices/${enc}/timeline?${q}`),
        api(`/api/devices/${enc}/readings?${q}&max=96`),
        api(`/api/incidents?device=${enc}&${q}&limit=20`),
      ]);
      data = { detail, timeline, readings, incidents, from, to };
      draw();
    } catch (err) {
      if (disposed) return;
      if (err instanceof ApiError && err.status === 404) return replace(main, message(t('deviceNotFound', { id }), 'error'));
      replace(main, message(t('loadFailed', { msg: err.message }), 'error'));
    }
  };

  draw();
  void load();
  let reloadTimer = null;
  return {
    onLive: (type, ev) => {
      // The header follows every change at once; history is re-read shortly after
      // (the transition reaches the store within one group commit).
      if (type === 'transition' && ev.deviceId !== id) return;
      scheduleRender(draw);
      if (type === 'transition' || type === 'state') {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(load, 500);
      }
    },
    dispose: () => {
      disposed = true;
      clearTimeout(reloadTimer);
    },
  };
}
