// Load generator for bench/fleet.ts, run in its own process so it does not share an event loop
// with the API it measures. Args: JSON {url, method, body?, concurrency, durationMs}.
// Prints one JSON line: {requests, errors, statuses, durationMs, latencyMs: {p50, p99}}.
const { url, method, body, concurrency, durationMs } = JSON.parse(process.argv[2]);
const lat = [];
const statuses = {};
let errors = 0;
const end = performance.now() + durationMs;
async function worker() {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    } catch {
      errors++;
    }
    lat.push(performance.now() - t0);
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const took = performance.now() - t0;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
console.log(JSON.stringify({ requests: lat.length, errors, statuses, durationMs: took, latencyMs: { p50: q(0.5), p99: q(0.99) } }));
