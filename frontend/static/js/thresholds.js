// Alert thresholds ops may move mid-stream, within the bounds rules/alerts.yaml allows.
import { getJSON, putJSON, roomApi } from "./api.js";
import { $, h, toast } from "./dom.js";

const LABELS = {
  "negative_spike.negative_share_above": ["负面弹幕占比超过", "ratio"],
  "complaint_surge.threshold": ["投诉条数达到（窗口内）", "count"],
  "traffic_drop.drop_ratio": ["在线人数下跌超过", "ratio"],
  "refund_rate.rate_above": ["退款率超过", "ratio"],
  "low_stock.below": ["库存低于（件）", "count"],
};

function describe(knob) {
  const [label, unit] = LABELS[knob.key] ?? [knob.key, "count"];
  return { label, ratio: unit === "ratio" };
}

// Ratios are shown and typed as percentages; the API speaks fractions.
const shown = (value, ratio) => (ratio ? Math.round(value * 1000) / 10 : value);
const sent = (value, ratio) => (ratio ? value / 100 : value);

function render(panel, thresholds) {
  const grid = $(".form-grid", panel);
  grid.replaceChildren(
    ...thresholds.map((knob) => {
      const { label, ratio } = describe(knob);
      const suffix = ratio ? "%" : "";
      return h(
        "label",
        { class: "field wide" },
        `${label}${suffix ? "（%）" : ""}`,
        h("input", {
          name: knob.key,
          type: "number",
          inputmode: "decimal",
          step: ratio ? "0.5" : "1",
          min: shown(knob.min, ratio),
          max: shown(knob.max, ratio),
          value: shown(knob.value, ratio),
          dataset: { ratio: ratio ? "1" : "" },
          testid: `threshold-${knob.key}`,
        }),
        h("small", {
          class: "muted",
          text: `可调范围 ${shown(knob.min, ratio)}–${shown(knob.max, ratio)}${suffix}，规则默认 ${shown(knob.default, ratio)}${suffix}`,
        }),
      );
    }),
  );
}

export function setupThresholds(roomId, channel) {
  const panel = $('[data-panel="thresholds"]');
  if (!panel) return;
  const path = `${roomApi(roomId)}/thresholds`;
  const load = () =>
    getJSON(path)
      .then((data) => render(panel, data.thresholds))
      .catch((err) => toast(err.message, "error"));
  panel.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const input of panel.querySelectorAll("input[name]")) {
      const number = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(number)) {
        toast("请输入数字", "error");
        input.focus();
        return;
      }
      values[input.name] = sent(number, input.dataset.ratio === "1");
    }
    try {
      render(panel, (await putJSON(path, { values })).thresholds);
      toast("告警阈值已更新", "ok");
    } catch (err) {
      toast(err.message, "error", 8000);
    }
  });
  channel.on("thresholds", (data) => render(panel, data.thresholds));
  load();
}
