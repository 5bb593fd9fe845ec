import type { DataParallelResult } from './data-parallel.js';
import type { ConfigResult } from './result-types.js';

interface Report {
  readonly started: string;
  readonly machine: string;
  readonly steps: number;
  readonly repeats: number;
  readonly perClass: number;
  readonly videoClips: number;
  readonly image: readonly ConfigResult[];
  readonly video: readonly ConfigResult[];
  readonly dataParallel?: { readonly image?: DataParallelResult; readonly video?: DataParallelResult };
  readonly handoff?: unknown;
}

const f1 = (x: number | undefined, d = 1): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);

function devicesOf(r: ConfigResult): string {
  const c = r.config;
  if (c.runner === 'in-process') return `${c.threads ?? 1} thread(s)`;
  return `${c.devices?.length ?? 1} × ${c.devices?.[0]?.kind === 'cpu' ? `${c.devices[0].cpus.length} core` : 'gpu'}${c.oversubscribed ? ' (oversubscribed)' : ''}`;
}

function mainTable(rows: readonly ConfigResult[], seq1: ConfigResult | undefined, seqAll: ConfigResult | undefined, video: boolean): string {
  const head = video
    ? '| configuration | devices | latency ms (p10–p90) | speedup vs seq 1 core | vs seq all cores | per-frame agreement | Fréchet (frames) | PSNR vs seq | SSIM vs seq | temporal SSIM | motion px |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
    : '| configuration | devices | latency ms (p10–p90) | speedup vs seq 1 core | vs seq all cores | agreement | Fréchet | PSNR vs seq | SSIM vs seq |\n|---|---|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) => {
    const l = r.latencyMs;
    const s1 = seq1 ? seq1.latencyMs.median / l.median : NaN;
    const sA = seqAll ? seqAll.latencyMs.median / l.median : NaN;
    const q = r.quality;
    const base = `| ${r.config.label} | ${devicesOf(r)} | ${f1(l.median)} (${f1(l.p10)}–${f1(l.p90)}) | ${f1(s1, 2)}× | ${f1(sA, 2)}× | ${pct(q?.agreement)} | ${f1(q?.frechet, 2)} | ${f1(q?.psnrDb, 2)} | ${f1(q?.ssim, 3)}`;
    return video ? `${base} | ${f1(q?.temporalSsim, 3)} | ${f1(q?.motionPx, 2)} |` : `${base} |`;
  });
  return [head, ...lines].join('\n');
}

/**
 * The paper-style table of issue #11 §5: per model, the modes side by side — latency per image,
 * speed-up over sequential on one core, quality (Fréchet, agreement), fidelity to sequential
 * (PSNR/SSIM) and the hand-off's share of a step — plus data-parallel throughput.
 */
function paperTable(rows: readonly ConfigResult[], dp: DataParallelResult | undefined): string {
  const seq1 = rows.find((r) => r.config.id === 'seq-1');
  const lines = [
    '| configuration | devices | latency per image ms | speed-up vs seq 1 core | Fréchet | vs seq | agreement | PSNR vs seq | SSIM vs seq | hand-off share |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows.filter((x) => x.config.paper)) {
    const q = r.quality;
    const speed = seq1 ? seq1.latencyMs.median / r.latencyMs.median : NaN;
    const vs = q && seq1?.quality && r !== seq1 ? `${q.frechet >= seq1.quality.frechet ? '+' : ''}${((q.frechet / seq1.quality.frechet - 1) * 100).toFixed(1)}%` : '';
    lines.push(
      `| ${r.config.label} | ${devicesOf(r)} | ${f1(r.latencyMs.median)} | ${f1(speed, 2)}× | ${f1(q?.frechet, 2)} | ${vs} | ${pct(q?.agreement)} | ${r === seq1 ? '–' : f1(q?.psnrDb, 2)} | ${r === seq1 ? '–' : f1(q?.ssim, 3)} | ${r.profile ? pct(r.profile.handoffShare) : '– (in-process)'} |`,
    );
  }
  if (dp && seq1) {
    lines.push(
      `| data parallel: ${dp.devices} sequential stages, one per core, all busy (throughput) | ${dp.devices} × 1 core | ${f1(dp.perImageMs)} | ${f1(seq1.latencyMs.median / dp.perImageMs, 2)}× | = sequential | | = sequential | ∞ (same computation) | 1.000 | – |`,
    );
  }
  return lines.join('\n');
}

