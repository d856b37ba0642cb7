// Thin wrapper over Apache ECharts (vendored from npm into /static/vendor/echarts.min.js).
// Tooltips render as rich text on the canvas, never as HTML: chart labels such as hot words
// come from danmaku and are attacker-controlled.
import { fmtClock, fmtTime, h } from "./dom.js";

function cssVar(name, fallback) {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

export function palette() {
  return {
    text: cssVar("--text", "#e8ecf1"),
    dim: cssVar("--text-dim", "#9aa4b2"),
    faint: cssVar("--text-faint", "#6b7482"),
    border: cssVar("--border", "#2a313c"),
    accent: cssVar("--accent", "#4fa3ff"),
    ok: cssVar("--ok", "#3fb68b"),
    warn: cssVar("--warn", "#e6a23c"),
    danger: cssVar("--danger", "#f06a6a"),
    returning: cssVar("--returning", "#5cc8d7"),
    gold: cssVar("--gold", "#f2c95c"),
    surface: cssVar("--surface-2", "#1d232c"),
  };
}

export function baseOption() {
  const p = palette();
  return {
    backgroundColor: "transparent",
    animation: false,
    textStyle: { color: p.dim, fontFamily: getComputedStyle(document.body).fontFamily },
    grid: { left: 44, right: 44, top: 28, bottom: 26 },
    tooltip: {
      trigger: "axis",
      renderMode: "richText",
      backgroundColor: p.surface,
      borderColor: p.border,
      textStyle: { color: p.text },
    },
    legend: { top: 0, right: 0, textStyle: { color: p.dim }, itemWidth: 14, itemHeight: 8 },
  };
}

export function axisStyle() {
  const p = palette();
  return {
    axisLine: { lineStyle: { color: p.border } },
    axisTick: { show: false },
    axisLabel: { color: p.dim },
    splitLine: { lineStyle: { color: p.border, opacity: 0.6 } },
  };
}

/** Time-axis labels in Beijing time (ECharts would use the browser's zone): 13:05, 13:05:20. */
export function timeLabel(value) {
  return value % 60_000 === 0 ? fmtClock(value) : fmtTime(value);
}

/** A time x-axis in Beijing time: its labels and the tooltip's header (the pointer's label). */
export function timeAxis(splitNumber) {
  return {
    type: "time",
    ...axisStyle(),
    splitLine: { show: false },
    splitNumber,
    axisLabel: { color: palette().dim, hideOverlap: true, formatter: timeLabel },
    axisPointer: { label: { formatter: ({ value }) => fmtTime(value) } },
  };
}

export class Chart {
  /** @param {HTMLElement} el */
  constructor(el, option, { renderer = "canvas" } = {}) {
    this.el = el;
    this.chart = null;
    if (!window.echarts) {
      el.replaceChildren(h("div", { class: "chart-empty", testid: "chart-missing", text: "图表库未加载（请先运行 make frontend）" }));
      return;
    }
    this.chart = window.echarts.init(el, null, { renderer, locale: "ZH" });
    this.chart.setOption({ ...baseOption(), ...option });
    if (window.ResizeObserver) new ResizeObserver(() => this.chart.resize()).observe(el);
  }

  update(option, replaceMerge) {
    if (!this.chart) return;
    this.chart.setOption(option, replaceMerge ? { replaceMerge } : undefined);
  }

  resize() {
    this.chart?.resize();
  }
}
