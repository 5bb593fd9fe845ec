/**
 * Chaos proof (issue #9 §5): under a steady submission load through the API, `--trials` faults of
 * each kind, visited round-robin:
 *   - stage:  `kill -9` of a random stage process of the GPU host;
 *   - host:   `kill -9` of the GPU host (coordinator + supervisor), restarted at once by this
 *             script as a supervisor (systemd `Restart=always`) would;
 *   - redis:  a Redis restart with AOF on (SIGTERM, or SIGKILL with `--redis-kill kill`),
 *             configured like infra/redis/redis.conf (`appendfsync everysec`).
 * Every component is its own process: a private redis-server on a loopback port, the API
 * (apps/api/dist/main.js) and the GPU host (apps/gpu-host/dist/main.js). Counts accepted,
 * succeeded, failed (by error code), lost (accepted, never terminal after the drain) and
 * duplicated (succeeded twice, or a stored output whose bytes differ from the record's sha256),
 * and the p50/p99 time from a fault to the next progress (or terminal) event of a job that was
 * running when it struck. Then a 60-second open-loop run of 500 submissions/s against the API on
 * its own process (the GPU host generating on the same cores): submit p50/p99.
 *
 *   npm run build && npx tsx bench/chaos.ts [--trials 100] [--rate 1.5] [--steps 60] [--burst-rate 500] [--burst-seconds 60] [--host-nice 10] [--keep]
 *
 * Writes the "chaos" section of bench/RESULTS.md (+ bench/out/chaos.json). Loopback only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { createJobClient, type JobEvent } from '@asyncdiff/queue';

import { machineLine } from '../apps/cli/src/bench/machine.js';
import { replaceSection } from '../apps/cli/src/bench/sections.js';
import { quantile } from '../apps/cli/src/bench/stats.js';
import { freePort } from '../test/support/fleet.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '100' },
    rate: { type: 'string', default: '1.5' },
    steps: { type: 'string', default: '60' },
    'burst-rate': { type: 'string', default: '500' },
    'burst-seconds': { type: 'string', default: '60' },
    'redis-kill': { type: 'string', default: 'term' },
    'drain-seconds': { type: 'string', default: '600' },
    'host-nice': { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
    results: { type: 'string', default: 'bench/RESULTS.md' },
  },
});
const TRIALS = Number(values.trials);
const RATE = Number(values.rate);
const STEPS = Number(values.steps);
const BURST_RATE = Number(values['burst-rate']);
const BURST_MS = Number(values['burst-seconds']) * 1000;
const REDIS_SIGNAL: NodeJS.Signals = values['redis-kill'] === 'kill' ? 'SIGKILL' : 'SIGTERM';
const DRAIN_MS = Number(values['drain-seconds']) * 1000;
/** Scheduling priority of the GPU host and its stages (`nice -n`): on a box shared with the API, as here, an operator would lower it. */
const HOST_NICE = Number(values['host-nice']);

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'asyncdiff-chaos-'));
const storeDir = path.join(work, 'outputs');
const logs = path.join(work, 'logs');
mkdirSync(logs, { recursive: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------- processes ----------
const redisPort = await freePort();
const redisDir = path.join(work, 'redis');
mkdirSync(redisDir);
const redisUrl = `redis://127.0.0.1:${redisPort}`;
let redis!: ChildProcess;
function logFile(name: string): number {
  return openSync(path.join(logs, `${name}.log`), 'a');
}
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'], {
    stdio: ['ignore', logFile('redis'), logFile('redis')],
  });
  await waitFor(() => (spawnSync('redis-cli', ['-p', String(redisPort), 'ping']).stdout?.toString().trim() === 'PONG' ? true : undefined), 20_000, 'redis');
}
async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

