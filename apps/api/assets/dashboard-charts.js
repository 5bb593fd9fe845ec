// @ts-check
/**
 * The dashboard's charts, drawn with uPlot (served from the API's own node_modules as
 * `assets/uplot.iife.min.js`, loaded by the page before this module; never from a CDN):
 *
 * - queue depth (waiting, running) per queue over the last hour, sampled by the API each minute;
 * - completions and failures per minute over the last hour, from BullMQ's built-in metrics;
 * - the step-time histogram per model and parallel mode (the GPU hosts' step times, summed over
 *   live hosts; each series as a share of its steps, so fast and slow models compare);
 * - where a running job's steps go: each stage's time inside `session.run`, the hand-off, and
 *   the whole step, over its last steps (from its host's heartbeat).
 *
 * Charts are created once per set of series and then only fed new data, so a snapshot every
 * second costs a redraw, not a rebuild.
 */

/** @typedef {{ name: string, waiting: Array<number | null>, active: Array<number | null>, completed: number[], failed: number[] }} HistoryRow */
/** @typedef {{ minutes: number[], queues: HistoryRow[] }} History */
/** @typedef {{ model: string, mode: string, counts: number[], sumSec: number, count: number }} StepHistogram */
/** @typedef {{ bucketsSec: number[], series: StepHistogram[] }} StepTimes */
/** @typedef {{ step: number, stepMs: number, handoffMs: number, stageMs: number[] }} StepTiming */
/** @typedef {{ jobId: string, model: string, mode: string, stages: number, step: number, steps: number, recentSteps?: StepTiming[] }} TimelineJob */
/** @typedef {{ hostId: string, groups: Array<{ id: string, jobs: TimelineJob[] }> }} TimelineHost */
/** @typedef {{ history: History, stepTimes: StepTimes, hosts: TimelineHost[] }} ChartInput */

const PALETTE = ['#2f6fdb', '#d64545', '#1f9d55', '#b7791f', '#7c3aed', '#0e7490', '#be185d', '#4d7c0f', '#9a3412', '#475569'];
const HEIGHT = 190;

/** @type {Map<string, { key: string, plot: uPlot }>} */
const charts = new Map();

/**
 * Creates (or feeds) the chart in `[data-chart=id]`; rebuilt only when its series change.
 * @param {string} id
 * @param {string} empty text shown instead of a chart when there is nothing to draw
 * @param {(() => { series: uPlot.Series[], data: uPlot.AlignedData, axes?: uPlot.Axis[], scales?: uPlot.Scales }) | null} build
 */
function chart(id, empty, build) {
  const box = document.querySelector(`[data-chart="${id}"]`);
  if (!(box instanceof HTMLElement)) return;
  const old = charts.get(id);
  if (!build) {
    old?.plot.destroy();
    charts.delete(id);
    box.replaceChildren(Object.assign(document.createElement('p'), { className: 'empty', textContent: empty }));
    box.dataset['state'] = 'empty';
    return;
  }
  const spec = build();
  const key = JSON.stringify(spec.series.map((s) => s.label));
  if (old && old.key === key) {
    old.plot.setData(spec.data);
  } else {
    old?.plot.destroy();
    box.replaceChildren();
    const width = Math.max(280, box.clientWidth || 480);
    /** @type {uPlot.Options} */
    const options = {
      width,
      height: HEIGHT,
      series: spec.series,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      ...(spec.axes && { axes: spec.axes }),
      ...(spec.scales && { scales: spec.scales }),
    };
    charts.set(id, { key, plot: new uPlot(options, spec.data, box) });
  }
  box.dataset['state'] = 'drawn';
  box.dataset['series'] = String(spec.series.length - 1);
}

/**
 * @param {string} label
 * @param {number} i colour index
 * @param {Partial<uPlot.Series>} [extra]
 * @returns {uPlot.Series}
 */
const line = (label, i, extra = {}) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, ...extra });

/** @param {History} h */
function queueDepth(h) {
  const sampled = h.queues.some((q) => q.waiting.some((v) => v !== null));
  chart('queue-depth', 'No queue depth sampled in the last hour.', sampled ? () => {
    const series = [{}, ...h.queues.flatMap((q, i) => [line(`${q.name} waiting`, 2 * i), line(`${q.name} running`, 2 * i + 1, { dash: [4, 3] })])];
    const data = /** @type {uPlot.AlignedData} */ ([h.minutes.map((m) => m / 1000), ...h.queues.flatMap((q) => [q.waiting, q.active])]);
    return { series, data };
  } : null);
}

