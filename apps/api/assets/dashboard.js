// @ts-check
/**
 * The ops dashboard's client: renders the snapshot the server embedded in the page, then keeps
 * it live from `GET /dashboard/api/stream` (SSE: `snapshot`, `job`, `progress`, `preview` events) without
 * reloading, and sends the actions (pause/resume/clean/retry/cancel) as small JSON POSTs.
 *
 * Deliberately plain: one ES module, no framework, no build step (see README.md beside it).
 * Untrusted strings (prompts, errors, host names) only ever go through `textContent`.
 */

/** @typedef {{ code: string, message: string }} ErrorInfo */
/** @typedef {{ p50: number, p95: number, samples: number }} Percentiles */
/** @typedef {{ finished: number, succeeded: number, failed: number, canceled: number, perHour: number, queueWaitMs: Percentiles | null, runMs: Percentiles | null }} WindowStats */
/** @typedef {{ name: string, kind: string, paused: boolean, counts: Record<string, number>, lastHour: WindowStats | null }} QueueRow */
/** @typedef {{ id: string, type: string, status: string, model: string, prompt: string, seed: number, steps: number, step: number, percent: number, host: string | null, batchId: string | null, attempts: number, createdAt: string, finishedAt: string | null, error: ErrorInfo | null, retryOf: string | null, retriedBy: string | null }} JobRow */
/** @typedef {{ jobId: string, kind: string, contentType: string, url: string, prompt: string, seed: number }} GalleryItem */
/** @typedef {import('./dashboard-charts.js').StepTiming} StepTiming */
/** @typedef {{ jobId: string, kind: string, model: string, step: number, steps: number, stepsPerSec: number, mode: string, stages: number, devices: string[], startedAt: number, recentSteps?: StepTiming[], batched?: boolean }} HostJob */
/** @typedef {{ device: string, pid: number, state: string, restarts: number, engine: string }} HostStage */
/** @typedef {{ device: string, model: string, members: number, rows: number, maxRows: number, queued: number, recentRows?: number[] }} HostBatch */
/** @typedef {{ id: string, devices: string[], state: string, jobs: HostJob[], stages: HostStage[], batches?: HostBatch[] }} HostGroup */
/** @typedef {{ hostId: string, hostname: string, pid: number, startedAt: number, lastHeartbeatAt: number, heartbeatIntervalMs: number, heartbeatAgeMs: number, alive: boolean, devices: Array<{ label: string, kind: string, name?: string, memoryMiB?: number }>, groups: HostGroup[] }} HostRow */
/** @typedef {{ key: string, url: string | null } | null} Artifact */
/** @typedef {{ id: string, name: string | null, type: string, model: string | null, status: string, cancelRequested: boolean, priority: number, total: number, round: number, counts: Record<string, number>, progress: { percent: number, ended: number, total: number }, eta: { seconds: number, at: string } | null, createdAt: string, startedAt: string | null, finishedAt: string | null, failed: Array<{ index: number, jobId: string, error: ErrorInfo | null }>, manifest: Artifact, contactSheet: Artifact, finalizeError: ErrorInfo | null }} BatchView */
/** @typedef {{ jobId: string, step: number, steps: number, mime: string, width: number, height: number, data: string }} Preview */
/** @typedef {{ at: string, queues: QueueRow[], hosts: HostRow[], batches: BatchView[], jobs: JobRow[], failed: JobRow[], gallery: GalleryItem[], history: import('./dashboard-charts.js').History, stepTimes: import('./dashboard-charts.js').StepTimes }} Snapshot */

import { renderCharts } from './dashboard-charts.js';

const base = document.body.dataset['base'] ?? '/dashboard';

/**
 * The latest live preview of each running job (jobs submitted with `preview: {every: k}`), so a
 * row that is re-rendered by a snapshot keeps showing it. Dropped when the job ends: its output
 * is in the gallery then.
 * @type {Map<string, Preview>}
 */
const previews = new Map();

// ---------------------------------------------------------------- tiny DOM helpers

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs]
 * @param {Array<Node | string | null | undefined | false>} [children]
 * @returns {HTMLElement}
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'text') node.textContent = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * Keyed update of a container's children: existing elements are kept (and only re-filled when
 * their data changed), new ones created, missing ones removed, order follows `items`.
 * @template T
 * @param {Element} container
 * @param {readonly T[]} items
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => HTMLElement} render
 */
