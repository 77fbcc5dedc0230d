// The diagnostics panel's HTML: the report bundle (out/webview/report.{js,css},
// the same one the standalone report inlines) loaded from the extension's own
// files under a Content Security Policy with a nonce. Pure: URIs come in as strings.
import { randomBytes } from 'node:crypto';

export interface PanelHtmlInput {
  scriptUri: string;
  styleUri: string;
  /** webview.cspSource: the origin the webview serves local resources from. */
  cspSource: string;
  nonce?: string;
  title: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

function attr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function panelHtml(inp: PanelHtmlInput): string {
  const nonce = inp.nonce ?? makeNonce();
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<meta http-equiv="Content-Security-Policy" content="${attr(panelCsp(inp.cspSource, nonce))}">\n` +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${attr(inp.title)}</title>\n` +
    `<link rel="stylesheet" nonce="${nonce}" href="${attr(inp.styleUri)}">\n</head>\n` +
    '<body class="cje-webview">\n<div id="cje-root"><p class="muted">Loading the report…</p></div>\n' +
    `<script nonce="${nonce}" src="${attr(inp.scriptUri)}"></script>\n</body>\n</html>\n`
  );
}
