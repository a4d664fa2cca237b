// Hand-written SVG: the state timeline bar and sparklines. A charting library
// would weigh more than the whole page; these two shapes need ~100 lines.
import { h, s } from './dom.js';
import { fmtDateTime, fmtDuration, fmtNumber, fmtShort, t } from './i18n.js';

const W = 1000;

/**
 * The state timeline: one rect per segment over [from, end), coloured by state
 * (CSS classes), each with a <title> (hover and screen readers), and time ticks
 * below in the commune's zone.
 */
export function timelineChart(tl) {
  const from = Date.parse(tl.from);
  const end = Date.parse(tl.end);
  const to = Date.parse(tl.to);
  const span = Math.max(1, to - from);
  const x = (ms) => ((ms - from) / span) * W;
  const bars = tl.segments.map((seg) => {
    const a = Date.parse(seg.from);
    const b = Date.parse(seg.to);
    const title = `${t(`state_${seg.state}`)}: ${fmtDateTime(a)} – ${fmtDateTime(b)} (${fmtDuration(b - a)})`;
    return s('rect', { x: x(a).toFixed(2), y: 0, width: Math.max(0.8, x(b) - x(a)).toFixed(2), height: 24, class: `seg seg-${seg.state}` }, s('title', {}, title));
  });
  // The part of the range still in the future (to > now) stays empty.
  if (end < to) bars.push(s('rect', { x: x(end).toFixed(2), y: 0, width: (W - x(end)).toFixed(2), height: 24, class: 'seg seg-future' }));
  const svg = s(
    'svg',
    { class: 'timeline', viewBox: `0 0 ${W} 24`, preserveAspectRatio: 'none', role: 'img', 'aria-label': t('timeline') },
    bars,
  );
  const ticks = [];
  const n = 4;
  const withTime = span <= 36 * 3600 * 1000;
  for (let i = 0; i <= n; i++) ticks.push(h('span', {}, fmtShort(from + (span * i) / n, withTime)));
  return h('div', { class: 'timeline-wrap' }, svg, h('div', { class: 'ticks', 'aria-hidden': 'true' }, ticks));
}

/**
 * A sparkline of bucketed readings: the min–max band and the mean line, broken
 * where buckets have no data (a gap is shown as a gap, not interpolated).
 */
export function sparkline(series, from, to) {
  const Hh = 40;
  const pts = series.points.map((p) => ({ t: Date.parse(p.t), min: p.min, max: p.max, avg: p.avg }));
  if (!pts.length) return h('p', { class: 'muted small' }, t('noData'));
  const minV = Math.min(...pts.map((p) => p.min));
  const maxV = Math.max(...pts.map((p) => p.max));
  let lo = minV;
  let hi = maxV;
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const span = Math.max(1, to - from);
  const x = (ms) => (((ms - from) / span) * W).toFixed(1);
  const y = (v) => (Hh - 2 - ((v - lo) / (hi - lo)) * (Hh - 4)).toFixed(1);
  // Consecutive buckets form a run; a missing bucket breaks it.
  const bucket = series.bucketMs;
  const runs = [];
  let run = [];
  for (const p of pts) {
    const prev = run[run.length - 1];
    if (prev && p.t - prev.t > bucket * 1.5) {
      runs.push(run);
      run = [];
    }
    run.push(p);
  }
  if (run.length) runs.push(run);
  const shapes = [];
  for (const r of runs) {
    if (r.length === 1) {
      shapes.push(s('circle', { cx: x(r[0].t + bucket / 2), cy: y(r[0].avg), r: 2.5, class: 'spark-dot' }));
      continue;
    }
    const top = r.map((p) => `${x(p.t + bucket / 2)},${y(p.max)}`);
    const bottom = r.map((p) => `${x(p.t + bucket / 2)},${y(p.min)}`).reverse();
    shapes.push(s('polygon', { points: [...top, ...bottom].join(' '), class: 'spark-band' }));
    shapes.push(s('polyline', { points: r.map((p) => `${x(p.t + bucket / 2)},${y(p.avg)}`).join(' '), class: 'spark-line' }));
  }
  const last = pts[pts.length - 1];
  return s(
    'svg',
    {
      class: 'spark',
      viewBox: `0 0 ${W} ${Hh}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `${series.title}: ${t('sparkRange', { min: fmtNumber(minV), max: fmtNumber(maxV) })}; ${fmtNumber(last.avg)}`,
    },
    shapes,
  );
}
