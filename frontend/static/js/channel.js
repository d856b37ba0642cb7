// The live channel client: one websocket per page, resumed from the last processed seq after
// every reconnect, so a panel never shows a message twice and never processes out of order.
//
// Contract (see docs of WS /ws/rooms/{room_id}):
//   client -> server: {"type":"resume","after_seq":N|null,"epoch":E} right after open,
//                     {"type":"pong"}
//   server -> client: {"seq","type","room_id","epoch","ts","data"}; control frames without
//                     seq: ping, reset (a snapshot follows), error.
// The epoch names the room's incarnation: a seq means something only within its epoch, so a
// message of another epoch (the room re-created, the database restored) makes the page ask
// again, and the server answers the old epoch with reset + snapshot.

const STATUS_TEXT = {
  connecting: "连接中…",
  connected: "已连接",
  reconnecting: "重连中…",
  disconnected: "已断开",
};

// Close codes after which retrying cannot help: the session is gone or access was refused.
const TERMINAL_CLOSE_CODES = new Set([1008, 4001, 4003]);
// After this many failed attempts in a row the indicator says 已断开 (retries still go on).
const ATTEMPTS_BEFORE_DISCONNECTED = 6;
const RECEIVED_KEEP = 20000;
const HELD_MAX = 2000;
const CLOCK_WINDOW_MS = 10 * 60 * 1000;