function reconcile(container, items, keyOf, render) {
  /** @type {Map<string, HTMLElement>} */
  const existing = new Map();
  for (const child of Array.from(container.children)) if (child instanceof HTMLElement && child.dataset['key']) existing.set(child.dataset['key'], child);
  /** @type {Element | null} */
  let previous = null;
  for (const item of items) {
    const key = keyOf(item);
    const signature = JSON.stringify(item);
    let node = existing.get(key);
    if (node) existing.delete(key);
    if (!node || node.dataset['sig'] !== signature) {
      const fresh = render(item);
      fresh.dataset['key'] = key;
      fresh.dataset['sig'] = signature;
      if (node) node.replaceWith(fresh);
      node = fresh;
    }
    /** @type {Element | null} */
    const want = previous ? previous.nextElementSibling : container.firstElementChild;
    if (want !== node) container.insertBefore(node, want);
    previous = node;
  }
  for (const stale of existing.values()) stale.remove();
}

/** @param {string} section @returns {HTMLElement} */
function body(section) {
  const node = document.querySelector(`[data-section="${section}"]`);
  if (!(node instanceof HTMLElement)) throw new Error(`no section ${section}`);
  return node;
}

/**
 * The table of a section (created once), or an empty-state line when there is nothing to show.
 * @param {string} section @param {string[]} headings @param {boolean} empty @param {string} emptyText
 * @returns {HTMLElement | null} the tbody, or null when empty
 */
function table(section, headings, empty, emptyText) {
  const host = body(section);
  if (empty) {
    host.replaceChildren(el('p', { class: 'empty', text: emptyText }));
    return null;
  }
  /** @type {HTMLElement | null} */
  let tbody = host.querySelector('tbody');
  if (!tbody) {
    tbody = el('tbody');
    host.replaceChildren(el('table', {}, [el('thead', {}, [el('tr', {}, headings.map((h) => el('th', { text: h })))]), tbody]));
  }
  return tbody;
}

/**
 * A section's item container (a div of class `cls`, created once), or an empty-state line when
 * there is nothing to show.
 * @param {string} section @param {string} cls @param {boolean} empty @param {string} emptyText
 * @returns {Element | null} the container, or null when empty
 */
function panel(section, cls, empty, emptyText) {
  const host = body(section);
  if (empty) {
    host.replaceChildren(el('p', { class: 'empty', text: emptyText }));
    return null;
  }
  if (!host.querySelector(`.${cls}`)) host.replaceChildren(el('div', { class: cls }));
  return host.querySelector(`.${cls}`);
}

// ---------------------------------------------------------------- formatting

