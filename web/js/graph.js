/**
 * Live throughput from `statistics` events, drawn on a <canvas> (no library).
 *
 * Rates: for every IKE SA present in two consecutive samples, Δbytes / Δtime (counters only
 * grow; a new SA starts at 0, so an SA seen for the first time contributes nothing yet).
 */
import { formatRate } from "./dom.js";

/** Samples kept (at the 1 s interval the GUI asks for: two minutes). */
const MAX_SAMPLES = 120;
/** The time axis: from half a minute (a fresh graph) to two minutes. */
const MIN_SPAN_MS = 30_000;
const MAX_SPAN_MS = 120_000;

/**
 * @typedef {{ time: number, rx: number, tx: number }} RateSample
 * @typedef {{ rx: number, tx: number }} Counters
 */

export class ThroughputTracker {
  /** @type {RateSample[]} */
  samples = [];
  /** @type {Map<string, number>} per IKE SA: bytes/s, rx + tx */
  perSa = new Map();
  /** @type {{ time: number, counters: Map<string, Counters> } | null} */
  #previous = null;

  /**
   * Adds one statistics sample: per `ike_sa`, its rx/tx byte totals.
   *
   * @param {number} time milliseconds (the event's `time`)
   * @param {Map<string, Counters>} counters
   * @returns {RateSample | null} the new rate sample (null for the first sample)
   */
  add(time, counters) {
    const previous = this.#previous;
    this.#previous = { time, counters };
    if (previous === null || time <= previous.time) return null;
    const seconds = (time - previous.time) / 1000;
    let rx = 0;
    let tx = 0;
    this.perSa.clear();
    for (const [sa, now] of counters) {
      const before = previous.counters.get(sa);
      if (before === undefined || now.rx < before.rx || now.tx < before.tx) continue;
      const saRx = (now.rx - before.rx) / seconds;
      const saTx = (now.tx - before.tx) / seconds;
      this.perSa.set(sa, saRx + saTx);
      rx += saRx;
      tx += saTx;
    }
    const sample = { time, rx, tx };
    this.samples.push(sample);
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    return sample;
  }
}

/** Draws a {@link ThroughputTracker}'s samples; redraws on resize. */
export class ThroughputGraph {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {ThroughputTracker} tracker
   */
  constructor(canvas, tracker) {
    this.canvas = canvas;
    this.tracker = tracker;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  draw() {
    const { canvas } = this;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = globalThis.devicePixelRatio || 1;
    if (
      canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)
    ) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const context = canvas.getContext("2d");
    if (context === null) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);

    const style = getComputedStyle(canvas);
    const color = (/** @type {string} */ name) => style.getPropertyValue(name).trim();
    const samples = this.tracker.samples;
    const peak = Math.max(0, ...samples.map((s) => Math.max(s.rx, s.tx)));
    const top = niceCeiling(peak);

    // Axes: four horizontal grid lines labelled with their rate.
    context.font = `12px ${color("--mono") || "monospace"}`;
    const labels = [0, 1, 2, 3, 4].map((i) => formatAxisRate((top * (4 - i)) / 4));
    const left = Math.ceil(Math.max(...labels.map((l) => context.measureText(l).width))) + 12;
    const right = 8;
    const plotTop = 8;
    const bottom = height - 22;
    // The time axis grows with the data up to two minutes, so a fresh graph is not a sliver.
    const span = samples.length < 2 ? MIN_SPAN_MS : Math.min(
      MAX_SPAN_MS,
      Math.max(MIN_SPAN_MS, samples[samples.length - 1].time - samples[0].time),
    );
    context.fillStyle = color("--muted");
    context.strokeStyle = color("--line");
    context.lineWidth = 1;
    context.textBaseline = "middle";
    context.textAlign = "right";
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(plotTop + ((bottom - plotTop) * i) / 4) + 0.5;
      context.beginPath();
      context.moveTo(left, y);
      context.lineTo(width - right, y);
      context.stroke();
      context.fillText(labels[i], left - 6, y);
    }
    context.textAlign = "left";
    context.textBaseline = "alphabetic";
    context.fillText(
      span >= 120_000 ? "−2 min" : `−${Math.round(span / 1000)} s`,
      left,
      height - 4,
    );
    context.textAlign = "right";
    context.fillText("now", width - right, height - 4);

    if (samples.length < 2) {
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillText(
        samples.length === 0 ? "waiting for statistics…" : "measuring…",
        (left + width - right) / 2,
        (plotTop + bottom) / 2,
      );
      this.canvas.setAttribute("aria-label", "Throughput graph: no data yet");
      return;
    }

    const newest = samples[samples.length - 1];
    const x = (/** @type {number} */ t) =>
      left + ((width - right - left) * (span - (newest.time - t))) / span;
    const y = (/** @type {number} */ v) => bottom - ((bottom - plotTop) * v) / top;
    for (const [key, name] of /** @type {const} */ ([["rx", "--rx"], ["tx", "--tx"]])) {
      const visible = samples.filter((s) => newest.time - s.time <= span);
      context.beginPath();
      visible.forEach((s, i) => {
        if (i === 0) context.moveTo(x(s.time), y(s[key]));
        else context.lineTo(x(s.time), y(s[key]));
      });
      context.strokeStyle = color(name);
      context.lineWidth = 2;
      context.lineJoin = "round";
      // Outbound dashed: both stay visible where they coincide (and not by colour alone).
      context.setLineDash(key === "tx" ? [6, 4] : []);
      context.stroke();
      context.setLineDash([]);
      // A light fill under the line.
      context.lineTo(x(newest.time), bottom);
      context.lineTo(x(visible[0].time), bottom);
      context.closePath();
      context.globalAlpha = 0.12;
      context.fillStyle = color(name);
      context.fill();
      context.globalAlpha = 1;
    }
    this.canvas.setAttribute(
      "aria-label",
      `Throughput graph: now ${formatRate(newest.rx)} inbound, ${
        formatRate(newest.tx)
      } outbound; ` +
        `peak ${formatRate(peak)} in the last two minutes`,
    );
  }
}

/**
 * Axis labels: whole numbers where possible (`500 kbit/s`, `1.5 Mbit/s`).
 *
 * @param {number} bytesPerSecond
 */
function formatAxisRate(bytesPerSecond) {
  const bits = bytesPerSecond * 8;
  const [value, unit] = bits >= 1e9
    ? [bits / 1e9, "Gbit/s"]
    : bits >= 1e6
    ? [bits / 1e6, "Mbit/s"]
    : bits >= 1e3
    ? [bits / 1e3, "kbit/s"]
    : [bits, "bit/s"];
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
}

/**
 * The next "nice" axis maximum above `value` (1, 2, 5 × 10^n bits/s, as bytes/s), at least
 * 1 kbit/s.
 *
 * @param {number} value bytes/s
 */
function niceCeiling(value) {
  const bits = Math.max(value * 8 * 1.1, 1000);
  const magnitude = 10 ** Math.floor(Math.log10(bits));
  const step = [1, 2, 5, 10].find((f) => f * magnitude >= bits) ?? 10;
  return (step * magnitude) / 8;
}
