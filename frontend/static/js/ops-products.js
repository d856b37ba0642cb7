// The products card: which products viewers ask about most (last 15 minutes, the interest
// ranking), what each sold and how much stock is left, and the button that puts one on the
// host's product card. The catalogue comes from the API once; the figures from live frames.
import { getJSON, postJSON, roomApi } from "./api.js";
import { fmtInt, fmtMoneyShort, h, isNum, replace, toast } from "./dom.js";

const LOW_STOCK = 10;

/** Most asked first, then catalogue order (pure). A SKU that sold or has stock but is not in
 * the catalogue (a shop's own SKU) still gets its row, named by its SKU, after the catalogue. */
export function rankProducts(catalogue, interest, figures = {}) {
  const mentions = new Map(interest);
  const known = new Set(catalogue.map((p) => p.sku));
  const extra = Object.keys(figures)
    .filter((sku) => !known.has(sku))
    .sort()
    .map((sku) => ({ sku, name: sku, outside: true }));
  return [...catalogue, ...extra]
    .map((p, index) => ({ ...p, index, mentions: mentions.get(p.sku) ?? 0 }))
    .sort((a, b) => b.mentions - a.mentions || a.index - b.index);
}

export class ProductBoard {
  constructor(roomId, listEl) {
    this.api = roomApi(roomId);
    this.listEl = listEl;
    this.catalogue = [];
    this.figures = {};
    this.interest = [];
    this.current = null;
    this.renderedKey = "";
  }

  async load() {
    try {
      const { products, current_sku: current } = await getJSON(`${this.api}/products`);
      this.catalogue = products ?? [];
      this.current = this.current ?? current ?? null;
    } catch {
      // Before the room's first event: the live frames fill in what they can.
    }
    this.render();
  }

  setFigures(products) {
    if (products && typeof products === "object") this.figures = products;
  }

  setInterest(interest) {
    if (Array.isArray(interest)) this.interest = interest.filter((pair) => Array.isArray(pair) && isNum(pair[1]));
  }

  setCurrent(product) {
    this.current = product?.sku ?? null;
  }

  async present(sku, button) {
    button.disabled = true;
    try {
      const product = await postJSON(`${this.api}/product`, { sku }, { attempts: 2 });
      this.setCurrent(product);
      toast(`主播提词器已切换到「${product.name}」`, "ok");
      this.render();
    } catch (err) {
      toast(err.message, "error", 8000);
    } finally {
      button.disabled = false;
    }
  }

  render() {
    const ranked = rankProducts(this.catalogue, this.interest, this.figures);
    const key = JSON.stringify([ranked.map((p) => [p.sku, p.mentions]), this.figures, this.current]);
    if (key === this.renderedKey) return;
    this.renderedKey = key;
    if (!ranked.length) {
      replace(this.listEl, h("li", { class: "empty-note", text: "商品目录为空（rules/products.yaml）" }));
      return;
    }
    const most = Math.max(1, ...ranked.map((p) => p.mentions));
    replace(this.listEl, ranked.map((p, i) => this.row(p, i, most)));
  }

  row(p, rank, most) {
    const f = this.figures[p.sku] ?? {};
    const stock = isNum(f.stock) ? f.stock : null;
    const onCard = p.sku === this.current;
    const meter = h("span", { class: "meter" }, h("span"));
    meter.firstChild.style.width = `${((p.mentions / most) * 100).toFixed(0)}%`;
    const stockText = stock === null ? "库存 —" : stock <= 0 ? "已售罄" : `库存 ${fmtInt(stock)}`;
    return h(
      "li",
      { class: `product-row${onCard ? " is-current" : ""}`, testid: "product-row", dataset: { sku: p.sku, mentions: String(p.mentions) } },
      h("span", { class: "rank num", text: p.mentions ? String(rank + 1) : "·" }),
      h(
        "span",
        { class: "product-main" },
        h("span", { class: "name", text: p.name }),
        h("span", { class: "interest num", testid: "product-interest" }, meter, `问 ${fmtInt(p.mentions)}`),
      ),
      h(
        "span",
        { class: "product-figures num" },
        h("span", { testid: "product-sold", text: `售 ${fmtInt(f.sold ?? 0)} · ${fmtMoneyShort(f.sales_cents ?? 0)}` }),
        h("span", { class: stock !== null && stock <= LOW_STOCK ? "low" : "", testid: "product-stock", text: stockText }),
      ),
      p.outside
        ? h("span", { class: "muted", title: "不在商品目录（rules/products.yaml）里，不能放上提词器", text: "目录外" })
        : onCard
        ? h("span", { class: "badge badge-ok", testid: "product-current", text: "讲解中" })
        : h("button", { type: "button", class: "btn btn-small", testid: "btn-present-product", text: "讲解", title: "放到主播提词器的商品卡上", onclick: (e) => this.present(p.sku, e.currentTarget) }),
    );
  }
}
