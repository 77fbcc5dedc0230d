import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The folder holding this package's package.json, found from the compiled file's location. */
export function packageRoot(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'cje-inspector') return (cached = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the cje-inspector package root above ${__dirname}`);
  }
}
