// Open-loop load generator for bench/chaos.ts, run in its own process so it shares no event loop
// with the API it measures: fires `rate` POSTs per second for `durationMs` whatever the answers
// (a closed loop would slow down with the server and hide its tail). Args: JSON
// {url, bodies: [..] (cycled), rate, durationMs}. Prints one JSON line:
// {sent, statuses, errors, durationMs, latencyMs: {p50, p99, max}, warmLatencyMs (sent after the first 5 s), p99BySecond, acceptedIds}.
const { url, bodies, rate, durationMs } = JSON.parse(process.argv[2]);
const lat = [];
const statuses = {};
const acceptedIds = [];
let errors = 0;
let sent = 0;
const t0 = performance.now();
const inflight = new Set();
/** Requests sent in the first seconds meet a cold server (JIT, hundreds of new sockets): reported apart. */
const WARM_SECONDS = 5;
/** Latencies by the second the request was sent in: a warm-up tail shows as a bad first second. */
const bySecond = Array.from({ length: Math.ceil(durationMs / 1000) }, () => []);

async function one(body) {
  const start = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status === 202) acceptedIds.push(JSON.parse(text).id);
  } catch {
    errors++;
  }
  lat.push(performance.now() - start);
  bySecond[Math.floor((start - t0) / 1000)]?.push(performance.now() - start);
}

// Tick every 10 ms and send as many as the schedule owes (timers drift; the schedule does not).
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - t0;
    const due = Math.min(Math.floor((elapsed / 1000) * rate), Math.floor((durationMs / 1000) * rate));
    while (sent < due) {
      const p = one(bodies[sent % bodies.length]);
      sent++;
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    if (elapsed >= durationMs) {
      clearInterval(timer);
      resolve();
    }
  }, 10);
});
await Promise.all([...inflight]);
const took = performance.now() - t0;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
const warm = bySecond.slice(WARM_SECONDS).flat().sort((a, b) => a - b);
const qw = (p) => warm[Math.min(warm.length - 1, Math.floor(p * warm.length))] ?? NaN;
const p99BySecond = bySecond.map((l) => {
  l.sort((a, b) => a - b);
  return l[Math.min(l.length - 1, Math.floor(0.99 * l.length))] ?? NaN;
});
console.log(JSON.stringify({ sent, statuses, errors, durationMs: took, latencyMs: { p50: q(0.5), p99: q(0.99), max: lat.at(-1) ?? NaN }, warmLatencyMs: { p50: qw(0.5), p99: qw(0.99), max: warm.at(-1) ?? NaN }, p99BySecond, acceptedIds }));
