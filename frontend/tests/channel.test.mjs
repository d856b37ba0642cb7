// Live-channel client logic under node's test runner, with a scripted fake WebSocket.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

class FakeSocket {
  static OPEN = 1;
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.instances.push(this);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close(code) {
    this.readyState = 3;
    this.closedWith = code;
  }

  // Test-side controls.
  open() {
    this.readyState = 1;
    this.onopen?.();
  }

  deliver(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  serverClose(code, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

globalThis.window = { addEventListener() {}, removeEventListener() {} };
globalThis.location = { protocol: "http:", host: "desk.test" };
globalThis.WebSocket = FakeSocket;

const { LiveChannel, backoffDelayMs } = await import("../static/js/channel.js");
const { yuanToCents } = await import("../static/js/ops-controls.js");

const msg = (seq, type = "hint", data = {}) => ({ seq, type, room_id: "r1", ts: new Date().toISOString(), data });
const latest = () => FakeSocket.instances[FakeSocket.instances.length - 1];

function started(options = {}) {
  const channel = new LiveChannel("r1", options);
  const seen = [];
  channel.on("*", (_data, m) => seen.push(m.seq));
  channel.start();
  latest().open();
  return { channel, seen };
}

beforeEach(() => {
  FakeSocket.instances.length = 0;
  mock.timers.enable({ apis: ["setTimeout"] });
});

afterEach(() => {
  mock.timers.reset();
});

test("first open asks for a snapshot, then processes in order and drops repeats", () => {
  const { channel, seen } = started();
  assert.equal(latest().url, "ws://desk.test/ws/rooms/r1");
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: null });
  let snapshot = null;
  channel.on("snapshot", (data) => (snapshot = data));
  latest().deliver({ seq: 10, type: "snapshot", data: { last_seq: 10, hints: [] } });
  assert.deepEqual(snapshot, { last_seq: 10, hints: [] });
  for (const seq of [9, 10, 11, 11, 13, 12, 14]) latest().deliver(msg(seq));
  assert.deepEqual(seen, [11, 13, 14]); // host stream: skips are legal, going back is not
  assert.equal(channel.debug.dropped, 4);
  assert.equal(channel.debug.lastSeq, 14);
});

test("a slow-consumer close reconnects with backoff and resumes from the last seq", () => {
  const { channel, seen } = started();
  latest().deliver({ seq: 5, type: "snapshot", data: { last_seq: 5 } });
  latest().deliver(msg(6));
  latest().deliver(msg(7));
  latest().serverClose(4008, "slow consumer");
  assert.equal(channel.status, "reconnecting");
  assert.equal(FakeSocket.instances.length, 1);
  mock.timers.tick(500); // attempt 1 waits at most 0.5 s
  assert.equal(FakeSocket.instances.length, 2);
  latest().open();
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: 7 });
  assert.equal(channel.status, "connected");
  for (const seq of [6, 7, 8, 9]) latest().deliver(msg(seq)); // server replays a little too much
  assert.deepEqual(seen, [6, 7, 8, 9]);
});

test("frames from an abandoned socket are ignored", () => {
  const { channel, seen } = started();
  const old = latest();
  old.deliver({ seq: 1, type: "snapshot", data: { last_seq: 1 } });
  channel.resync();
  old.deliver(msg(2));
  assert.deepEqual(seen, []);
  latest().open();
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: 1 });
});

test("refused sessions do not retry", () => {
  const { channel } = started();
  let denied = null;
  channel.on("denied", (info) => (denied = info));
  latest().serverClose(4001, "authentication required");
  mock.timers.tick(60_000);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(channel.status, "disconnected");
  assert.equal(denied.code, 4001);
});

test("ping is answered with pong", () => {
  started();
  latest().deliver({ type: "ping" });
  assert.deepEqual(latest().sent.at(-1), { type: "pong" });
});

test("a contiguous (ops) channel holds a gap, fills it in order, or resumes to repair it", () => {
  const { channel, seen } = started({ contiguous: true, gapWaitMs: 1000 });
  latest().deliver({ seq: 20, type: "snapshot", data: { last_seq: 20 } });
  latest().deliver(msg(22));
  latest().deliver(msg(23));
  assert.deepEqual(seen, []);
  latest().deliver(msg(21));
  assert.deepEqual(seen, [21, 22, 23]);

  latest().deliver(msg(25)); // 24 never comes on this socket
  mock.timers.tick(1000);
  assert.equal(FakeSocket.instances.length, 2);
  latest().open();
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: 23 });
  latest().deliver(msg(24));
  latest().deliver(msg(25));
  assert.deepEqual(seen, [21, 22, 23, 24, 25]);
  assert.equal(channel.debug.received.join(","), "21,22,23,24,25");
});

test("reset then snapshot starts over even from an older seq", () => {
  const { channel } = started();
  latest().deliver({ seq: 50, type: "snapshot", data: { last_seq: 50 } });
  latest().deliver({ seq: 40, type: "snapshot", data: { last_seq: 40 } }); // stale: ignored
  assert.equal(channel.lastSeq, 50);
  latest().deliver({ type: "reset" });
  latest().deliver({ seq: 30, type: "snapshot", data: { last_seq: 30 } });
  assert.equal(channel.lastSeq, 30);
});

test("the epoch is resumed with, and a message of another epoch makes the page ask again", () => {
  const { channel, seen } = started({ contiguous: true });
  latest().deliver({ seq: 0, type: "snapshot", epoch: "", data: { last_seq: 0 } });
  latest().deliver({ ...msg(1), epoch: "e1" }); // the room is created after the snapshot
  latest().deliver({ ...msg(2), epoch: "e1" });
  assert.equal(channel.epoch, "e1");
  latest().serverClose(4008, "slow consumer");
  mock.timers.tick(500);
  latest().open();
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: 2, epoch: "e1" });
  // The room was re-created (or the database restored): seq 3 of "e2" is not our seq 3.
  latest().deliver({ ...msg(3), epoch: "e2" });
  assert.deepEqual(seen, [1, 2]);
  assert.equal(FakeSocket.instances.length, 3);
  latest().open();
  assert.deepEqual(latest().sent[0], { type: "resume", after_seq: 2, epoch: "e1" });
  latest().deliver({ type: "reset" });
  latest().deliver({ seq: 3, type: "snapshot", epoch: "e2", data: { last_seq: 3 } });
  latest().deliver({ ...msg(4), epoch: "e2" });
  assert.equal(channel.epoch, "e2");
  assert.deepEqual(seen, [1, 2, 4]);
});

test("backoff is jittered, doubles, and is capped at 10 s", () => {
  assert.equal(backoffDelayMs(1, 500, 10000, () => 0), 250);
  assert.equal(backoffDelayMs(1, 500, 10000, () => 1), 500);
  assert.equal(backoffDelayMs(3, 500, 10000, () => 1), 2000);
  assert.equal(backoffDelayMs(12, 500, 10000, () => 1), 10000);
  assert.equal(backoffDelayMs(12, 500, 10000, () => 0), 5000);
});

test("yuan typed by a person become exact cents", () => {
  assert.equal(yuanToCents("20"), 2000);
  assert.equal(yuanToCents("9.9"), 990);
  assert.equal(yuanToCents(" 0.07 "), 7);
  assert.equal(yuanToCents("1.005"), null);
  assert.equal(yuanToCents("abc"), null);
  assert.equal(yuanToCents("-1"), null);
});
