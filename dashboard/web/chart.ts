// History charts with uPlot (bundled, served from /vendor; never a CDN): series from the history
// API aligned on one time axis, flat lines for baselines, red bands for incidents.

import uPlot from 'uplot';

export interface Line {
  label: string;
  color: string;
  points: Array<[number, number]>;
  dash?: boolean;
}

/** One time axis (seconds) for series sampled at different instants; gaps are nulls. */
export function align(lines: Line[]): uPlot.AlignedData {
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const y: Array<number | null> = new Array(xs.length).fill(null);
    for (const [x, v] of l.points) y[index.get(x)!] = v;
    return y;
  });
  return [xs.map((x) => x / 1000), ...ys] as uPlot.AlignedData;
}

function bandsPlugin(bands: Array<[number, number]>): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = 'rgba(185, 28, 28, 0.13)';
        for (const [from, to] of bands) {
          const x0 = u.valToPos(from / 1000, 'x', true);
          const x1 = u.valToPos(to / 1000, 'x', true);
          ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        }
        ctx.restore();
      },
    },
  };
}

export function drawChart(
  el: HTMLElement,
  o: {
    title: string;
    lines: Line[];
    bands: Array<[number, number]>;
    range: [number, number];
    timezone: string;
    /** Said instead of a chart when there is nothing to draw. */
    empty: string;
    /** The legend's name for the time column. */
    timeLabel: string;
    format?: (v: number) => string;
  },
): uPlot | null {
  el.innerHTML = '';
  const lines = o.lines.filter((l) => l.points.length > 0);
  if (lines.length === 0) {
    el.innerHTML = `<p class="muted">${o.title}: ${o.empty}</p>`;
    return null;
  }
  const fmt = o.format ?? ((v: number) => v.toFixed(1));
  const width = Math.max(280, el.clientWidth || 600);
  const height = (w: number) => (w < 500 ? 180 : 220);
  const u = new uPlot(
    {
      title: o.title,
      width,
      height: height(width),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), o.timezone),
      scales: { x: { time: true, min: o.range[0] / 1000, max: o.range[1] / 1000 } },
      series: [
        { label: o.timeLabel },
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: l.dash ? 1.5 : 2,
          spanGaps: true,
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmt(v)),
          ...(l.dash ? { dash: [8, 6] } : {}),
        })),
      ],
      axes: [
        {
          // 24-hour clock in the deployment's zone; the date too when the period spans days.
          values: (_u, vals) => {
            const days = o.range[1] - o.range[0] > 2 * 86400_000;
            const f = new Intl.DateTimeFormat(document.documentElement.lang === 'en' ? 'en-GB' : 'id-ID', {
              timeZone: o.timezone,
              hourCycle: 'h23',
              hour: '2-digit',
              minute: '2-digit',
              ...(days ? { day: 'numeric', month: 'short' } : {}),
            });
            return vals.map((v) => f.format(v * 1000));
          },
        },
        { values: (_u, vals) => vals.map(fmt), size: 70 },
      ],
      plugins: [bandsPlugin(o.bands)],
    },
    align(lines),
    el,
  );
  // Follow the page's width (a phone turned, a window resized) rather than overflow it.
  new ResizeObserver(() => {
    const w = Math.max(280, el.clientWidth);
    if (w !== u.width) u.setSize({ width: w, height: height(w) });
  }).observe(el);
  return u;
}
