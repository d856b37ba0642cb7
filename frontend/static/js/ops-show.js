// The show on the ops console: 开播 / 下播 with the on-air timer, and the rundown (排品) ops
// edit (add, move, remove) and advance (下一个, key N). The server decides; the panel shows
// what the live channel says (session and rundown messages, both in the snapshot).
import { getJSON, postJSON, putJSON, roomApi } from "./api.js";
import { $, confirmDialog, fmtDateTime, fmtMoney, h, replace, toast } from "./dom.js";
import { OnAirTimer, productLine, rundownFocus } from "./show.js";

export class ShowPanel {
  constructor({ roomId, now }) {
    this.api = roomApi(roomId);
    this.timer = new OnAirTimer($('[data-testid="on-air-timer"]'), now);
    this.sessionBtn = $('[data-testid="btn-session"]');
    this.nextBtn = $('[data-testid="btn-rundown-next"]');
    this.listEl = $('[data-testid="rundown-list"]');
    this.addSelect = $('[data-testid="rundown-add-sku"]');
    this.session = null;
    this.rundown = { items: [], current: null };
    this.catalogue = [];
    this.busy = false;
    this.edits = Promise.resolve(); // rundown edits one at a time, each on the one before
    this.sessionBtn.addEventListener("click", () => this.toggleSession());
    this.nextBtn.addEventListener("click", () => this.next());
    $('[data-testid="btn-rundown-add"]').addEventListener("click", () => this.add());
    for (const tab of document.querySelectorAll(".product-tab")) tab.addEventListener("click", () => this.showView(tab.dataset.productView));
  }

  async load() {
    try {
      const { products } = await getJSON(`${this.api}/products`);
      this.catalogue = products ?? [];
    } catch {
      // Before the room's first event: nothing to list yet.
    }
    replace(
      this.addSelect,
      this.catalogue.map((p) => h("option", { value: p.sku, text: `${p.name} ${fmtMoney(p.price_cents)}` })),
    );
  }

  showView(view) {
    for (const tab of document.querySelectorAll(".product-tab")) tab.classList.toggle("is-active", tab.dataset.productView === view);
    for (const panel of document.querySelectorAll("[data-product-panel]")) panel.classList.toggle("hidden", panel.dataset.productPanel !== view);
  }

  // ---- session ----

  setSession(session) {
    this.session = session ?? null;
    this.timer.set(this.session);
    const live = this.session?.state === "live";
    this.sessionBtn.disabled = false;
    this.sessionBtn.textContent = live ? "下播…" : "开播";
    this.sessionBtn.className = live ? "btn btn-danger" : "btn btn-primary";
    this.sessionBtn.title = live ? `${fmtDateTime(this.session.started_at)} 开播` : "开始本场直播：本场的指标和复盘从现在算起";
  }

  async toggleSession() {
    if (this.busy) return;
    const live = this.session?.state === "live";
    if (live) {
      const ok = await confirmDialog({
        title: "确认下播？",
        body: h("p", { text: "本场到此结束：指标和复盘停在此刻；之后平台推来的事件仍会保存，但不计入本场。" }),
        okText: "下播",
        danger: true,
      });
      if (!ok) return;
    }
    this.busy = true;
    this.sessionBtn.disabled = true;
    try {
      const session = await postJSON(`${this.api}/session/${live ? "end" : "start"}`, {}, { attempts: 1 });
      this.setSession(session);
      toast(live ? "已下播，复盘已覆盖本场" : "已开播，计时开始", "ok");
    } catch (err) {
      toast(err.message, "error", 8000);
    } finally {
      this.busy = false;
      this.sessionBtn.disabled = false;
    }
  }

  render() {
    this.timer.render();
  }

  // ---- rundown ----

  setRundown(rundown) {
    this.rundown = rundown && Array.isArray(rundown.items) ? rundown : { items: [], current: null };
    this.renderRundown();
  }

  renderRundown() {
    const { current, next, position, total } = rundownFocus(this.rundown);
    $('[data-testid="rundown-position"]').textContent = total ? `${position}/${total}` : "";
    $('[data-testid="rundown-current"]').textContent = current ? productLine(current) : total ? "未开始" : "未排品";
    $('[data-testid="rundown-next"]').textContent = next ? productLine(next) : total ? "已是最后一个" : "—";
    $('[data-testid="rundown-count"]').textContent = total ? String(total) : "";
    this.nextBtn.disabled = !next;
    const items = this.rundown.items;
    if (!items.length) {
      replace(this.listEl, h("li", { class: "empty-note", text: "还没有排品：从下面选商品加入，按顺序讲解" }));
      return;
    }
    replace(this.listEl, items.map((item, index) => this.row(item, index, items.length)));
  }

  row(item, index, count) {
    const on = index === this.rundown.current;
    const move = (to) =>
      this.edit((skus) => {
        const [sku] = skus.splice(index, 1);
        skus.splice(to, 0, sku);
        return skus;
      });
    return h(
      "li",
      { class: `rundown-row${on ? " is-current" : ""}`, testid: "rundown-row", dataset: { sku: item.sku, index: String(index) } },
      h("span", { class: "rundown-index num", text: String(index + 1) }),
      h("span", { class: "rundown-name", text: productLine(item) }),
      on
        ? h("span", { class: "badge badge-ok", text: "讲解中" })
        : h("button", { type: "button", class: "btn btn-small", testid: "btn-rundown-goto", text: "讲解", title: "现在讲这个（跳到这里）", onclick: () => this.goTo(index) }),
      h("button", { type: "button", class: "btn btn-small btn-icon", text: "↑", title: "上移", disabled: index === 0, onclick: () => move(index - 1) }),
      h("button", { type: "button", class: "btn btn-small btn-icon", text: "↓", title: "下移", disabled: index === count - 1, onclick: () => move(index + 1) }),
      h("button", { type: "button", class: "btn btn-small btn-icon", testid: "btn-rundown-remove", text: "×", title: "移出排品", onclick: () => this.edit((skus) => skus.filter((_s, i) => i !== index)) }),
    );
  }

  add() {
    const sku = this.addSelect.value;
    if (sku) this.edit((skus) => [...skus, sku]);
  }

  /** Change the list: `change` gets the SKUs as they are once earlier edits are saved. */
  edit(change) {
    this.edits = this.edits.then(async () => {
      try {
        const skus = change(this.rundown.items.map((i) => i.sku));
        this.setRundown(await putJSON(`${this.api}/rundown`, { skus }));
      } catch (err) {
        toast(err.message, "error", 8000);
      }
    });
  }

  async next() {
    if (this.nextBtn.disabled) return;
    this.nextBtn.disabled = true;
    try {
      const rundown = await postJSON(`${this.api}/rundown/next`, {}, { attempts: 1 });
      this.setRundown(rundown);
      const { current } = rundownFocus(rundown);
      if (current) toast(`提词器已切换到「${current.name}」`, "ok");
    } catch (err) {
      toast(err.message, "error", 8000);
      this.renderRundown();
    }
  }

  async goTo(index) {
    try {
      this.setRundown(await postJSON(`${this.api}/rundown/current`, { index }, { attempts: 1 }));
    } catch (err) {
      toast(err.message, "error", 8000);
    }
  }
}