const prefix = '{chaos}';
const apiPort = await freePort();
/** Its own metrics port: a host restarted at once must not meet another bench's (or host's) 9464. */
const hostMetricsPort = await freePort();
const apiUrl = `http://127.0.0.1:${apiPort}`;
const commonEnv = { ...process.env, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, STORAGE_DIR: storeDir, STORAGE_URL_SECRET: 'c'.repeat(32), NODE_ENV: 'production' };
function startApi(): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'apps/api/dist/main.js')], {
    env: { ...commonEnv, PORT: String(apiPort), HOST: '127.0.0.1', RATE_LIMIT_BURST: '0', WORK_RATE_BURST: '0', MAX_QUEUED_WORK_PER_KEY: '0', MAX_QUEUED_WORK_TOTAL: '0' },
    stdio: ['ignore', logFile('api'), logFile('api')],
  });
}
let host!: ChildProcess;
let hostStarts = 0;
function startHost(): void {
  hostStarts++;
  const argv = [process.execPath, path.join(ROOT, 'apps/gpu-host/dist/main.js')];
  // `nice` execs the host in place, so the child's pid is the host's.
  const [cmd, ...args] = HOST_NICE ? ['nice', '-n', String(HOST_NICE), ...argv] : argv;
  host = spawn(cmd as string, args, {
    env: { ...commonEnv, GPU_HOST_ID: 'chaos', GPU_HOST_DEVICES: 'cpu', GPU_HOST_METRICS_PORT: String(hostMetricsPort), GPU_HOST_LOCK_DURATION_MS: '5000', GPU_HOST_STALLED_INTERVAL_MS: '2500' },
    stdio: ['ignore', logFile('gpu-host'), logFile('gpu-host')],
  });
}
/** Stage processes are forked by the GPU host (its direct children). */
function stagePids(): number[] {
  if (host.pid === undefined) return [];
  const out = spawnSync('pgrep', ['-P', String(host.pid), '-f', 'stage-main']).stdout?.toString() ?? '';
  return out.split('\n').filter(Boolean).map(Number);
}
/** Stage processes of this checkout left behind by killed hosts (their parent is not the live host). */
function orphanStages(): number {
  const out = spawnSync('pgrep', ['-f', path.join(ROOT, 'libs/stages/dist/stage-main')]).stdout?.toString() ?? '';
  return out
    .split('\n')
    .filter(Boolean)
    .filter((pid) => {
      try {
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
        return ppid !== host.pid;
      } catch {
        return false;
      }
    }).length;
}

await startRedis();
const api = startApi();
startHost();
await waitFor(async () => {
  try {
    return (await fetch(`${apiUrl}/readyz`)).ok ? true : undefined;
  } catch {
    return undefined;
  }
}, 30_000, 'API');

// ---------- observation ----------
const client = createJobClient({ connection: redisUrl, prefix });
const lastProgress = new Map<string, number>();
const progressTimes = new Map<string, number[]>();
const terminalAt = new Map<string, number>();
const succeededEvents = new Map<string, number>();
await client.onEvent((e: JobEvent) => {
  const t = now();
  if (e.type === 'progress') {
    lastProgress.set(e.jobId, t);
    const list = progressTimes.get(e.jobId) ?? [];
    list.push(t);
    if (list.length > 8) list.shift();
    progressTimes.set(e.jobId, list);
  } else if (e.type === 'state' && ['succeeded', 'failed', 'canceled'].includes(e.status)) {
    terminalAt.set(e.jobId, t);
    if (e.status === 'succeeded') succeededEvents.set(e.jobId, (succeededEvents.get(e.jobId) ?? 0) + 1);
  }
});

// Pub/sub drops what is published while Redis restarts: after each reconnect, read the records of
// the jobs still open here and take the end of those that ended meanwhile at its recorded time.
const wallToPerf = (wallMs: number) => now() - (Date.now() - wallMs);
client.onResync(() => {
  void (async () => {
    for (const id of [...lastProgress.keys()].filter((id) => !terminalAt.has(id))) {
      const r = await client.get(id).catch(() => undefined);
      if (r && ['succeeded', 'failed', 'canceled'].includes(r.status)) terminalAt.set(id, wallToPerf(r.updatedAt));
    }
  })();
});

