import type { DashboardSnapshot } from './snapshot.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** JSON safe inside a <script type="application/json"> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Content-Security-Policy of dashboard pages: our own script and styles only; outputs may come from S3. */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; media-src 'self' https: http:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The dashboard page: a server-rendered shell with the first snapshot embedded, so the page is
 * complete on first paint; `dashboard.js` renders it and keeps it live over SSE.
 */
export function dashboardPage(input: { basePath: string; snapshot: DashboardSnapshot; authEnabled: boolean; bullBoardPath: string }): string {
  const { basePath } = input;
  const chart = (id: string, title: string) =>
    `<figure class="chart"><figcaption>${escapeHtml(title)} <span class="muted mono" data-chart-title="${id}"></span></figcaption><div class="plot" data-chart="${id}"><p class="empty">Loading…</p></div></figure>`;
  const section = (id: string, title: string, extra = '') =>
    `<section id="${id}" class="panel"><h2>${escapeHtml(title)}${extra}</h2><div class="body" data-section="${id}"><p class="empty">Loading…</p></div></section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>asyncdiff fleet — dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${basePath}/assets/uplot.min.css">
<link rel="stylesheet" href="${basePath}/assets/dashboard.css">
<script src="${basePath}/assets/uplot.iife.min.js"></script>
<script type="module" src="${basePath}/assets/dashboard.js"></script>
</head>
<body data-base="${escapeHtml(basePath)}">
<header>
  <h1>asyncdiff fleet</h1>
  <span id="live" class="live" data-state="connecting" title="live updates">connecting</span>
  <span id="updated" class="muted"></span>
  <form id="search" role="search"><input id="search-id" name="id" placeholder="job_… or batch_…" autocomplete="off" aria-label="Job or batch id"><button type="submit">Find</button></form>
  <nav><a href="${escapeHtml(input.bullBoardPath)}">bull-board</a>${input.authEnabled ? ` <form method="post" action="${basePath}/logout" class="inline"><button type="submit">Log out</button></form>` : ''}</nav>
</header>
<div id="toast" role="status" aria-live="polite"></div>
<section id="found" class="panel" hidden><h2>Search result <button type="button" id="found-close" class="small">×</button></h2><div class="body" data-section="found"></div></section>
<main>
${section('queues', 'Queues')}
<section id="charts" class="panel"><h2>Last hour and running jobs</h2><div class="charts">
  ${chart('queue-depth', 'Queue depth (sampled each minute)')}
  ${chart('throughput', 'Jobs finished per minute (BullMQ metrics)')}
  ${chart('step-histogram', 'Step time per model and mode (share of steps)')}
  ${chart('stage-timeline', 'Running job: where each step’s time goes (ms)')}
</div></section>
${section('hosts', 'GPU hosts')}
${section('batches', 'Batches')}
${section('jobs', 'Recent jobs')}
${section('failed', 'Failed jobs')}
${section('gallery', 'Recent outputs')}
</main>
<script id="initial-snapshot" type="application/json">${scriptJson(input.snapshot)}</script>
</body>
</html>
`;
}

/** The login form (when API keys are configured). */
export function loginPage(input: { basePath: string; next: string; error?: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>asyncdiff fleet — log in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${input.basePath}/assets/dashboard.css">
</head>
<body class="login">
<form method="post" action="${input.basePath}/login" class="login-form">
  <h1>asyncdiff fleet</h1>
  <p>Log in with one of the API's keys. The browser keeps a signed session cookie (12 h), not the key.</p>
  ${input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : ''}
  <label>API key <input type="password" name="key" autocomplete="current-password" required minlength="16" autofocus></label>
  <input type="hidden" name="next" value="${escapeHtml(input.next)}">
  <button type="submit">Log in</button>
</form>
</body>
</html>
`;
}
