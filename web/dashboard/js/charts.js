// Live charts of the selected device: one uPlot chart per metric, one line
// per sensor that measures it.

import { SeriesWindow } from './series.js';
import { canonicalUnit, compareMetrics, formatNumber, formatValue, unitLabel } from './format.js';

// Charts keep the last WINDOW_MS of each series, at most MAX_POINTS points,
// so memory stays bounded however long the page stays open.
const WINDOW_MS = 10 * 60 * 1000;
const MAX_POINTS = 3000;

const uPlot = window.uPlot; // vendor/uplot/uPlot.iife.min.js, loaded before the modules

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// comparePanels orders charts on the page.
function comparePanels(a, b) {
  return compareMetrics(a.metric, b.metric) || a.unit.localeCompare(b.unit);
}

// axisSize fits the y axis to its widest tick label (after uPlot's demos).
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((acc, v) => (v.length > acc.length ? v : acc), '');
  if (longest !== '') {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

// Tick steps of the time axis, in seconds: uPlot's defaults jump from 1 to
// 5 minutes, which leaves a 10-minute window on a phone with one tick.
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

// The y axis spans at least this much of a unit, so that sensor noise of
// a steady value (0.02 hPa) does not fill the chart like a storm would.
const MIN_SPAN = { Cel: 1, '[degF]': 2, '%': 2, hPa: 2, lx: 10, V: 0.1 };

// yRange is uPlot's usual padded range, widened to the unit's minimum span.
function yRange(unit) {
  const span = MIN_SPAN[unit] ?? 0;
  return (u, min, max) => {
    if (max - min < span) {
      const mid = (min + max) / 2;
      [min, max] = [mid - span / 2, mid + span / 2];
    }
    return uPlot.rangeNum(min, max, 0.1, true);
  };
}

// plotHeight keeps charts flatter than wide, within readable bounds.
function plotHeight(width) {
  return Math.round(Math.min(260, Math.max(170, width * 0.42)));
}

// timeTicks labels the time axis compactly, 24-hour, with seconds only when
// ticks are less than a minute apart (the window is 10 minutes, so no dates).
function timeTicks(u, splits, axisIdx, space, incr) {
  const opts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (incr < 60) opts.second = '2-digit';
  return splits.map((s) => new Date(s * 1000).toLocaleTimeString([], opts));
}

/** ChartPanel is the chart of one metric (in one unit) of the selected device. */
class ChartPanel {
  constructor(metric, unit) {
    this.metric = metric;
    this.unit = unit;
    this.sensors = new Map(); // sensor name -> SeriesWindow
    this.plot = null;
    this.colors = []; // line colour of each sensor, in sensor order
    this.stale = true; // the plot must be (re)built: new sensor, theme change
    this.dirty = false; // the plot's data is behind the series
    this.newest = new Map(); // sensor name -> {value, t} of its newest reading, shown in the header

    this.el = document.createElement('article');
    this.el.className = 'chart-card';
    this.el.dataset.metric = metric;
    const head = document.createElement('header');
    const title = document.createElement('h3');
    const u = unitLabel(unit, metric);
    title.textContent = u ? `${metric} (${u})` : metric;
    this.nowEl = document.createElement('span');
    this.nowEl.className = 'now';
    head.append(title, this.nowEl);
    this.plotEl = document.createElement('div');
    this.plotEl.className = 'plot';
    this.el.append(head, this.plotEl);
  }

  /** add records one reading (t: its time in unix ms); false if it was not new. */
  add(r, t) {
    let s = this.sensors.get(r.sensor);
    if (!s) {
      s = new SeriesWindow({ windowMs: WINDOW_MS, maxPoints: MAX_POINTS });
      this.sensors.set(r.sensor, s);
      this.stale = true;
    }
    if (!s.add(t, r.value, r.seq)) return false;
    const old = this.newest.get(r.sensor);
    if (!old || t >= old.t) this.newest.set(r.sensor, { value: r.value, t });
    this.dirty = true;
    return true;
  }

  // data is the series in uPlot's aligned form, x in unix seconds.
  data() {
    const tables = [...this.sensors.values()].map((s) => [s.ts.map((t) => t / 1000), s.vs.slice()]);
    if (tables.length === 1) return tables[0];
    // Several sensors sample at their own times: join on the union of times,
    // null where a sensor has no point (spanGaps draws across those).
    return uPlot.join(tables);
  }

  options(width) {
    const fg = cssVar('--fg');
    const grid = cssVar('--grid');
    const font = '14px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const door = this.metric === 'door';
    const show = door ? (v) => (v === 1 ? 'open' : v === 0 ? 'closed' : '–') : formatNumber;
    const palette = [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--series-${i}`));
    const names = [...this.sensors.keys()];
    this.colors = names.map((_, i) => palette[i % palette.length]);
    return {
      width,
      height: plotHeight(width),
      cursor: { drag: { x: false, y: false, setScale: false } }, // a live chart: no zoom
      padding: [null, 28, null, null], // room for the last time label, centred on its tick
      scales: { x: { time: true }, y: { range: door ? [-0.1, 1.1] : yRange(this.unit) } },
      axes: [
        {
          stroke: fg, font, space: 75, size: 40, incrs: TIME_INCRS, values: timeTicks,
          grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
        },
        {
          stroke: fg, font, labelFont: font, label: unitLabel(this.unit, this.metric), size: axisSize,
          grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
          ...(door ? { splits: () => [0, 1], values: (u, splits) => splits.map(show) } : {}),
        },
      ],
      series: [
        {},
        ...names.map((name, i) => ({
          label: name,
          stroke: this.colors[i],
          width: 2,
          spanGaps: true,
          value: (u, v) => show(v),
          ...(door ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
        })),
      ],
    };
  }

  /** flush brings the plot up to date with the series. */
  flush() {
    const width = Math.floor(this.plotEl.clientWidth);
    if (width <= 0) return; // not laid out yet; the resize observer calls again
    if (this.stale || !this.plot) {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(width), this.data(), this.plotEl);
      this.stale = false;
    } else if (this.dirty) {
      this.plot.setData(this.data());
    }
    this.dirty = false;
    this.showNewest();
  }

  // showNewest puts the newest value in the header; with several sensors,
  // one value per sensor in its line's colour ("20.9 / 21.4 °C").
  showNewest() {
    const vals = [...this.sensors.keys()].map((name) => this.newest.get(name)).filter(Boolean);
    if (vals.length <= 1) {
      this.nowEl.textContent = vals.length ? formatValue(this.metric, vals[0].value, this.unit) : '';
      return;
    }
    const spans = vals.flatMap((v, i) => {
      const span = document.createElement('span');
      span.style.color = this.colors[i] ?? '';
      span.textContent = formatValue(this.metric, v.value, '1');
      return i ? [' / ', span] : [span];
    });
    const u = unitLabel(this.unit, this.metric);
    this.nowEl.replaceChildren(...spans, u && this.metric !== 'door' ? ` ${u}` : '');
  }

  resize() {
    if (!this.plot) return this.flush();
    const width = Math.floor(this.plotEl.clientWidth);
    if (width > 0 && width !== this.plot.width) {
      this.plot.setSize({ width, height: plotHeight(width) });
    }
  }

  /** points is the number of values the plot draws (not counting gaps). */
  points() {
    if (!this.plot) return 0;
    let n = 0;
    for (let i = 1; i < this.plot.data.length; i++) {
      for (const v of this.plot.data[i]) if (v !== null && v !== undefined) n++;
    }
    return n;
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
    this.el.remove();
  }
}

/**
 * ChartBoard shows the charts of one device in container. Readings of other
 * devices are ignored. Drawing is batched to one update per animation frame,
 * however many readings arrive.
 */
export class ChartBoard {
  constructor(container) {
    this.container = container;
    this.device = null;
    this.panels = new Map(); // metric + "\n" + unit -> ChartPanel
    this.frame = 0;
    this.resizer = new ResizeObserver((entries) => {
      for (const e of entries) e.target.panel?.resize();
    });
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      for (const p of this.panels.values()) p.stale = true;
      this.schedule();
    });
  }

  /** reset empties the board and makes it show device (or nothing for null). */
  reset(device) {
    for (const p of this.panels.values()) {
      this.resizer.unobserve(p.plotEl);
      p.destroy();
    }
    this.panels.clear();
    this.device = device;
  }

  /** add takes readings (any devices, any order, duplicates allowed). */
  add(readings) {
    let changed = false;
    for (const r of readings) {
      if (r.device !== this.device) continue;
      const t = Date.parse(r.ts);
      if (!Number.isFinite(t)) continue;
      // Old unit codes ("%RH") are charted with their new ones ("%").
      const unit = canonicalUnit(r.unit);
      const key = `${r.metric}\n${unit}`;
      let p = this.panels.get(key);
      if (!p) {
        p = new ChartPanel(r.metric, unit);
        this.panels.set(key, p);
        this.insert(p);
      }
      changed = p.add(r, t) || changed;
    }
    if (changed) this.schedule();
  }

  // insert places a new panel's card in chart order.
  insert(p) {
    const next = [...this.panels.values()]
      .filter((q) => q !== p && comparePanels(q, p) > 0)
      .sort(comparePanels)[0];
    this.container.insertBefore(p.el, next ? next.el : null);
    p.plotEl.panel = p;
    this.resizer.observe(p.plotEl);
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      for (const p of this.panels.values()) p.flush();
    });
  }

  get size() { return this.panels.size; }

  /** points is how many values the charts of metric draw. */
  points(metric) {
    let n = 0;
    for (const p of this.panels.values()) if (p.metric === metric) n += p.points();
    return n;
  }

  /** summary describes each chart, in page order, for tests. */
  summary() {
    return [...this.panels.values()].sort(comparePanels).map((p) => {
      const canvas = p.plotEl.querySelector('canvas');
      return {
        metric: p.metric,
        unit: p.unit,
        sensors: [...p.sensors.keys()],
        points: p.points(),
        canvas: canvas ? { width: canvas.clientWidth, height: canvas.clientHeight } : null,
      };
    });
  }
}
