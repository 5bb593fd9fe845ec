// Child process for @asyncdiff/shm tests: runs commands sent by the parent over IPC against the
// BUILT library (dist/), exactly as a stage process would. Messages:
//   parent → child  { id, type, ...args }        child → parent  { id, ok: true, value }
//                                                                 { id, ok: false, code, name, message }
// The child stays alive between commands; 'exit' ends it.
import { readdirSync, readFileSync } from 'node:fs';

import * as shm from '../../dist/index.js';

const MODEL_URL = new URL('../../../../models/digits-eval/model.onnx', import.meta.url);
const held = []; // segments/channels kept alive (and mapped) until exit
const prefix = process.env.ASYNCDIFF_SHM_TEST_PREFIX ?? shm.DEFAULT_SEGMENT_PREFIX;

function threadAffinities() {
  return readdirSync('/proc/self/task').map((tid) => {
    const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    return { tid: Number(tid), cpus: /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] };
  });
}

async function ortStage({ inputName, outputLabel }) {
  const ort = (await import('onnxruntime-node')).default;
  const session = await ort.InferenceSession.create(MODEL_URL.pathname);
  const input = shm.Channel.open(inputName);
  const image = input.readSync(0, { timeoutMs: 10_000 }).tensor('image');
  const batch = image.dims[0];
  const output = shm.Channel.create({
    label: outputLabel,
    prefix,
    tensors: [
      { name: 'logits', dtype: 'float32', dims: [batch, 10] },
      { name: 'features', dtype: 'float32', dims: [batch, 128] },
    ],
  });
  held.push(input, output);
  const slot = output.beginWrite(0);
  slot.data('logits', 'float32').fill(Number.NaN);
  slot.data('features', 'float32').fill(Number.NaN);
  const feeds = { image: new ort.Tensor('float32', image.data, image.dims) };
  const fetches = {
    logits: new ort.Tensor('float32', slot.data('logits', 'float32'), [batch, 10]),
    features: new ort.Tensor('float32', slot.data('features', 'float32'), [batch, 128]),
  };
  // ORT fills the preallocated views in place; the tensors it returns hold a private copy
  // (onnxruntime-node 1.30), so the stage ignores them.
  await session.run(feeds, fetches);
  output.publish(0);
  // Reference: same session (same weights), private input copy, ORT-allocated outputs.
  const ref = await session.run({ image: new ort.Tensor('float32', Float32Array.from(image.data), image.dims) });
  return {
    name: output.name,
    logits: Array.from(ref.logits.data),
    features: Array.from(ref.features.data),
  };
}

const commands = {
  async ping() {
    return process.pid;
  },
  async createSegments({ labels, byteLength }) {
    return labels.map((label) => {
      const seg = shm.ShmSegment.create({ label, byteLength, prefix });
      new Uint8Array(seg.buffer).fill(7);
      held.push(seg);
      return seg.name;
    });
  },
  async readSegment({ name }) {
    const seg = shm.ShmSegment.open(name);
    const bytes = new Uint8Array(seg.buffer);
    let sum = 0;
    for (const b of bytes) sum += b;
    const value = { byteLength: seg.byteLength, sum, head: Array.from(bytes.subarray(0, 8)) };
    bytes.fill(9, 0, 4); // write back through the mapping
    seg.dispose();
    return value;
  },
  async doorbellWait({ name, byteOffset, seen, timeoutMs, spinUs, onSignal }) {
    if (onSignal) process.on(onSignal, () => {});
    const seg = shm.ShmSegment.open(name);
    held.push(seg);
    const bell = new shm.Doorbell(seg, byteOffset);
    const t0 = performance.now();
    const r = bell.wait(seen, { timeoutMs, ...(spinUs ? { spinUs } : {}) });
    return { ...r, elapsedMs: performance.now() - t0 };
  },
  async doorbellRing({ name, byteOffset, delayMs }) {
    const seg = shm.ShmSegment.open(name);
    await new Promise((r) => setTimeout(r, delayMs ?? 0));
    const seq = new shm.Doorbell(seg, byteOffset).ring();
    seg.dispose();
    return seq;
  },
  async atomicAdd({ name, count }) {
    const seg = shm.ShmSegment.open(name);
    const words = new Int32Array(seg.buffer);
    Atomics.add(words, 3, 1); // "at the start line"
    while (Atomics.load(words, 2) === 0); // the parent opens the race once everyone is here
    for (let i = 0; i < count; i++) Atomics.add(words, 0, 1);
    for (let i = 0; i < count; i++) {
      for (;;) {
        const old = Atomics.load(words, 1);
        if (Atomics.compareExchange(words, 1, old, old + 1) === old) break;
      }
    }
    seg.dispose();
    return true;
  },
  async pin({ cpus }) {
    const pinned = shm.setProcessAffinity(cpus);
    return { pinned, self: shm.getAffinity(), threads: threadAffinities() };
  },
  async channelRead({ name, step, expect, timeoutMs }) {
    const ch = shm.Channel.open(name, expect ? { expect } : {});
    held.push(ch);
    const slot = await ch.read(step, { timeoutMs: timeoutMs ?? 10_000 });
    const tensors = slot.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      dims: t.dims,
      data: Array.from(t.data, (v) => (typeof v === 'bigint' ? v.toString() : v)),
      aligned: t.data.byteOffset % 64 === 0,
    }));
    return { layout: ch.layout, tensors, current: ch.isCurrent(step) };
  },
  async channelProduce({ label, tensors, steps, delayMs }) {
    const ch = shm.Channel.create({ label, tensors, prefix });
    held.push(ch);
    setTimeout(() => {
      for (const step of steps) {
        const slot = ch.beginWrite(step);
        for (const t of slot.tensors) {
          if (t.dtype === 'int64') t.data.fill(BigInt(step));
          else t.data.fill(step);
        }
        ch.publish(step);
      }
    }, delayMs ?? 0);
    return ch.name;
  },
  ortStage,
  async exit({ code }) {
    setImmediate(() => process.exit(code ?? 0));
    return true;
  },
};

process.on('message', (msg) => {
  const run = commands[msg.type];
  Promise.resolve()
    .then(() => (run ? run(msg) : Promise.reject(new Error(`unknown command ${msg.type}`))))
    .then(
      (value) => process.send({ id: msg.id, ok: true, value }),
      (err) => process.send({ id: msg.id, ok: false, code: err?.code, name: err?.name, message: String(err?.message ?? err) }),
    );
});
process.send({ id: 0, ok: true, value: 'ready' });
