// The ops console's four live charts: viewers and returning share, sentiment (with alert
// markers), intents and hot words. Points arrive with KPI and sentiment frames; drawing is
// batched (render() once a second redraws only what changed).
import { Chart, axisStyle, palette, timeAxis } from "./charts.js";
import { $, isNum } from "./dom.js";

const SERIES_KEEP = 4 * 3600; // one point per second for four hours
const WINDOW_MAX_MS = 60 * 60 * 1000;
const WINDOW_MIN_MS = 3 * 60 * 1000;

/** Add [atMs, value] to a time-sorted list, one point per second at most (pure, in place). */
export function pushPoint(list, atMs, value) {
  if (!isNum(value) || !Number.isFinite(atMs)) return;
  const last = list[list.length - 1];
  if (!last || atMs >= last[0] + 1000) list.push([atMs, value]);
  else if (atMs >= last[0] - 1000) last[1] = value;
  else {
    // Older than the newest point (history after a reset): keep the series sorted by time.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid][0] < atMs) lo = mid + 1;
      else hi = mid;
    }
    if (list[lo] && Math.abs(list[lo][0] - atMs) < 1000) list[lo][1] = value;
    else list.splice(lo, 0, [atMs, value]);
  }
  if (list.length > SERIES_KEEP) list.splice(0, list.length - SERIES_KEEP);
}

/** The last hour at most, at least three minutes: a fresh session neither spans a whole day
 * nor sits squeezed against the right edge of an empty axis. */
export function timeWindow(...lists) {
  const filled = lists.filter((l) => l.length);
  if (!filled.length) return {};
  const max = Math.max(...filled.map((l) => l[l.length - 1][0]));
  const start = Math.min(...filled.map((l) => l[0][0]));
  return { min: Math.min(max - WINDOW_MIN_MS, Math.max(start, max - WINDOW_MAX_MS)), max };
}

function barOption(p, color) {
  return {
    grid: { left: 8, right: 36, top: 6, bottom: 6, containLabel: true },
    tooltip: { trigger: "item", renderMode: "richText" },
    xAxis: { type: "value", ...axisStyle(), minInterval: 1, splitLine: { show: false }, axisLabel: { show: false } },
    yAxis: { type: "category", inverse: true, data: [], ...axisStyle(), axisLabel: { color: p.text, width: 90, overflow: "truncate" } },
    series: [{ type: "bar", data: [], barMaxWidth: 16, itemStyle: { color, borderRadius: [0, 4, 4, 0] }, label: { show: true, position: "right", color: p.dim } }],
  };
}

export class OpsCharts {
  constructor() {
    const p = palette();
    this.p = p;
    this.series = { viewers: [], returning: [], sentiment1m: [], sentiment5m: [] };
    this.intents = [];
    this.keywords = [];
    this.dirty = new Set();
    const pctAxis = { min: 0, max: 1, axisLabel: { color: p.dim, formatter: (v) => `${Math.round(v * 100)}%` } };
    this.viewersChart = new Chart($('[data-testid="chart-viewers"]'), {
      xAxis: timeAxis(4),
      yAxis: [
        { type: "value", ...axisStyle(), minInterval: 1 },
        { type: "value", ...axisStyle(), ...pctAxis, splitLine: { show: false } },
      ],
      series: [
        { name: "在线人数", type: "line", showSymbol: false, data: [], lineStyle: { width: 2 }, itemStyle: { color: p.accent }, areaStyle: { opacity: 0.08 } },
        { name: "老客占比", type: "line", yAxisIndex: 1, showSymbol: false, data: [], lineStyle: { width: 2 }, itemStyle: { color: p.returning } },
      ],
    });
    this.sentimentChart = new Chart($('[data-testid="chart-sentiment"]'), {
      grid: { left: 40, right: 16, top: 28, bottom: 26 },
      xAxis: timeAxis(4),
      yAxis: { type: "value", ...axisStyle(), min: 0, max: 1 },
      series: [
        {
          name: "1 分钟",
          type: "line",
          showSymbol: false,
          data: [],
          itemStyle: { color: p.ok },
          lineStyle: { width: 2 },
          markArea: { silent: true, itemStyle: { color: p.danger, opacity: 0.07 }, data: [[{ yAxis: 0 }, { yAxis: 0.35 }]] },
          markLine: { symbol: "none", silent: true, data: [] },
        },
        { name: "5 分钟", type: "line", showSymbol: false, data: [], itemStyle: { color: p.gold }, lineStyle: { width: 1.5, type: "dashed" } },
      ],
    });
    this.intentsChart = new Chart($('[data-testid="chart-intents"]'), barOption(p, p.accent));
    this.keywordsChart = new Chart($('[data-testid="chart-keywords"]'), barOption(p, p.gold));
  }