/** @param {History} h */
function throughput(h) {
  const any = h.queues.some((q) => q.completed.some((v) => v > 0) || q.failed.some((v) => v > 0));
  chart('throughput', 'No job finished in the last hour.', any ? () => {
    const bars = uPlot.paths.bars?.({ size: [0.6, 24] });
    const series = [
      {},
      ...h.queues.flatMap((q, i) => [
        line(`${q.name} completed`, 2 * i, { fill: `${PALETTE[(2 * i) % PALETTE.length]}33`, ...(bars && { paths: bars }), points: { show: false } }),
        line(`${q.name} failed`, 2 * i + 1, { points: { show: false } }),
      ]),
    ];
    const data = /** @type {uPlot.AlignedData} */ ([h.minutes.map((m) => m / 1000), ...h.queues.flatMap((q) => [q.completed, q.failed])]);
    return { series, data, scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } } };
  } : null);
}

/** @param {number} sec */
const bound = (sec) => (sec < 1 ? `${+(sec * 1000).toFixed(1)} ms` : `${sec} s`);

/** @param {StepTimes} t */
function stepHistogram(t) {
  const series = t.series.filter((s) => s.count > 0);
  chart('step-histogram', 'No steps run since the live GPU hosts started.', series.length ? () => {
    const labels = [...t.bucketsSec.map((b) => `≤ ${bound(b)}`), `> ${bound(t.bucketsSec.at(-1) ?? 0)}`];
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    return {
      series: [
        { label: 'bucket', value: (_u, i) => (i === null ? '—' : labels[i] ?? '') },
        ...series.map((s, i) =>
          line(`${s.model} ${s.mode} (${s.count} steps, mean ${bound(s.sumSec / s.count)})`, i, {
            fill: `${PALETTE[i % PALETTE.length]}22`,
            ...(stepped && { paths: stepped }),
            value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)} %`),
          }),
        ),
      ],
      data: /** @type {uPlot.AlignedData} */ ([labels.map((_, i) => i), ...series.map((s) => s.counts.map((c) => (100 * c) / s.count))]),
      scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(10, Math.ceil(max / 10) * 10)] } },
      axes: [
        { values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? labels[i] ?? '' : '')), space: 60 },
        { values: (_u, splits) => splits.map((v) => `${v} %`), size: 50 },
      ],
    };
  } : null);
}

/** @param {TimelineHost[]} hosts */
function stageTimeline(hosts) {
  const jobs = hosts.flatMap((h) => h.groups.flatMap((g) => g.jobs.map((j) => ({ ...j, where: `${h.hostId}/${g.id}` }))));
  const job = jobs.find((j) => (j.recentSteps?.length ?? 0) > 0);
  const title = document.querySelector('[data-chart-title="stage-timeline"]');
  if (title) title.textContent = job ? `${job.jobId} · ${job.model} ${job.mode}${job.mode === 'async' ? ` ×${job.stages}` : ''} on ${job.where} · step ${job.step}/${job.steps}` : '';
  chart('stage-timeline', 'No job is running.', job?.recentSteps?.length ? () => {
    const steps = job.recentSteps ?? [];
    const stages = Math.max(0, ...steps.map((s) => s.stageMs.length));
    const series = [
      { label: 'step' },
      line('whole step', 0, { width: 2.5 }),
      ...Array.from({ length: stages }, (_, d) => line(`stage ${d} session.run`, d + 2, { fill: `${PALETTE[(d + 2) % PALETTE.length]}18` })),
      line('hand-off', 1, { dash: [4, 3] }),
    ];
    const data = /** @type {uPlot.AlignedData} */ ([
      steps.map((s) => s.step),
      steps.map((s) => s.stepMs),
      ...Array.from({ length: stages }, (_, d) => steps.map((s) => s.stageMs[d] ?? 0)),
      steps.map((s) => s.handoffMs),
    ]);
    return {
      series,
      data,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, { values: (_u, splits) => splits.map((v) => `${+v.toFixed(2)} ms`), size: 70 }],
    };
  } : null);
  const box = document.querySelector('[data-chart="stage-timeline"]');
  if (box instanceof HTMLElement) box.dataset['jobId'] = job?.jobId ?? '';
}

/**
 * Draws every chart from a snapshot.
 * @param {ChartInput} s
 */
export function renderCharts(s) {
  if (typeof uPlot !== 'function') return;
  queueDepth(s.history);
  throughput(s.history);
  stepHistogram(s.stepTimes);
  stageTimeline(s.hosts);
}

// Charts take their container's width when built: rebuild them after the window is resized.
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => {
    for (const [id, c] of charts) {
      const box = document.querySelector(`[data-chart="${id}"]`);
      if (box instanceof HTMLElement) c.plot.setSize({ width: Math.max(280, box.clientWidth || 480), height: HEIGHT });
    }
  }, 150);
});