export function channelUrl(roomId) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/rooms/${encodeURIComponent(roomId)}`;
}

/** Full-jitter-ish backoff: half fixed, half random, doubling from min to the cap. */
export function backoffDelayMs(attempt, minMs = 500, maxMs = 10000, random = Math.random) {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

export class LiveChannel {
  /**
   * @param {string} roomId
   * @param {{url?: string, contiguous?: boolean, idleTimeoutMs?: number, gapWaitMs?: number}} options
   *   contiguous: the page receives every message of the room (ops), so a seq gap means
   *   something was lost and the channel resumes to fetch it again. Hosts see a filtered
   *   stream whose seqs legitimately skip.
   */
  constructor(roomId, options = {}) {
    this.roomId = roomId;
    this.url = options.url ?? channelUrl(roomId);
    this.contiguous = options.contiguous ?? false;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 45000;
    this.gapWaitMs = options.gapWaitMs ?? 1500;
    this.lastSeq = null;
    this.epoch = null;
    this.status = "connecting";
    this.attempt = 0;
    this.stopped = true;
    this.ws = null;
    this.retryTimer = 0;
    this.idleTimer = 0;
    this.gapTimer = 0;
    this.held = new Map();
    this.awaitingSnapshot = false;
    this.listeners = new Map();
    this.clockSamples = [];
    this.debug = {
      lastSeq: null,
      received: [],
      dropped: 0,
      snapshots: [],
      connects: 0,
      status: this.status,
      errors: [],
      clockOffsetMs: 0,
    };
    // Hidden from enumeration so tests can serialise window.__livedesk without the socket.
    Object.defineProperties(this.debug, {
      channel: { value: this, enumerable: false },
      dispatch: { value: (msg) => this.handle(msg), enumerable: false },
    });
    this._onOnline = () => {
      if (!this.stopped && !this.ws) this.connectNow();
    };
  }

  /** Subscribe to one message type ("*" for every sequenced message). Returns an unsubscribe. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, data, msg) {
    for (const fn of this.listeners.get(type) ?? []) {
      try {
        fn(data, msg);
      } catch (err) {
        // One broken renderer must not stop the others or the channel.
        console.error(`livedesk: handler for ${type} failed`, err);
      }
    }
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this._onOnline);
    this.connectNow();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._onOnline);
    clearTimeout(this.retryTimer);
    this.dropSocket(1000, "page closed");
    this.setStatus("disconnected");
  }

  /** Close the socket and reconnect at once, resuming from lastSeq (tests and gap repair). */
  resync() {
    this.dropSocket(4000, "resync");
    if (!this.stopped) this.connectNow();
  }

  /** Server time minus client time, estimated from message timestamps (for countdowns). */
  get clockOffsetMs() {
    return this.debug.clockOffsetMs;
  }

  now() {
    return Date.now() + this.clockOffsetMs;
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.debug.errors.push(String(err));
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.debug.connects += 1;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = { type: "resume", after_seq: this.lastSeq };
      if (this.epoch) resume.epoch = this.epoch; // the incarnation lastSeq belongs to
      this.send(resume);
      this.setStatus("connected");
      this.touch();
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return; // a late frame from a socket we already gave up on
      this.attempt = 0;
      this.touch();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        this.debug.errors.push("unparsable frame");
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(event.code, event.reason);
    };
    ws.onerror = () => {
      // A close event always follows; reconnecting is decided there.
    };
  }

  dropSocket(code, reason) {
    const ws = this.ws;
    this.ws = null;
    clearTimeout(this.idleTimer);
    clearTimeout(this.gapTimer);
    this.gapTimer = 0;
    this.held.clear(); // the server resends everything after lastSeq on the next resume
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }

  closed(code, reason) {
    clearTimeout(this.idleTimer);
    clearTimeout(this.gapTimer);
    this.gapTimer = 0;
    this.emit("close", { code, reason });
    if (this.stopped) {
      this.setStatus("disconnected");
      return;
    }
    if (TERMINAL_CLOSE_CODES.has(code)) {
      this.setStatus("disconnected");
      this.emit("denied", { code, reason });
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.attempt += 1;
    const delayMs = backoffDelayMs(this.attempt);
    this.setStatus(this.attempt >= ATTEMPTS_BEFORE_DISCONNECTED ? "disconnected" : "reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connectNow(), delayMs);
  }

  touch() {
    clearTimeout(this.idleTimer);
    // The server pings every ~15 s; silence for much longer means a dead connection that
    // TCP has not noticed yet (a sleeping laptop, a dropped Wi-Fi).
    this.idleTimer = setTimeout(() => {
      this.dropSocket(4000, "idle");
      if (!this.stopped) this.scheduleReconnect();
    }, this.idleTimeoutMs);
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.debug.status = status;
    this.emit("status", { status, text: STATUS_TEXT[status] ?? status });
  }

  /** Entry point for every decoded frame (also used by tests through __livedesk.dispatch). */
  handle(msg) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "ping":
        this.send({ type: "pong" });
        return;
      case "reset":
        this.awaitingSnapshot = true;
        this.held.clear();
        this.emit("reset", msg.data ?? {}, msg);
        return;
      case "error":
        this.debug.errors.push(msg.data?.reason ?? "error");
        this.emit("error", msg.data ?? {}, msg);
        return;
      case "snapshot":
        this.applySnapshot(msg);
        return;
      default:
        break;
    }
    if (typeof msg.seq !== "number" || !Number.isFinite(msg.seq)) {
      this.emit(msg.type, msg.data ?? {}, msg); // an unsequenced control frame we do not know
      return;
    }
    this.accept(msg);
  }

  applySnapshot(msg) {
    const data = msg.data ?? {};
    const snapSeq = numberOrNull(data.last_seq) ?? numberOrNull(msg.seq);
    if (!this.awaitingSnapshot && this.lastSeq !== null && snapSeq !== null && snapSeq < this.lastSeq) {
      // Older than what the page already shows: applying it would roll the panel back.
      this.debug.dropped += 1;
      return;
    }
    this.awaitingSnapshot = false;
    if (snapSeq !== null) this.lastSeq = snapSeq;
    if (typeof msg.epoch === "string") this.epoch = msg.epoch;
    this.debug.lastSeq = this.lastSeq;
    this.debug.snapshots.push(snapSeq);
    this.sampleClock(msg.ts);
    this.emit("snapshot", data, msg);
    this.drainHeld();
  }

  accept(msg) {
    if (typeof msg.epoch === "string" && msg.epoch !== this.epoch) {
      if (this.epoch) {
        // Another incarnation of the room: our seqs mean nothing there. The server answers a
        // resume with our old epoch by a reset and a snapshot.
        this.resync();
        return;
      }
      this.epoch = msg.epoch; // the room did not exist when our snapshot was taken
    }
    if (this.lastSeq !== null && msg.seq <= this.lastSeq) {
      this.debug.dropped += 1; // already processed before a reconnect: never show it twice
      return;
    }
    if (this.contiguous && this.lastSeq !== null && msg.seq > this.lastSeq + 1) {
      this.held.set(msg.seq, msg);
      if (this.held.size > HELD_MAX) {
        this.held.clear();
        this.resync();
        return;
      }
      if (!this.gapTimer) {
        // Wait briefly for the missing seq; if it does not come, ask the server again.
        this.gapTimer = setTimeout(() => {
          this.gapTimer = 0;
          if (this.held.size) this.resync();
        }, this.gapWaitMs);
      }
      return;
    }
    this.process(msg);
    this.drainHeld();
  }

  drainHeld() {
    if (!this.held.size) return;
    for (const seq of [...this.held.keys()]) {
      if (this.lastSeq !== null && seq <= this.lastSeq) this.held.delete(seq);
    }
    while (this.lastSeq !== null && this.held.has(this.lastSeq + 1)) {
      const next = this.held.get(this.lastSeq + 1);
      this.held.delete(this.lastSeq + 1);
      this.process(next);
    }
    if (!this.held.size) {
      clearTimeout(this.gapTimer);
      this.gapTimer = 0;
    }
  }

  process(msg) {
    this.lastSeq = msg.seq;
    this.debug.lastSeq = msg.seq;
    const received = this.debug.received;
    received.push(msg.seq);
    if (received.length > RECEIVED_KEEP) received.splice(0, received.length - RECEIVED_KEEP);
    this.sampleClock(msg.ts);
    this.emit(msg.type, msg.data ?? {}, msg);
    this.emit("*", msg.data ?? {}, msg);
  }

  sampleClock(ts) {
    const serverMs = Date.parse(ts ?? "");
    if (!Number.isFinite(serverMs)) return;
    // Delivery delay (and history replayed after a resume) only makes a sample too small, so
    // the largest sample of the last minutes is the best estimate of the true offset.
    const nowMs = Date.now();
    this.clockSamples.push([nowMs, serverMs - nowMs]);
    while (this.clockSamples.length && this.clockSamples[0][0] < nowMs - CLOCK_WINDOW_MS) {
      this.clockSamples.shift();
    }
    if (this.clockSamples.length > 200) this.clockSamples.shift();
    this.debug.clockOffsetMs = Math.max(...this.clockSamples.map(([, offset]) => offset));
  }
}

function numberOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Show the channel state in an element carrying data-testid="conn-status". */
export function bindStatus(channel, element) {
  const render = ({ status, text }) => {
    element.dataset.state = status;
    element.textContent = text;
  };
  render({ status: channel.status, text: STATUS_TEXT[channel.status] });
  channel.on("status", render);
}

/** Create the page's channel and publish the debug hooks browser tests read. */
export function openChannel(roomId, options = {}) {
  const channel = new LiveChannel(roomId, options);
  window.__livedesk = channel.debug;
  return channel;
}
