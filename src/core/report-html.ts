// One self-contained HTML report: the webview bundle (JS + CSS, built by
// scripts/build-webview.mjs into out/webview/) and the data inlined, under a
// strict Content Security Policy with a fresh nonce. No network, no CDN.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { writeFileAtomic } from './atomic-write';
import * as path from 'node:path';
import { packageRoot } from './package-root';
import type { ReportData } from './report-types';

/** Where the build puts the webview bundle, relative to the package root. */
export const WEBVIEW_BUNDLE_DIR = 'out/webview';

export interface WebviewBundle {
  js: string;
  css: string;
}

let cached: WebviewBundle | undefined;

/** Reads out/webview/report.{js,css}; throws a clear error when the webview was not built. */
export function loadWebviewBundle(dir = path.join(packageRoot(), WEBVIEW_BUNDLE_DIR)): WebviewBundle {
  if (cached && dir === path.join(packageRoot(), WEBVIEW_BUNDLE_DIR)) return cached;
  const jsFile = path.join(dir, 'report.js');
  const cssFile = path.join(dir, 'report.css');
  if (!fs.existsSync(jsFile) || !fs.existsSync(cssFile)) {
    throw new Error(`the report's webview bundle is missing (${jsFile}); build it with "npm run build:webview"`);
  }
  const b = { js: fs.readFileSync(jsFile, 'utf8'), css: fs.readFileSync(cssFile, 'utf8') };
  if (dir === path.join(packageRoot(), WEBVIEW_BUNDLE_DIR)) cached = b;
  return b;
}

/** JSON safe inside a <script> element: no '<' (so no </script> or <!--), no U+2028/2029 surprises. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function newNonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

/** The standalone report page as one string. */
export function reportHtml(data: ReportData, bundle: WebviewBundle = loadWebviewBundle(), nonce = newNonce()): string {
  // A literal "</script" or "</style" inside the inlined code would end the element early.
  const js = bundle.js.replace(/<\/(script)/gi, '<\\/$1');
  const css = bundle.css.replace(/<\/(style)/gi, '<\\/$1');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const title = `CJE report — ${path.basename(data.meta.input)}`;
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">\n` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${escapeHtml(title)}</title>\n` +
    `<style nonce="${nonce}">${css}</style>\n</head>\n` +
    '<body class="cje-standalone">\n<div id="cje-root"></div>\n' +
    `<script type="application/json" id="cje-data">${jsonForScript(data)}</script>\n` +
    `<script nonce="${nonce}">${js}</script>\n</body>\n</html>\n`
  );
}

/** Writes the report page; returns its size in bytes. */
export function writeReportHtml(file: string, data: ReportData, bundle?: WebviewBundle): { bytes: number } {
  const html = reportHtml(data, bundle);
  writeFileAtomic(file, html);
  return { bytes: Buffer.byteLength(html) };
}
