import type { JSONPath, Node } from 'jsonc-parser';

/** A JSON path as people write it: policies.base.template, messages[0].role. */
export function dottedPath(p: JSONPath): string {
  return p.map((s) => (typeof s === 'number' ? `[${s}]` : s)).join('.').replace(/\.\[/g, '[');
}

/** 1-based line and column of a character offset. */
export function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, column: offset - last };
}

/** The value of a jsonc-parser tree as plain objects (jsonc-parser's getNodeValue makes prototype-less ones). */
export function nodeValue(n: Node): unknown {
  switch (n.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const prop of n.children ?? []) o[prop.children![0].value as string] = prop.children![1] ? nodeValue(prop.children![1]) : undefined;
      return o;
    }
    case 'array':
      return (n.children ?? []).map(nodeValue);
    default:
      return n.value;
  }
}
