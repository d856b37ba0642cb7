// What a page shows when its session is gone: a banner with a way back in.
import { h } from "./dom.js";

export function loginBanner() {
  if (document.querySelector('[data-testid="session-expired"]')) return;
  const next = encodeURIComponent(location.pathname + location.search);
  document.body.append(
    h(
      "div",
      { class: "session-banner", role: "alert", testid: "session-expired" },
      "登录已失效或无权访问此直播间。",
      h("a", { href: `/login?next=${next}`, text: "重新登录" }),
    ),
  );
}
