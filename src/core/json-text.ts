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

/**
 * The value of a jsonc-parser tree as plain objects (jsonc-parser's getNodeValue makes prototype-less ones).
 * Every key becomes an own property, "__proto__" included: a plain assignment of that key would set the
 * object's prototype, so a config could hide fields (a baseURL) from the schema and still have them read.
 * A key written twice keeps its last value, as JSON.parse does (parseConfig refuses such a file).
 */
export function nodeValue(n: Node): unknown {
  switch (n.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const prop of n.children ?? []) {
        Object.defineProperty(o, prop.children![0].value as string, {
          value: prop.children![1] ? nodeValue(prop.children![1]) : undefined,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    case 'array':
      return (n.children ?? []).map(nodeValue);
    default:
      return n.value;
  }
}

/** Keys written more than once in one object of a jsonc-parser tree, each with its earlier and its later property node. */
export function duplicateKeys(root: Node): { path: JSONPath; first: Node; again: Node }[] {
  const out: { path: JSONPath; first: Node; again: Node }[] = [];
  const walk = (n: Node, p: JSONPath) => {
    if (n.type === 'object') {
      const seen = new Map<string, Node>();
      for (const prop of n.children ?? []) {
        const key = prop.children![0].value as string;
        const first = seen.get(key);
        if (first) out.push({ path: [...p, key], first, again: prop });
        else seen.set(key, prop);
        if (prop.children![1]) walk(prop.children![1], [...p, key]);
      }
    } else if (n.type === 'array') (n.children ?? []).forEach((c, i) => walk(c, [...p, i]));
  };
  walk(root, []);
  return out;
}