// ---------- steady load ----------
const accepted: string[] = [];
const submitStatuses: Record<string, number> = {};
let submitErrors = 0;
let seq = 0;
let loadOn = true;
const loadLoop = (async () => {
  const interval = 1000 / RATE;
  let next = now();
  while (loadOn) {
    const i = seq++;
    void (async () => {
      try {
        const res = await fetch(`${apiUrl}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'image', model: 'digits', prompt: String(i % 10), seed: i, steps: STEPS, parallel: { mode: 'async' } }),
        });
        submitStatuses[res.status] = (submitStatuses[res.status] ?? 0) + 1;
        const body = (await res.json()) as { id?: string };
        if (res.status === 202 && body.id) accepted.push(body.id);
      } catch {
        submitErrors++;
      }
    })();
    next += interval;
    await sleep(Math.max(0, next - now()));
  }
})();

// ---------- faults ----------
type Kind = 'stage' | 'host' | 'redis';
const KINDS: readonly Kind[] = ['stage', 'host', 'redis'];
interface Trial {
  kind: Kind;
  recoveryMs: number | null;
  note?: string;
}
const trials: Trial[] = [];

function runningJobs(windowMs: number): string[] {
  const t = now();
  return [...lastProgress].filter(([id, at]) => t - at < windowMs && !terminalAt.has(id)).map(([id]) => id);
}
function recoveredAfter(ids: readonly string[], t0: number): number | undefined {
  let best: number | undefined;
  for (const id of ids) {
    const after = [...(progressTimes.get(id) ?? []), terminalAt.get(id) ?? Infinity].filter((t) => t > t0);
    const first = Math.min(...after);
    if (Number.isFinite(first) && (best === undefined || first < best)) best = first;
  }
  return best;
}

/**
 * Injects a fault and returns once it has surely taken effect: the time after which a progress
 * event proves recovery rather than work already in flight (a step that finished before the kill,
 * an event Redis published before it stopped). Stage: a replacement stage process exists (the
 * killed one's step cannot be told apart from its retry by step number); host and Redis: the old
 * process has exited.
 */
async function inject(kind: Kind): Promise<{ effectiveAt: number; note?: string }> {
  switch (kind) {
    case 'stage': {
      const pids = stagePids();
      const victim = pids[Math.floor(Math.random() * pids.length)];
      if (victim === undefined) return { effectiveAt: now(), note: 'no stage process found' };
      process.kill(victim, 'SIGKILL');
      try {
        await waitFor(() => (stagePids().some((p) => !pids.includes(p)) ? true : undefined), 60_000, 'a replacement stage');
      } catch {
        return { effectiveAt: now(), note: 'no replacement stage within 60 s' };
      }
      return { effectiveAt: now() };
    }
    case 'host':
      await stopProcess(host, 'SIGKILL');
      startHost();
      return { effectiveAt: now() };
    case 'redis':
      await stopProcess(redis, REDIS_SIGNAL);
      {
        const effectiveAt = now();
        await startRedis();
        return { effectiveAt };
      }
  }
}

const started = Date.now();
console.log(`chaos: ${TRIALS} trials × ${KINDS.join(', ')}, ${RATE} jobs/s of digits (${STEPS} steps, async), logs in ${logs}`);
await waitFor(() => (runningJobs(500).length ? true : undefined), 120_000, 'the first running job');
for (let i = 0; i < TRIALS * KINDS.length; i++) {
  const kind = KINDS[i % KINDS.length] as Kind;
  let running: string[];
  try {
    running = await waitFor(() => {
      const r = runningJobs(300);
      return r.length ? r : undefined;
    }, 60_000, 'a running job');
  } catch {
    trials.push({ kind, recoveryMs: null, note: 'no job running within 60 s' });
    continue;
  }
  const t0 = now();
  const injected = await inject(kind);
  const { effectiveAt } = injected;
  // A job that ended before the fault took effect was not hit by it (it finished just ahead of a
  // Redis stop, say — learnt late when its event was lost and the resync read its record). When
  // no running job was hit, the next progress of any job is the recovery.
  const hitNow = () => running.filter((id) => !((terminalAt.get(id) ?? Infinity) <= effectiveAt));
  let recoveryMs: number | null = null;
  try {
    recoveryMs =
      (await waitFor(() => {
        const hit = hitNow();
        return recoveredAfter(hit.length ? hit : [...progressTimes.keys()], effectiveAt);
      }, 120_000, 'recovery')) - t0;
  } catch {
    /* recorded as null */
  }
  const hit = hitNow();
  const note = injected.note ?? (hit.length ? undefined : 'no running job was hit: next progress of any job');
  if (recoveryMs === null) {
    // Say what the jobs the fault hit look like now: the record, and the last event seen.
    const states = await Promise.all(hit.map(async (id) => `${id} ${(await client.get(id))?.status ?? '?'} (last progress ${((now() - (lastProgress.get(id) ?? 0)) / 1000).toFixed(1)} s ago)`));
    console.log(`\n  ${kind}: no recovery seen in 120 s; hit: ${states.join(', ') || 'none'}`);
  }
  if (process.env.CHAOS_VERBOSE) console.log(`  ${kind}: ${recoveryMs?.toFixed(0) ?? '–'} ms, hit ${hit.length}${note ? `, ${note}` : ''}`);
  trials.push({ kind, recoveryMs, ...(note && { note }) });
  if ((i + 1) % KINDS.length === 0) {
    const done = trials.length;
    process.stdout.write(`\r  ${done}/${TRIALS * KINDS.length} faults, ${accepted.length} accepted, ${terminalAt.size} terminal   `);
  }
  await sleep(300);
}
loadOn = false;
await loadLoop;
const faultPhaseSec = (Date.now() - started) / 1000;
console.log(`\nchaos: faults done in ${faultPhaseSec.toFixed(0)} s; draining`);

// ---------- drain and classify ----------
interface Outcome {
  status: string;
  code?: string;
  attempts: number;
  outputsOk: boolean;
}
const outcomes = new Map<string, Outcome>();
const drainDeadline = Date.now() + DRAIN_MS;
for (;;) {
  const pending = accepted.filter((id) => !outcomes.has(id));
  for (const id of pending) {
    const r = await client.get(id);
    if (!r || !['succeeded', 'failed', 'canceled'].includes(r.status)) continue;
    let outputsOk = true;
    for (const o of r.outputs) {
      try {
        const bytes = readFileSync(path.join(storeDir, o.key));
        if (createHash('sha256').update(bytes).digest('hex') !== o.sha256) outputsOk = false;
      } catch {
        outputsOk = false;
      }
    }
    outcomes.set(id, { status: r.status, ...(r.error && { code: r.error.code }), attempts: r.attempts, outputsOk });
  }
  if (outcomes.size === accepted.length || Date.now() > drainDeadline) break;
  await sleep(1000);
}
const count = (f: (o: Outcome) => boolean) => [...outcomes.values()].filter(f).length;
const failedCodes: Record<string, number> = {};
for (const o of outcomes.values()) if (o.status === 'failed') failedCodes[o.code ?? '(none)'] = (failedCodes[o.code ?? '(none)'] ?? 0) + 1;
const lost = accepted.filter((id) => !outcomes.has(id));
// A succeeded job whose end this script only learnt from its record (the event was lost in a
// Redis restart) counts once: duplicates are two succeeded transitions seen, or bad bytes.
const duplicated = accepted.filter((id) => (succeededEvents.get(id) ?? 0) > 1 || outcomes.get(id)?.outputsOk === false);
await sleep(3000); // a stage notices its host is gone within its parent-watch interval
const orphans = orphanStages();

// ---------- 500 submissions/s ----------
console.log(`chaos: ${BURST_RATE} submissions/s for ${BURST_MS / 1000} s`);
const burst = await new Promise<{ sent: number; statuses: Record<string, number>; errors: number; durationMs: number; latencyMs: { p50: number; p99: number; max: number }; warmLatencyMs: { p50: number; p99: number; max: number }; p99BySecond: number[]; acceptedIds: string[] }>((resolve, reject) => {
  const bodies = Array.from({ length: 10 }, (_, d) => ({ type: 'image', model: 'digits', prompt: String(d), steps: 20 }));
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/rate-gen.mjs'), JSON.stringify({ url: `${apiUrl}/v1/jobs`, bodies, rate: BURST_RATE, durationMs: BURST_MS })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`rate-gen exited ${code}`))));
});

// ---------- teardown ----------
await client.close();
await stopProcess(host, 'SIGTERM').catch(() => undefined);
await stopProcess(api, 'SIGTERM').catch(() => undefined);
await stopProcess(redis, 'SIGTERM').catch(() => undefined);

// ---------- report ----------
const fmt = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const rows = KINDS.map((kind) => {
  const ts = trials.filter((t) => t.kind === kind);
  const rec = ts.flatMap((t) => (t.recoveryMs === null ? [] : [t.recoveryMs]));
  return `| ${kind} | ${ts.length} | ${ts.filter((t) => t.note?.startsWith('no running job was hit')).length} | ${ts.length - rec.length} | ${fmt(quantile(rec, 0.5))} | ${fmt(quantile(rec, 0.99))} | ${fmt(Math.max(...rec))} |`;
});
const summary = {
  machine: machineLine(),
  date: new Date().toISOString(),
  config: { trials: TRIALS, rate: RATE, steps: STEPS, redisSignal: REDIS_SIGNAL, hostNice: HOST_NICE, hostStarts },
  accepted: accepted.length,
  submitStatuses,
  submitErrors,
  succeeded: count((o) => o.status === 'succeeded'),
  failed: count((o) => o.status === 'failed'),
  canceled: count((o) => o.status === 'canceled'),
  failedCodes,
  lost: lost.length,
  lostIds: lost.slice(0, 20),
  duplicated: duplicated.length,
  duplicatedIds: duplicated.slice(0, 20),
  retried: count((o) => o.attempts > 1),
  orphanStages: orphans,
  trials,
  burst: { ...burst, acceptedIds: burst.acceptedIds.length },
};
mkdirSync(path.join(ROOT, 'bench/out'), { recursive: true });
writeFileSync(path.join(ROOT, 'bench/out/chaos.json'), `${JSON.stringify(summary, null, 2)}\n`);
const section = `## Chaos (issue #9 §5)

Measured ${summary.date.slice(0, 16).replace('T', ' ')} UTC on ${summary.machine}. \`npx tsx bench/chaos.ts --trials ${TRIALS} --rate ${RATE} --steps ${STEPS}${HOST_NICE ? ` --host-nice ${HOST_NICE}` : ''}\`:
a private redis-server (AOF on, \`appendfsync everysec\`, as infra/redis/redis.conf), the API and the GPU host
each in its own process on loopback; ${RATE} digits jobs/s (${STEPS} steps, \`parallel.mode: async\`, so stage
processes are live) submitted through the API during the whole fault phase (${faultPhaseSec.toFixed(0)} s).
Faults round-robin; after each, the time from the fault to the next progress (or terminal) event of a job
that was running when it struck, counting only events after the fault took effect (a replacement stage
process exists; the old host or Redis has exited), so a step already in flight does not pass for recovery. Redis restarts by ${REDIS_SIGNAL}; the GPU host restarted at once after each kill (${hostStarts} starts).

| fault | trials | no running job hit (any job's next progress counted) | no recovery seen | fault → next progress p50 | p99 | max |
|---|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

| accepted | succeeded | failed | canceled | lost | duplicated | retried (attempts > 1) | orphaned stage processes |
|---:|---:|---:|---:|---:|---:|---:|---:|
| ${summary.accepted} | ${summary.succeeded} | ${summary.failed} | ${summary.canceled} | **${summary.lost}** | **${summary.duplicated}** | ${summary.retried} | ${orphans} |

Failed by code: ${Object.keys(failedCodes).length ? Object.entries(failedCodes).map(([c, n]) => `\`${c}\` ${n}`).join(', ') : 'none'}.
Submissions during faults: ${Object.entries(submitStatuses).map(([s, n]) => `${s}: ${n}`).join(', ')}${submitErrors ? `, connection errors: ${submitErrors}` : ''} (a 503 while Redis restarts is a refusal, not an accepted job).
Lost = accepted (202) and not terminal ${DRAIN_MS / 1000} s after the load stopped; duplicated = two \`succeeded\`
transitions for one job, or a stored output whose bytes differ from the record's sha256.

**${BURST_RATE} submissions/s for ${BURST_MS / 1000} s** (open loop, generator in its own process, API on its own
process, the GPU host generating on the same 2 cores${HOST_NICE ? ` at nice ${HOST_NICE}` : ''}): ${burst.sent} sent, statuses ${Object.entries(burst.statuses).map(([s, n]) => `${s}: ${n}`).join(', ')}${burst.errors ? `, errors ${burst.errors}` : ''};
submit latency p50 ${burst.latencyMs.p50.toFixed(1)} ms, p99 ${burst.latencyMs.p99.toFixed(1)} ms, max ${burst.latencyMs.max.toFixed(1)} ms;
sent after the first 5 s (the cold start of hundreds of new connections excluded): p50 ${burst.warmLatencyMs.p50.toFixed(1)} ms,
p99 ${burst.warmLatencyMs.p99.toFixed(1)} ms, max ${burst.warmLatencyMs.max.toFixed(1)} ms. p99 by second sent: ${burst.p99BySecond.map((v) => v.toFixed(0)).join(' ')} ms.
`;
replaceSection(values.results, 'chaos', section);
console.log(section);
if (values.keep) console.log(`chaos: kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(0);