  /** The session so far (GET …/series): [iso, viewers, share] and [iso, index] rows. */
  history({ viewers_timeline: viewers = [], sentiment_timeline: sentiment = [] }) {
    for (const [iso, count, share] of viewers) {
      const atMs = Date.parse(iso);
      pushPoint(this.series.viewers, atMs, count);
      pushPoint(this.series.returning, atMs, share);
    }
    for (const [iso, index] of sentiment) pushPoint(this.series.sentiment1m, Date.parse(iso), index);
    this.dirty.add("viewers").add("sentiment");
  }

  /** Intents or hot words in the shared card (a hidden chart has no size: resize on show). */
  showBars(name) {
    for (const tab of document.querySelectorAll(".chart-tab")) tab.classList.toggle("is-active", tab.dataset.chart === name);
    for (const panel of document.querySelectorAll("[data-chart-panel]")) panel.classList.toggle("hidden", panel.dataset.chartPanel !== name);
    (name === "keywords" ? this.keywordsChart : this.intentsChart).resize();
  }

  viewers(atMs, viewersNow, returningShare) {
    pushPoint(this.series.viewers, atMs, viewersNow);
    pushPoint(this.series.returning, atMs, returningShare);
    this.dirty.add("viewers");
  }

  sentiment(data, atMs) {
    pushPoint(this.series.sentiment1m, atMs, data.index_1m);
    pushPoint(this.series.sentiment5m, atMs, data.index_5m);
    this.dirty.add("sentiment");
    if (data.intents && typeof data.intents === "object") {
      const labels = data.intent_labels ?? {};
      this.intents = Object.entries(data.intents)
        .filter(([, n]) => isNum(n) && n > 0)
        .map(([id, n]) => [String(labels[id] ?? id), n])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8);
      this.dirty.add("intents");
    }
    if (Array.isArray(data.top_keywords)) {
      this.keywords = data.top_keywords
        .filter((pair) => Array.isArray(pair) && isNum(pair[1]))
        .map(([w, n]) => [String(w), n])
        .slice(0, 10);
      this.dirty.add("keywords");
    }
  }

  /** Redraw what changed; `markers` are the alerts to draw on the sentiment timeline. */
  render(markers, markersChanged) {
    const { p, series } = this;
    if (this.dirty.has("viewers")) {
      this.viewersChart.update({ xAxis: timeWindow(series.viewers, series.returning), series: [{ data: series.viewers }, { data: series.returning }] });
    }
    if (this.dirty.has("sentiment") || markersChanged) {
      const colors = { critical: p.danger, warning: p.warn };
      const marks = markers.map((a) => ({
        xAxis: a.atMs,
        lineStyle: { color: colors[a.severity] ?? p.warn, type: "dashed", width: 1.5 },
        label: { show: false },
      }));
      this.sentimentChart.update({
        xAxis: timeWindow(series.sentiment1m, series.sentiment5m),
        series: [{ data: series.sentiment1m, markLine: { data: marks } }, { data: series.sentiment5m }],
      });
    }
    if (this.dirty.has("intents")) {
      this.intentsChart.update({ yAxis: { data: this.intents.map(([label]) => label) }, series: [{ data: this.intents.map(([, n]) => n) }] });
    }
    if (this.dirty.has("keywords")) {
      this.keywordsChart.update({ yAxis: { data: this.keywords.map(([w]) => w) }, series: [{ data: this.keywords.map(([, n]) => n) }] });
    }
    this.dirty.clear();
  }
}