/** @param {number | null | undefined} ms */
function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} m`;
}

/** @param {string | number | null} at */
function ago(at) {
  if (at === null) return '–';
  const ms = Date.now() - (typeof at === 'number' ? at : Date.parse(at));
  return ms < 1500 ? 'just now' : `${duration(ms)} ago`;
}

/** @param {string} id */
const shortId = (id) => `${id.slice(0, id.indexOf('_') + 1)}…${id.slice(-6)}`;

/** @param {string} status */
const badge = (status) => el('span', { class: `badge ${status}`, text: status.replace(/_/g, ' ') });

/** @param {number} percent @param {string} [cls] */
function bar(percent, cls = '') {
  const fill = el('span', { class: `fill ${cls}` });
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return el('span', { class: 'bar', 'data-percent': percent }, [fill]);
}

/**
 * A device's batch occupancy over the last minute: one bar per second, its height the most rows
 * a step ran that second against the admission limit.
 * @param {number[]} rows @param {number} maxRows
 */
function occupancySparkline(rows, maxRows) {
  const top = Math.max(1, maxRows, ...rows);
  return el(
    'span',
    { class: 'sparkline', 'data-samples': rows.length, 'data-peak': Math.max(0, ...rows), title: `rows per step, last ${rows.length} s (limit ${maxRows})` },
    rows.map((r) => {
      const b = el('span', { class: 'spark' });
      b.style.height = `${Math.round((100 * r) / top)}%`;
      return b;
    }),
  );
}

/** @param {HostBatch[]} batches */
function batchTable(batches) {
  return el('table', { class: 'batches' }, [
    el('thead', {}, [el('tr', {}, ['batch on', 'model', 'jobs', 'rows / limit', 'waiting', 'last minute'].map((t) => el('th', { text: t })))]),
    el(
      'tbody',
      {},
      batches.map((b) =>
        el('tr', { 'data-batch-device': b.device }, [
          el('td', { class: 'mono', text: b.device }),
          el('td', { text: b.model }),
          el('td', { class: 'num', 'data-members': b.members, text: b.members }),
          el('td', { class: 'num', text: `${b.rows} / ${b.maxRows}` }),
          el('td', { class: 'num', text: b.queued }),
          el('td', {}, [occupancySparkline(b.recentRows ?? [], b.maxRows)]),
        ]),
      ),
    ),
  ]);
}

/** @param {Array<Node | string | null | undefined | false>} children */
const actionsCell = (children) => el('td', {}, [el('div', { class: 'actions' }, children)]);

/** @param {string} action @param {string} id @param {string} label @param {string} [confirmText] */
const button = (action, id, label, confirmText) => el('button', { type: 'button', class: 'small', 'data-action': action, 'data-id': id, 'data-confirm': confirmText, text: label });

// ---------------------------------------------------------------- sections

/** @param {QueueRow[]} queues */
function renderQueues(queues) {
  const tbody = table('queues', ['queue', 'state', 'waiting', 'running', 'delayed', 'failed', 'done (kept)', 'ended / h', 'wait p50 / p95', 'run p50 / p95', 'actions'], queues.length === 0, 'No queues.');
  if (!tbody) return;
  reconcile(tbody, queues, (q) => q.name, (q) => {
    const c = q.counts;
    const h = q.lastHour;
    const jobQueue = q.kind !== 'batches';
    return el('tr', { 'data-queue': q.name, 'data-paused': String(q.paused) }, [
      el('td', { class: 'mono', text: q.name }),
      el('td', {}, [badge(q.paused ? 'paused' : 'active')]),
      el('td', { class: 'num', text: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) + (c['waiting-children'] ?? 0) + (c['paused'] ?? 0) }),
      el('td', { class: 'num', text: c['active'] ?? 0 }),
      el('td', { class: 'num', text: c['delayed'] ?? 0 }),
      el('td', { class: 'num', text: c['failed'] ?? 0 }),
      el('td', { class: 'num', text: c['completed'] ?? 0 }),
      el('td', { class: 'num', text: h ? `${h.finished} (${h.failed} failed)` : '–' }),
      el('td', { class: 'num', text: h?.queueWaitMs ? `${duration(h.queueWaitMs.p50)} / ${duration(h.queueWaitMs.p95)}` : '–' }),
      el('td', { class: 'num', text: h?.runMs ? `${duration(h.runMs.p50)} / ${duration(h.runMs.p95)}` : '–' }),
      actionsCell([
        q.paused ? button('queue-resume', q.name, 'Resume') : button('queue-pause', q.name, 'Pause', `Pause the ${q.name} queue? Hosts stop taking its jobs.`),
        jobQueue ? button('queue-retry-failed', q.name, 'Retry failed') : null,
        jobQueue ? button('queue-cancel-queued', q.name, 'Cancel queued', `Cancel every queued ${q.name} job?`) : null,
        button('queue-clean-completed', q.name, 'Clean done'),
        button('queue-clean-failed', q.name, 'Clean failed'),
      ]),
    ]);
  });
}

/** @param {HostRow[]} hosts */
function renderHosts(hosts) {
  const list = panel('hosts', 'hosts', !hosts.length, 'No GPU host is sending heartbeats.');
  if (!list) return;
  reconcile(list, hosts, (h) => h.hostId, (h) =>
    el('article', { class: `host ${h.alive ? '' : 'stale'}`, 'data-host-id': h.hostId }, [
      el('header', {}, [
        el('strong', { class: 'mono', text: h.hostId }),
        el('span', { class: 'muted', text: ` ${h.hostname} · pid ${h.pid} · up ${duration(Date.now() - h.startedAt)}` }),
        el('span', { class: `heartbeat ${h.alive ? 'ok' : 'late'}`, text: `heartbeat ${duration(h.heartbeatAgeMs)} ago` }),
      ]),
      el('p', { class: 'devices' }, h.devices.map((d) => el('span', { class: 'chip', text: `${d.label}${d.name ? ` ${d.name}` : ''}${d.memoryMiB ? ` ${Math.round(d.memoryMiB / 1024)} GiB` : ''}` }))),
      ...h.groups.map((g) =>
        el('section', { class: 'group', 'data-group': g.id }, [
          el('h3', {}, [el('span', { class: 'mono', text: g.id }), ' ', badge(g.state), el('span', { class: 'muted', text: ` ${g.devices.join(', ')}` })]),
          g.jobs.length
            ? el(
                'ul',
                { class: 'group-jobs' },
                g.jobs.map((j) =>
                  el('li', { 'data-job-id': j.jobId }, [
                    el('span', { class: 'mono', text: shortId(j.jobId) }),
                    ` ${j.kind} ${j.model} · ${j.mode}${j.mode === 'async' ? ` ×${j.stages}` : ''}${j.batched ? ' (batched)' : ''} · step ${j.step}/${j.steps} · ${j.stepsPerSec.toFixed(1)} steps/s `,
                    bar(j.steps ? (100 * j.step) / j.steps : 0, 'running'),
                  ]),
                ),
              )
            : el('p', { class: 'muted', text: 'idle' }),
          g.batches?.length ? batchTable(g.batches) : null,
          g.stages.length
            ? el('table', { class: 'stages' }, [
                el('thead', {}, [el('tr', {}, ['device', 'pid', 'state', 'restarts', 'engine'].map((t) => el('th', { text: t })))]),
                el(
                  'tbody',
                  {},
                  g.stages.map((s) =>
                    el('tr', {}, [
                      el('td', { class: 'mono', text: s.device }),
                      el('td', { class: 'num', text: s.pid }),
                      el('td', {}, [badge(s.state)]),
                      el('td', { class: `num ${s.restarts > 0 ? 'warn' : ''}`, text: s.restarts }),
                      el('td', { class: 'mono muted', text: s.engine }),
                    ]),
                  ),
                ),
              ])
            : null,
        ]),
      ),
    ]),
  );
}

/** @param {BatchView} b */
function batchBar(b) {
  const t = Math.max(1, b.total);
  const segments = [
    ['succeeded', b.counts['succeeded'] ?? 0],
    ['failed', b.counts['failed'] ?? 0],
    ['canceled', b.counts['canceled'] ?? 0],
    ['running', b.counts['running'] ?? 0],
  ];
  return el(
    'span',
    { class: 'bar stacked', 'data-percent': b.progress.percent, title: segments.map(([s, n]) => `${n} ${s}`).join(', ') },
    segments.map(([cls, n]) => {
      const fill = el('span', { class: `fill ${cls}` });
      fill.style.width = `${(100 * Number(n)) / t}%`;
      return fill;
    }),
  );
}

/** @param {BatchView[]} batches */
function renderBatches(batches) {
  const tbody = table('batches', ['batch', 'type', 'status', 'progress', 'counts', 'ETA', 'outputs', 'actions'], batches.length === 0, 'No batches yet.');
  if (!tbody) return;
  reconcile(tbody, batches, (b) => b.id, (b) => {
    const open = !['completed', 'completed_with_errors', 'canceled'].includes(b.status);
    const c = b.counts;
    return el('tr', { 'data-batch-id': b.id, 'data-status': b.status }, [
      el('td', {}, [el('span', { class: 'mono', text: shortId(b.id), title: b.id }), b.name ? el('div', { class: 'muted', text: b.name }) : null]),
      el('td', { text: `${b.type} ${b.model ?? ''}` }),
      el('td', {}, [badge(b.status), b.cancelRequested && open ? el('span', { class: 'muted', text: ' canceling' }) : null]),
      el('td', { class: 'progress' }, [batchBar(b), el('span', { class: 'num', text: ` ${b.progress.ended}/${b.total} (${b.progress.percent}%)` })]),
      el('td', { class: 'num', text: `${c['succeeded']} ok · ${c['failed']} failed · ${c['running']} running · ${c['queued']} queued${c['canceled'] ? ` · ${c['canceled']} canceled` : ''}` }),
      el('td', { class: 'num', text: b.eta && open ? duration(b.eta.seconds * 1000) : open ? '–' : `done ${ago(b.finishedAt)}` }),
      el('td', {}, [
        b.manifest?.url ? el('a', { href: b.manifest.url, target: '_blank', rel: 'noopener', text: 'manifest' }) : null,
        b.contactSheet?.url ? el('a', { href: b.contactSheet.url, target: '_blank', rel: 'noopener', class: 'thumb' }, [el('img', { src: b.contactSheet.url, alt: `contact sheet of ${b.id}`, loading: 'lazy' })]) : null,
      ]),
      actionsCell([
        open && !b.cancelRequested ? button('batch-cancel', b.id, 'Cancel', `Cancel batch ${b.id}? Children that have not finished are canceled.`) : null,
        (c['failed'] ?? 0) > 0 ? button('batch-retry', b.id, 'Retry failed') : null,
      ]),
    ]);
  });
}

/** @param {JobRow} j */
function jobActions(j) {
  return actionsCell([
    j.status === 'queued' || j.status === 'running' ? button('job-cancel', j.id, 'Cancel') : null,
    (j.status === 'failed' || j.status === 'canceled') && !j.retriedBy ? button('job-retry', j.id, 'Retry') : null,
    j.retriedBy ? el('span', { class: 'muted mono', text: `→ ${shortId(j.retriedBy)}` }) : null,
  ]);
}

/**
 * The preview image of a running job, or null when none arrived yet.
 * @param {string} jobId
 */
function previewImg(jobId) {
  const p = previews.get(jobId);
  if (!p) return null;
  return el('img', {
    class: 'preview',
    src: `data:${p.mime};base64,${p.data}`,
    alt: `preview at step ${p.step}/${p.steps}`,
    title: `predicted image at step ${p.step}/${p.steps} (${p.width}×${p.height})`,
    'data-step': p.step,
  });
}

/** @param {JobRow[]} jobs */
function renderJobs(jobs) {
  for (const j of jobs) if (j.status !== 'running' && j.status !== 'queued') previews.delete(j.id);
  const tbody = table('jobs', ['job', 'type', 'prompt · seed', 'status', 'progress', 'host', 'batch', 'created', 'actions'], jobs.length === 0, 'No jobs yet.');
  if (!tbody) return;
  reconcile(tbody, jobs, (j) => j.id, (j) =>
    el('tr', { 'data-job-id': j.id, 'data-status': j.status }, [
      el('td', { class: 'mono', text: shortId(j.id), title: j.id }),
      el('td', { text: `${j.type} ${j.model}` }),
      el('td', { text: `${j.prompt} · ${j.seed}` }),
      el('td', { class: 'status' }, [badge(j.status), j.error ? el('div', { class: 'error', text: j.error.code }) : null]),
      el('td', { class: 'progress' }, [previewImg(j.id), bar(j.percent, j.status), el('span', { class: 'num step', text: ` ${j.step}/${j.steps}` })]),
      el('td', { class: 'mono', text: j.host ?? '–' }),
      el('td', { class: 'mono', text: j.batchId ? shortId(j.batchId) : '–', title: j.batchId ?? '' }),
      el('td', { class: 'muted', text: ago(j.createdAt) }),
      jobActions(j),
    ]),
  );
}

/** @param {JobRow[]} jobs */
function renderFailed(jobs) {
  const tbody = table('failed', ['job', 'type', 'error', 'attempts', 'ended', 'actions'], jobs.length === 0, 'No failed jobs.');
  if (!tbody) return;
  reconcile(tbody, jobs, (j) => j.id, (j) =>
    el('tr', { 'data-job-id': j.id, 'data-status': j.status }, [
      el('td', { class: 'mono', text: shortId(j.id), title: j.id }),
      el('td', { text: `${j.type} ${j.prompt} · ${j.seed}` }),
      el('td', { class: 'error' }, [el('strong', { text: j.error?.code ?? 'FAILED' }), ` ${j.error?.message ?? ''}`]),
      el('td', { class: 'num', text: j.attempts }),
      el('td', { class: 'muted', text: ago(j.finishedAt) }),
      jobActions(j),
    ]),
  );
}

/** @param {GalleryItem[]} items */
function renderGallery(items) {
  const grid = panel('gallery', 'gallery', !items.length, 'No outputs yet.');
  if (!grid) return;
  // Signed URLs change on every snapshot: key and compare by job only, so previews do not reload.
  reconcile(grid, items.map((i) => ({ ...i, url: '' })), (i) => i.jobId, (i) => {
    const item = items.find((x) => x.jobId === i.jobId) ?? i;
    const media = item.contentType.startsWith('video/')
      ? el('video', { src: item.url, muted: true, autoplay: true, loop: true, playsinline: true })
      : el('img', { src: item.url, alt: `${item.kind} ${item.prompt} seed ${item.seed}`, loading: 'lazy' });
    return el('figure', { 'data-job-id': item.jobId }, [media, el('figcaption', { text: `${item.prompt} · ${item.seed}` })]);
  });
}

/** @param {Snapshot} s */
function render(s) {
  renderQueues(s.queues);
  renderHosts(s.hosts);
  renderBatches(s.batches);
  renderJobs(s.jobs);
  renderFailed(s.failed);
  renderGallery(s.gallery);
  renderCharts(s);
  const updated = document.getElementById('updated');
  if (updated) updated.textContent = `updated ${new Date(s.at).toLocaleTimeString()}`;
  document.body.dataset['snapshotAt'] = s.at;
}

// ---------------------------------------------------------------- live updates

/** @param {'live' | 'connecting' | 'offline'} state */
function setLive(state) {
  const node = document.getElementById('live');
  if (!node) return;
  node.dataset['state'] = state;
  node.textContent = state;
}

function connect() {
  const source = new EventSource(`${base}/api/stream`);
  source.addEventListener('open', () => setLive('live'));
  source.addEventListener('error', () => setLive(source.readyState === EventSource.CLOSED ? 'offline' : 'connecting'));
  source.addEventListener('snapshot', (e) => {
    setLive('live');
    render(JSON.parse(/** @type {MessageEvent} */ (e).data));
  });
  source.addEventListener('job', (e) => {
    const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
    const ended = ['succeeded', 'failed', 'canceled'].includes(d.status);
    for (const row of document.querySelectorAll(`tr[data-job-id="${CSS.escape(d.jobId)}"]`)) {
      if (!(row instanceof HTMLElement)) continue;
      row.dataset['status'] = d.status;
      row.querySelector('.status .badge')?.replaceWith(badge(d.status));
      const fill = row.querySelector('.bar .fill');
      if (fill instanceof HTMLElement) {
        fill.className = `fill ${d.status}`;
        if (d.status === 'succeeded') fill.style.width = '100%';
      }
      if (ended) row.querySelector('button[data-action="job-cancel"]')?.remove();
      if (ended) row.querySelector('img.preview')?.remove();
    }
    if (ended) previews.delete(d.jobId);
  });
  source.addEventListener('preview', (e) => {
    /** @type {Preview} */
    const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
    const known = previews.get(d.jobId);
    if (known && known.step >= d.step) return;
    previews.set(d.jobId, d);
    for (const cell of document.querySelectorAll(`#jobs tr[data-job-id="${CSS.escape(d.jobId)}"] td.progress`)) {
      const img = previewImg(d.jobId);
      if (!img) continue;
      const old = cell.querySelector('img.preview');
      if (old) old.replaceWith(img);
      else cell.prepend(img);
    }
  });
  source.addEventListener('progress', (e) => {
    const d = JSON.parse(/** @type {MessageEvent} */ (e).data);
    for (const node of document.querySelectorAll(`[data-job-id="${CSS.escape(d.jobId)}"]`)) {
      const fill = node.querySelector('.bar .fill');
      if (fill instanceof HTMLElement) fill.style.width = `${d.percent}%`;
      const step = node.querySelector('.step');
      if (step) step.textContent = ` ${d.step}/${d.steps}`;
    }
  });
}

