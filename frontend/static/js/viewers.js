// The viewer count, and how it was counted. A platform whose push sends no enter/leave (Douyin,
// Kuaishou) has its viewers estimated from activity (server: rooms/presence.py), so the panels
// show 在线 ≈N (估算) and say how in a tooltip instead of a confident 0.
import { fmtInt, isNum } from "./dom.js";

export const ESTIMATE_HOW =
  "按互动估算：该平台不推送进场/离场，最近 5 分钟内发过弹幕、点赞、送礼、加购、下单、关注或分享的观众算作在线，5 分钟无互动即算离开";

/** {number, estimated, title} for a count and how many of it are estimates (pure). */
export function viewersFigure(now, estimated) {
  if (!isNum(now)) return { number: "—", estimated: false, title: "" };
  const some = isNum(estimated) && estimated > 0;
  if (!some) return { number: fmtInt(now), estimated: false, title: "按进场/离场事件统计" };
  const part = estimated < now ? `其中 ${fmtInt(estimated)} 人` : "全部";
  return { number: `≈${fmtInt(now)}`, estimated: true, title: `${part}${ESTIMATE_HOW}` };
}

/** 在线 128 / 在线 ≈128 (估算), for one-line places (host, rooms list). */
export function viewersLine(now, estimated) {
  const figure = viewersFigure(now, estimated);
  return { text: `在线 ${figure.number}${figure.estimated ? " (估算)" : ""}`, title: figure.title };
}
