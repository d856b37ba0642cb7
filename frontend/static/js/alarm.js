// What makes a critical alert impossible to miss on the ops console: a two-tone chime and a
// desktop notification, unless this browser muted them. Browsers only allow sound (and ask for
// notification permission) after the person has interacted with the page, so the first click
// or key press anywhere unlocks both; the mute button says when that has not happened yet.
import { stored } from "./dom.js";

const TONES_HZ = [880, 660, 880, 660];
const TONE_S = 0.16;
const GAP_S = 0.06;
const VOLUME = 0.25;

export class Alarm {
  /** @param {HTMLButtonElement} button the mute toggle (data-muted, data-audio) */
  constructor(button, storageKey) {
    this.button = button;
    this.storageKey = storageKey;
    this.muted = Boolean(stored.get(storageKey, false));
    this.audio = null;
    this.unlockedNow = false;
    this.log = { sounds: 0, notifications: 0, rung: [] }; // read by browser tests
    const unlock = () => this.unlock();
    document.addEventListener("pointerdown", unlock, { capture: true });
    document.addEventListener("keydown", unlock, { capture: true });
    button.addEventListener("click", () => {
      // The click that unlocked sound is not also a request to mute it.
      if (!this.unlockedNow) this.setMuted(!this.muted);
      this.unlockedNow = false;
    });
    this.render();
  }

  get locked() {
    return !this.audio || this.audio.state !== "running";
  }

  unlock() {
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    const wasLocked = this.locked;
    if (!this.audio) this.audio = new AudioCtx();
    if (this.audio.state === "suspended") this.audio.resume().then(() => this.render(), () => {});
    if (window.Notification?.permission === "default") window.Notification.requestPermission().catch(() => {});
    this.unlockedNow = wasLocked;
    setTimeout(() => (this.unlockedNow = false), 0);
    this.render();
  }

  setMuted(muted) {
    this.muted = muted;
    stored.set(this.storageKey, muted);
    this.render();
  }

  render() {
    const b = this.button;
    b.dataset.muted = String(this.muted);
    b.dataset.audio = this.locked ? "locked" : "ready";
    // Labels of one width: the first tap unlocks sound, and a top bar that reflowed under
    // the finger would turn that tap into a click on something else.
    b.textContent = this.muted ? "提示音：静音" : this.locked ? "提示音：待启用" : "提示音：开";
    b.title = this.muted
      ? "严重告警不响铃、不弹通知（M 键切换）"
      : this.locked
        ? "浏览器要求先点一下页面，严重告警才能响铃"
        : "严重告警会响铃并弹出桌面通知（M 键静音）";
    b.setAttribute("aria-pressed", String(this.muted));
  }

  /** Sound and notify one critical alert (once per id). */
  ring({ id, title, body }) {
    if (this.muted || this.log.rung.includes(id)) return;
    this.log.rung.push(id);
    if (this.log.rung.length > 200) this.log.rung.shift();
    this.chime();
    this.notify(id, title, body);
  }

  chime() {
    const ctx = this.audio;
    if (!ctx) return;
    let at = ctx.currentTime + 0.02;
    for (const hz of TONES_HZ) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(VOLUME, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + TONE_S);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + TONE_S);
      at += TONE_S + GAP_S;
    }
    this.log.sounds += 1;
  }

  notify(id, title, body) {
    if (window.Notification?.permission !== "granted") return;
    try {
      const note = new window.Notification(title, { body: body ?? "", tag: id, requireInteraction: true });
      note.onclick = () => {
        window.focus();
        note.close();
      };
      this.log.notifications += 1;
    } catch {
      // Some browsers only notify from a service worker: the banner on the page remains.
    }
  }
}