// ---------------------------------------------------------------- actions and search

/** @param {string} text @param {boolean} [isError] */
function toast(text, isError = false) {
  const node = document.getElementById('toast');
  if (!node) return;
  node.textContent = text;
  node.className = isError ? 'show error' : 'show';
  clearTimeout(Number(node.dataset['timer']));
  node.dataset['timer'] = String(setTimeout(() => (node.className = ''), 4000));
}

/** @type {Record<string, (id: string) => [string, unknown?]>} */
const ACTIONS = {
  'job-cancel': (id) => [`/api/jobs/${id}/cancel`],
  'job-retry': (id) => [`/api/jobs/${id}/retry`],
  'batch-cancel': (id) => [`/api/batches/${id}/cancel`],
  'batch-retry': (id) => [`/api/batches/${id}/retry-failed`],
  'queue-pause': (id) => [`/api/queues/${id}/pause`],
  'queue-resume': (id) => [`/api/queues/${id}/resume`],
  'queue-retry-failed': (id) => [`/api/queues/${id}/retry-failed`],
  'queue-cancel-queued': (id) => [`/api/queues/${id}/cancel-queued`],
  'queue-clean-completed': (id) => [`/api/queues/${id}/clean`, { state: 'completed' }],
  'queue-clean-failed': (id) => [`/api/queues/${id}/clean`, { state: 'failed' }],
};

