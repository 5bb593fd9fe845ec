/**
 * Hand-off latency between two processes through @asyncdiff/shm.
 *
 *   npx tsx bench/handoff.ts [--iterations 5000] [--warmup 300] [--spin-us 50] [--no-pin]
 *
 * Runs twice: producer and consumer pinned to different cores, then unpinned (--no-pin: only the latter).
 *
 * The producer (this process) writes into its channel slot (one value per 4 KiB page), stamps
 * the time and publishes; the consumer (a forked child) wakes, records publish→wake latency,
 * reads every page through its zero-copy view, checks the sum and rings an ack doorbell; the
 * producer records publish→ack (round trip). Mechanisms: futex with a blocking wait, futex with
 * the async (helper-thread) wait, spin-then-futex, and a process.send doorbell as the baseline
 * (data still in shm). Writes bench/out/handoff.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Channel, Doorbell, getAffinity, setProcessAffinity, ShmSegment } from '../libs/shm/src/index.js';

type Mechanism = 'futex-sync' | 'futex-async' | 'spin-futex' | 'process-send';
const MECHANISMS: readonly Mechanism[] = ['futex-sync', 'futex-async', 'spin-futex', 'process-send'];
const SIZES = [64 * 1024, 16 * 1024 * 1024] as const;
const PAGE_FLOATS = 1024; // 4 KiB / 4 bytes

interface RunMessage {
  type: 'run';
  mechanism: Mechanism;
  channel: string;
  ack: string;
  iterations: number;
  spinUs: number;
}
type ToConsumer = RunMessage | { type: 'step'; step: number } | { type: 'quit' };
type ToProducer = { type: 'ready' } | { type: 'ack'; step: number } | { type: 'done'; wakeNs: number[] } | { type: 'error'; message: string };

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Reads one float per page and returns their sum (the consumer's "use the data"). */
function touchPages(data: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += PAGE_FLOATS) sum += data[i] ?? 0;
  return sum;
}

// ---------------------------------------------------------------- consumer (forked child)

async function consume(msg: RunMessage, inbox: AsyncIterator<ToConsumer>): Promise<number[]> {
  const ch = Channel.open(msg.channel);
  const ackSeg = ShmSegment.open(msg.ack);
  const ack = new Doorbell(ackSeg, 0);
  const wakeNs: number[] = [];
  const slots = [ch.slot(0), ch.slot(1)] as const;
  const pages = Math.ceil(slots[0].data('data', 'float32').length / PAGE_FLOATS);
  process.send?.({ type: 'ready' } satisfies ToProducer);
  for (let step = 0; step < msg.iterations; step++) {
    switch (msg.mechanism) {
      case 'futex-sync':
        ch.readSync(step);
        break;
      case 'spin-futex':
        ch.readSync(step, { spinUs: msg.spinUs });
        break;
      case 'futex-async':
        await ch.read(step);
        break;
      case 'process-send': {
        const next = await inbox.next();
        if (next.done || next.value.type !== 'step' || ch.tryRead(step) === undefined) throw new Error(`step ${step} not ready`);
        break;
      }
      default:
        assertNever(msg.mechanism);
    }
    const woke = process.hrtime.bigint();
    const slot = step & 1 ? slots[1] : slots[0];
    wakeNs.push(Number(woke - (slot.data('meta', 'int64')[0] ?? 0n)));
    if (touchPages(slot.data('data', 'float32')) !== step * pages) throw new Error(`step ${step}: wrong data`);
    if (msg.mechanism === 'process-send') process.send?.({ type: 'ack', step } satisfies ToProducer);
    else ack.ring();
  }
  ch.dispose();
  ackSeg.dispose();
  return wakeNs;
}

async function consumerMain(): Promise<void> {
  const cpu = arg('cpu', -1);
  if (cpu >= 0) setProcessAffinity([cpu]);
  const queue: ToConsumer[] = [];
  let notify: (() => void) | undefined;
  process.on('message', (m: ToConsumer) => {
    queue.push(m);
    notify?.();
  });
  const inbox: AsyncIterator<ToConsumer> = {
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (notify = r));
      return { done: false, value: queue.shift() as ToConsumer };
    },
  };
  for (;;) {
    const { value } = await inbox.next();
    if (value.type === 'quit') break;
    if (value.type !== 'run') continue;
    try {
      process.send?.({ type: 'done', wakeNs: await consume(value, inbox) } satisfies ToProducer);
    } catch (err) {
      process.send?.({ type: 'error', message: String(err) } satisfies ToProducer);
    }
  }
  process.disconnect();
}

// ---------------------------------------------------------------- producer (this process)

function nextMessage(child: ChildProcess): Promise<ToProducer> {
  return once(child, 'message').then(([m]) => m as ToProducer);
}

function stats(ns: readonly number[]): Record<string, number> {
  const us = ns.map((v) => v / 1000).sort((a, b) => a - b);
  const q = (p: number): number => Number((us[Math.min(us.length - 1, Math.floor(p * us.length))] ?? NaN).toFixed(1));
  const mean = us.reduce((a, b) => a + b, 0) / us.length;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1), mean: Number(mean.toFixed(1)) };
}

