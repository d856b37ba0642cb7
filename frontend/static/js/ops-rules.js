// The rules tab: which rules version runs in this room, a preview (dry-run on this room's own
// events) and an apply of the server's rules directory. Errors come back with file and line.
import { getJSON, postJSON, roomApi } from "./api.js";
import { $, confirmDialog, fmtMoney, h, replace, toast } from "./dom.js";

function errorList(errors) {
  return h(
    "ol",
    { class: "rules-errors", testid: "rules-errors" },
    ...errors.map((e) => h("li", { class: "num", text: `${e.file}:${e.line}  ${e.message}` })),
  );
}

function previewLines(report) {
  const line = (title, part) => {
    const rules = part.rules.version ? ` ${part.rules.version} “${part.rules.label}”` : "";
    return h("li", {
      text: `${title}${rules}：迎宾 ${part.greeted} 人，发放 ${part.grants} 份（待审 ${part.held}），花费 ${fmtMoney(part.cost_cents)}`,
    });
  };
  const items = [line("候选规则", report.candidate), line("现行规则", report.baseline)];
  if (report.actual) items.push(line("实际发生", report.actual));
  const diff = report.vs_baseline;
  items.push(
    h("li", {
      text: `与现行规则相比：新增迎宾 ${diff.greeted_only_after.length}，少了 ${diff.greeted_only_before.length}；新增发放 ${diff.paid_only_after.length}，少了 ${diff.paid_only_before.length}；金额变化 ${diff.amount_changed.length}`,
    }),
  );
  return h("ul", { class: "rules-preview", testid: "rules-preview" }, ...items);
}

export function setupRules(roomId, channel) {
  const panel = $('[data-panel="rules"]');
  if (!panel) return;
  const current = $('[data-testid="rules-current"]', panel);
  const result = $('[data-testid="rules-result"]', panel);
  const label = $('input[name="label"]', panel);
  const show = (version, text, since) =>
    (current.textContent = `${version} “${text}” · 自第 ${since} 条起`);

  getJSON(`${roomApi(roomId)}/rules`)
    .then((history) => {
      const last = history.at(-1);
      if (last) show(last.version, last.label, last.since_seq);
    })
    .catch((err) => toast(err.message, "error"));
  channel.on("rules", (data) => {
    show(data.version, data.label, data.since_seq);
    toast(`规则已切换：${data.label}`, "ok");
  });

  const run = async (button, action) => {
    button.disabled = true;
    replace(result, h("p", { class: "muted", text: "处理中…" }));
    try {
      await action();
    } catch (err) {
      replace(result, h("p", { text: err.message }), err.errors ? errorList(err.errors) : null);
    } finally {
      button.disabled = false;
    }
  };
  const body = () => (label.value.trim() ? { label: label.value.trim() } : {});

  $('[data-testid="btn-rules-preview"]', panel).addEventListener("click", (event) =>
    run(event.currentTarget, async () => {
      replace(result, previewLines(await postJSON(`${roomApi(roomId)}/rules/dry-run`, body())));
    }),
  );
  $('[data-testid="btn-rules-apply"]', panel).addEventListener("click", (event) =>
    run(event.currentTarget, async () => {
      const check = await postJSON("/api/v1/rules/check", body());
      if (!check.valid) {
        replace(result, h("p", { text: `规则有 ${check.errors.length} 处错误，未应用` }), errorList(check.errors));
        return;
      }
      const ok = await confirmDialog({
        title: "应用规则",
        body: `应用 ${check.version} “${check.label}”？所有直播间在下一批事件时切换。`,
        okText: "应用",
      });
      if (!ok) {
        replace(result);
        return;
      }
      const applied = await postJSON("/api/v1/rules/apply", body());
      replace(result, h("p", { text: `已应用 ${applied.version} “${applied.label}”` }));
    }),
  );
}
