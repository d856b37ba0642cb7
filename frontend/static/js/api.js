// JSON API calls from the panels: same origin, the session cookie authenticates.
// Money-like actions carry an Idempotency-Key made once per confirmed click and reused for
// retries of that click, so a flaky network can never issue a coupon batch twice.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** crypto.randomUUID exists only in secure contexts; ops consoles on a LAN over http are not. */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch {
      // Insecure context: fall through.
    }
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const STATUS_MESSAGES = {
  401: "登录已失效，请重新登录",
  403: "没有权限执行此操作",
  404: "找不到该资源",
  409: "上一次相同的操作仍在处理中",
  413: "请求太大",
  422: "参数有误",
  429: "操作太频繁，请稍后再试",
  503: "服务暂时不可用，请稍后再试",
};

async function errorFrom(response) {
  let message = "";
  let errors = null; // a rules set's errors, each with file and line
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
    if (body && Array.isArray(body.errors)) errors = body.errors;
  } catch {
    // Not JSON: fall back to a status message.
  }
  const error = new ApiError(message || STATUS_MESSAGES[response.status] || `请求失败（${response.status}）`, response.status);
  error.errors = errors;
  return error;
}

export async function getJSON(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch {
    throw new ApiError("网络错误，请检查连接", 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POST JSON with an Idempotency-Key. Retries the same key on network failure and on 409
 * (the first attempt still running), a few times with a growing pause.
 */
export async function postJSON(path, body, { idempotencyKey = newIdempotencyKey(), attempts = 3 } = {}) {
  let lastError = null;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "Idempotency-Key": idempotencyKey,
        },
        body: JSON.stringify(body ?? {}),
      });
    } catch {
      lastError = new ApiError("网络错误，请检查连接", 0);
      await sleep(500 * attempt);
      continue;
    }
    if (response.status === 409 && attempt < attempts) {
      lastError = await errorFrom(response);
      await sleep(700 * attempt);
      continue;
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return {};
    try {
      return await response.json();
    } catch {
      return {};
    }
  }
  throw lastError ?? new ApiError("请求失败", 0);
}

export function roomApi(roomId) {
  return `/api/v1/rooms/${encodeURIComponent(roomId)}`;
}

/** PUT JSON (settings that are safe to repeat: no idempotency key needed). */
export async function putJSON(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("网络错误，请检查连接", 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}