async function produce(child: ChildProcess, mechanism: Mechanism, bytes: number, iterations: number, warmup: number, spinUs: number) {
  const tag = `${mechanism}-${bytes}-${Date.now().toString(36)}`;
  const ch = Channel.create({ label: `bench-${tag}`, tensors: [{ name: 'data', dtype: 'float32', dims: [bytes / 4] }, { name: 'meta', dtype: 'int64', dims: [1] }] });
  const ackSeg = ShmSegment.create({ label: `bench-ack-${tag}`, byteLength: 4096 });
  const ack = new Doorbell(ackSeg, 0);
  const total = warmup + iterations;
  child.send({ type: 'run', mechanism, channel: ch.name, ack: ackSeg.name, iterations: total, spinUs } satisfies ToConsumer);
  const ready = await nextMessage(child);
  if (ready.type !== 'ready') throw new Error(`consumer: ${JSON.stringify(ready)}`);
  const roundTripNs: number[] = [];
  for (let step = 0; step < total; step++) {
    const slot = ch.beginWrite(step);
    const data = slot.data('data', 'float32');
    for (let i = 0; i < data.length; i += PAGE_FLOATS) data[i] = step;
    const seen = ack.seq;
    const t0 = process.hrtime.bigint();
    slot.data('meta', 'int64')[0] = t0;
    ch.publish(step);
    switch (mechanism) {
      case 'futex-sync':
        ack.wait(seen);
        break;
      case 'spin-futex':
        ack.wait(seen, { spinUs });
        break;
      case 'futex-async':
        await ack.waitAsync(seen);
        break;
      case 'process-send': {
        const acked = nextMessage(child);
        child.send({ type: 'step', step } satisfies ToConsumer);
        const m = await acked;
        if (m.type !== 'ack' || m.step !== step) throw new Error(`consumer: ${JSON.stringify(m)}`);
        break;
      }
      default:
        assertNever(mechanism);
    }
    roundTripNs.push(Number(process.hrtime.bigint() - t0));
  }
  const done = await nextMessage(child);
  if (done.type !== 'done') throw new Error(`consumer: ${JSON.stringify(done)}`);
  ch.dispose();
  ackSeg.dispose();
  return {
    mechanism,
    bytes,
    iterations,
    wakeUs: stats(done.wakeNs.slice(warmup)),
    roundTripUs: stats(roundTripNs.slice(warmup)),
  };
}

type Placement = 'split-cores' | 'unpinned';

/** Runs every size × mechanism with one consumer child placed as `placement` says. */
async function runPlacement(placement: Placement, allowed: readonly number[], iterations: number, warmup: number, spinUs: number) {
  // One core each (the first and last this process may use), as stage processes are pinned.
  const cores = placement === 'split-cores' ? { producer: allowed[0] ?? 0, consumer: allowed.at(-1) ?? 0 } : undefined;
  setProcessAffinity(allowed); // fork unpinned: the child would inherit our mask
  const child = fork(fileURLToPath(import.meta.url), ['--consumer', ...(cores ? ['--cpu', String(cores.consumer)] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (cores) setProcessAffinity([cores.producer]);
  const results = [];
  for (const bytes of SIZES) {
    for (const mechanism of MECHANISMS) {
      const r = await produce(child, mechanism, bytes, iterations, warmup, spinUs);
      console.log(
        `${placement.padEnd(11)} ${mechanism.padEnd(13)} ${String(bytes / 1024).padStart(6)} KiB  wake p50 ${r.wakeUs.p50} µs p99 ${r.wakeUs.p99} µs` +
          ` | round trip p50 ${r.roundTripUs.p50} µs p99 ${r.roundTripUs.p99} µs`,
      );
      results.push(r);
    }
  }
  child.send({ type: 'quit' } satisfies ToConsumer);
  await once(child, 'exit');
  setProcessAffinity(allowed);
  return { placement, cores: cores ?? null, results };
}

async function producerMain(): Promise<void> {
  const iterations = arg('iterations', 5000);
  const warmup = arg('warmup', 300);
  const spinUs = arg('spin-us', 50);
  const allowed = getAffinity();
  const placements: Placement[] = process.argv.includes('--no-pin') || allowed.length < 2 ? ['unpinned'] : ['split-cores', 'unpinned'];
  const loadBefore = loadavg();
  const runs = [];
  for (const placement of placements) runs.push(await runPlacement(placement, allowed, iterations, warmup, spinUs));
  const out = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cpusAllowed: allowed,
    iterations,
    warmup,
    spinUs,
    loadavg: { before: loadBefore, after: loadavg() },
    note:
      'wakeUs: publish -> consumer running with the data in view (one-way, CLOCK_MONOTONIC in both processes). ' +
      'roundTripUs: publish -> consumer woke, read one float per 4 KiB page through its view, rang back -> producer awake. ' +
      'split-cores: producer and consumer pinned to different cores (as stages are); unpinned: the scheduler may co-locate them. ' +
      'Noisy: a background PyTorch training job shares the cores, so p99 mostly measures scheduler preemption.',
    runs,
  };
  mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./out/handoff.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
  console.log('wrote bench/out/handoff.json');
}

await (process.argv.includes('--consumer') ? consumerMain() : producerMain());