/** @param {string} path @param {unknown} [payload] */
async function post(path, payload) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-asyncdiff-dashboard': '1' },
    body: JSON.stringify(payload ?? {}),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data?.error?.message ?? `HTTP ${res.status}`);
  return data;
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
  if (!(target instanceof HTMLButtonElement)) return;
  const action = target.dataset['action'] ?? '';
  const id = target.dataset['id'] ?? '';
  const make = ACTIONS[action];
  if (!make) return;
  if (target.dataset['confirm'] && !window.confirm(target.dataset['confirm'])) return;
  const [path, payload] = make(id);
  target.disabled = true;
  post(path, payload).then(
    (data) => {
      const detail = Object.entries(data)
        .filter(([k]) => k !== 'ok')
        .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(', ');
      toast(`${action.replace(/-/g, ' ')} ${id}: done${detail ? ` (${detail})` : ''}`);
    },
    (err) => {
      target.disabled = false;
      toast(`${action.replace(/-/g, ' ')} ${id} failed: ${err instanceof Error ? err.message : String(err)}`, true);
    },
  );
});

document.getElementById('search')?.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('search-id');
  const id = input instanceof HTMLInputElement ? input.value.trim() : '';
  const kind = id.startsWith('batch_') ? 'batches' : 'jobs';
  const found = document.getElementById('found');
  const out = body('found');
  fetch(`${base}/api/${kind}/${encodeURIComponent(id)}`, { credentials: 'same-origin' })
    .then(async (res) => {
      const data = await res.json();
      if (!res.ok) throw new Error(data?.error?.message ?? `HTTP ${res.status}`);
      return data;
    })
    .then(
      (data) => {
        const outputs = Array.isArray(data.outputs) ? data.outputs.filter((/** @type {{ url: string | null, kind: string }} */ o) => o.url && o.kind !== 'sidecar') : [];
        out.replaceChildren(
          el('div', { class: 'found', 'data-found-id': data.id, 'data-status': data.status }, [
            el('p', {}, [el('strong', { class: 'mono', text: data.id }), ' ', badge(data.status)]),
            ...outputs.map((/** @type {{ url: string, contentType: string }} */ o) =>
              o.contentType.startsWith('video/') ? el('video', { src: o.url, muted: true, autoplay: true, loop: true }) : el('img', { src: o.url, alt: 'output' }),
            ),
            el('pre', { text: JSON.stringify(data, null, 2) }),
          ]),
        );
        if (found) found.hidden = false;
      },
      (err) => {
        out.replaceChildren(el('p', { class: 'error', text: err instanceof Error ? err.message : String(err) }));
        if (found) found.hidden = false;
      },
    );
});

document.getElementById('found-close')?.addEventListener('click', () => {
  const found = document.getElementById('found');
  if (found) found.hidden = true;
});

// ---------------------------------------------------------------- start

const initial = document.getElementById('initial-snapshot');
if (initial?.textContent) render(JSON.parse(initial.textContent));
connect();
