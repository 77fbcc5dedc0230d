// The @vscode-elements/elements web components this UI uses (the maintained
// successor of the deprecated @vscode/webview-ui-toolkit). Each is imported
// from its own entry point, never the package's main module, so the bundle
// holds only these and the Lit runtime they share. Importing registers the
// custom elements; their styles are Lit constructable stylesheets
// (adoptedStyleSheets), which the nonce CSP allows.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';

import { el } from './dom';

export interface Choice {
  value: string;
  label: string;
}

/**
 * A vscode-single-select with its options; `value` is marked selected on its
 * option (labels are set as text). `onChange` gets the chosen value.
 */
export function singleSelect(label: string, choices: Choice[], value: string, onChange: (value: string) => void): HTMLElement {
  const s = el('vscode-single-select');
  s.label = label;
  for (const c of choices) {
    const o = el('vscode-option', null, c.label);
    o.value = c.value;
    if (c.value === value) o.selected = true;
    s.appendChild(o);
  }
  s.addEventListener('change', () => onChange(s.value));
  return s;
}