function profileTable(rows: readonly ConfigResult[], steps: number): string {
  const lines = [
    '| configuration | step (µs) | inside session.run, slowest stage (µs) | outside session.run | hand-off: doorbell wake-ups on the critical path (µs, share) | sampler math per step (µs) | warm-up / parallel steps |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const p = r.profile;
    const ph = r.phases;
    const totalSteps = ph.warmup.steps + ph.parallel.steps + ph.reuse.steps;
    const samplerUs = ((ph.warmup.samplerMs + ph.parallel.samplerMs + ph.reuse.samplerMs) / Math.max(1, totalSteps)) * 1000;
    const runs = r.latencyMs.runs.length;
    lines.push(
      `| ${r.config.label} | ${f1(p?.stepUs, 0)} | ${f1(p?.criticalSessionUs, 0)} | ${p ? pct(p.outsideShare) : '– (in-process)'} | ${p ? `${f1(p.handoffUs, 0)} (${pct(p.handoffShare)})` : '–'} | ${f1(samplerUs, 0)} | ${ph.warmup.steps / runs} / ${ph.parallel.steps / runs} of ${steps} |`,
    );
  }
  return lines.join('\n');
}

function memoryTable(rows: readonly ConfigResult[]): string {
  const lines = ['| configuration | peak RSS per stage process (MB) | ONNX weights per stage (KB) |', '|---|---|---|'];
  for (const r of rows) {
    const where = r.config.runner === 'in-process' ? ' (bench process: all in-process baselines together)' : '';
    lines.push(`| ${r.config.label} | ${r.memory.stagePeakRssMb.map((m) => m.toFixed(0)).join(' / ')}${where} | ${r.memory.stageWeightsKb.map((k) => k.toFixed(0)).join(' / ')} |`);
  }
  return lines.join('\n');
}

interface HandoffRun {
  placement: string;
  results: { mechanism: string; bytes: number; wakeUs: { p50: number; p99: number }; roundTripUs: { p50: number; p99: number } }[];
}

function handoffTable(handoff: unknown): string {
  const runs = (handoff as { runs?: HandoffRun[]; generatedAt?: string } | undefined)?.runs;
  if (!runs) return '_bench/out/handoff.json not found: run `npx tsx bench/handoff.ts` first._';
  const lines = ['| placement | mechanism | tensor | wake p50 / p99 (µs) | round trip p50 / p99 (µs) |', '|---|---|---:|---:|---:|'];
  for (const run of runs) {
    for (const r of run.results) {
      lines.push(`| ${run.placement} | ${r.mechanism} | ${r.bytes >= 2 ** 20 ? `${r.bytes / 2 ** 20} MB` : `${r.bytes / 1024} KB`} | ${f1(r.wakeUs.p50)} / ${f1(r.wakeUs.p99)} | ${f1(r.roundTripUs.p50)} / ${f1(r.roundTripUs.p99)} |`);
    }
  }
  return lines.join('\n');
}

function acceptance(rows: readonly ConfigResult[], seq1?: ConfigResult, seqAll?: ConfigResult): string {
  const target = rows.filter((r) => r.config.parallel.mode === 'async' && r.config.parallel.stages === 2 && r.config.parallel.stride === 1 && r.config.parallel.warmup <= 3 && (r.config.wait ?? 'sync') === 'sync');
  if (!seq1 || !seqAll || target.length === 0) return '';
  const lines = ['| check (N=2, stride 1) | W | measured | target | |', '|---|---:|---:|---:|---|'];
  for (const r of target) {
    const w = r.config.parallel.warmup;
    const s1 = seq1.latencyMs.median / r.latencyMs.median;
    const sA = seqAll.latencyMs.median / r.latencyMs.median;
    const mark = (ok: boolean): string => (ok ? 'met' : '**missed**');
    lines.push(`| speedup vs sequential on 1 core | ${w} | ${s1.toFixed(2)}× | ≥ 1.8× | ${mark(s1 >= 1.8)} |`);
    lines.push(`| speedup vs sequential on all cores | ${w} | ${sA.toFixed(2)}× | ≥ 1.4× | ${mark(sA >= 1.4)} |`);
    if (r.quality && seq1.quality) {
      const dAgree = (r.quality.agreement - seq1.quality.agreement) * 100;
      const dFd = r.quality.frechet / seq1.quality.frechet - 1;
      lines.push(`| agreement vs sequential | ${w} | ${dAgree >= 0 ? '+' : ''}${dAgree.toFixed(1)} points | within 1 point | ${mark(Math.abs(dAgree) <= 1 || dAgree > 0)} |`);
      lines.push(`| Fréchet vs sequential | ${w} | ${dFd >= 0 ? '+' : ''}${(dFd * 100).toFixed(1)}% | within 10% | ${mark(dFd <= 0.1)} |`);
    }
    if (r.profile) {
      lines.push(`| hand-off share of step time (doorbell wake-ups; tensors are not copied) | ${w} | ${(r.profile.handoffShare * 100).toFixed(1)}% | < 5% | ${mark(r.profile.handoffShare < 0.05)} |`);
      lines.push(`| step time outside session.run (hand-off + ORT per-run overhead + dispatch) | ${w} | ${(r.profile.outsideShare * 100).toFixed(1)}% | (not a target) | |`);
    }
  }
  return lines.join('\n');
}

