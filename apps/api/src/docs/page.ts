/**
 * Content-Security-Policy of the docs page. Like the dashboard's, scripts come only from this
 * server and nothing is fetched from anywhere else. Two additions Redoc needs: `'unsafe-inline'`
 * styles (it styles itself with styled-components, which injects <style> elements at run time;
 * inline styles cannot run script) and `blob:` workers (its search index runs in a worker built
 * from a Blob). No inline script: the page starts Redoc through the `<redoc spec-url>` element.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
  "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The page: Redoc, served from this server, rendering the document at `specPath`. */
export function docsPage(input: { title: string; specPath: string; scriptPath: string }): string {
  const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${attr(input.title)}</title>
<style>body { margin: 0; }</style>
</head>
<body>
<noscript>This page needs JavaScript. The OpenAPI document itself is at <a href="${attr(input.specPath)}">${attr(input.specPath)}</a>.</noscript>
<redoc spec-url="${attr(input.specPath)}" untrusted-spec="true" required-props-first="true" expand-responses="200,202" json-sample-expand-level="3"></redoc>
<script src="${attr(input.scriptPath)}"></script>
</body>
</html>
`;
}