/** The "engine" section of bench/RESULTS.md (a table shaped like the paper's Table 1, and more). */
export function renderEngineSection(r: Report): string {
  const seq1 = r.image.find((x) => x.config.id === 'seq-1');
  const seqAll = r.image.find((x) => x.config.id.startsWith('seq-') && x.config.id !== 'seq-1' && x.config.runner === 'in-process');
  const main = r.image.filter((x) => !x.config.sweep && !x.config.oversubscribed);
  const sweep = r.image.filter((x) => x.config.parallel.mode === 'async' && x.config.parallel.stages === 2 && x.config.parallel.stride === 1 && (x.config.wait ?? 'sync') === 'sync');
  sweep.sort((a, b) => a.config.parallel.warmup - b.config.parallel.warmup);
  const over = r.image.filter((x) => x.config.oversubscribed);
  const vSeq1 = r.video.find((x) => x.config.id === 'seq-1');
  const vSeqAll = r.video.find((x) => x.config.id.startsWith('seq-') && x.config.id !== 'seq-1');
  return [
    '## AsyncDiff engine (`npm run bench`)',
    '',
    `Measured ${r.started.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}.`,
    `Protocol: ${r.steps} DDIM steps with classifier-free guidance (batch 2), the shipped default guidance; latency = median of ${r.repeats} single-image generations per configuration, configurations interleaved round by round; quality over ${r.perClass * 10} images (${r.perClass} per class, seeds 0…${r.perClass * 10 - 1}) against 1,797 real digits (Fréchet distance in the eval classifier's 128-d feature space) and against the sequential output of the same seeds (PSNR/SSIM, data range 2).`,
    '',
    '### Modes side by side (issue #11 §5)',
    '',
    'digits:',
    '',
    paperTable(r.image, r.dataParallel?.image),
    '',
    ...(r.video.length > 0 ? ['moving-digits (Fréchet and agreement per frame):', '', paperTable(r.video, r.dataParallel?.video), ''] : []),
    'Latency per image: median single-image generation (data parallel: wall time per image with every core generating its own images — a throughput, not a latency). cfg computes exactly what sequential sampling computes (PSNR/SSIM against it: ∞ / 1 up to float rounding).',
    '',
    '### Image model (digits) — the paper\'s Table 1 on our model',
    '',
    mainTable(main, seq1, seqAll, false),
    '',
    '### Acceptance (issue #3)',
    '',
    acceptance(r.image, seq1, seqAll),
    '',
    '### Warm-up sweep, N = 2, stride 1',
    '',
    mainTable(sweep, seq1, seqAll, false),
    ...(over.length > 0 ? ['', '### Oversubscribed (more devices than cores — not a speedup claim)', '', mainTable(over, seq1, seqAll, false)] : []),
    '',
    '### Where a step\'s time goes',
    '',
    profileTable(r.image.filter((x) => x.config.runner === 'process'), r.steps),
    '',
    '"Outside session.run" = 1 − (slowest stage\'s time inside `session.run`) / (step wall time in the runner): dispatch, futex wake-ups, ORT\'s own per-run overhead outside the kernel, and the two stages finishing at different times. "Hand-off" is the part of it the hand-off itself costs, from timestamps on a clock all processes share (CLOCK_MONOTONIC) in the control block: for the run that ended the step (every run of a warm-up chain), request doorbell → stage awake (counted from the step\'s start for runs dispatched ahead of it) plus stage done → coordinator awake; tensors stay in shared memory and are never copied. Sampler math (guidance + scheduler) runs in the coordinator between steps.',
    '',
    '### Memory',
    '',
    memoryTable(r.image),
    '',
    ...(r.video.length > 0
      ? ['### Video model (moving-digits)', '', `Quality over ${r.video[0]?.quality?.samples ?? 0} clips of 8 frames; per-frame agreement and Fréchet distance against 2,000 real video frames; temporal SSIM = mean SSIM of consecutive frames; motion = centre-of-mass travel first → last frame.`, '', mainTable(r.video, vSeq1, vSeqAll, true), '']
      : []),
    '### Hand-off latency between two processes (`npx tsx bench/handoff.ts`)',
    '',
    handoffTable(r.handoff),
  ].join('\n');
}
