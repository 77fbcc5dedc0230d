// Reads a scores file as the product does: every stored line form (packed token
// detail included, src/core/score-line-form.ts) back to a ScoreLine; kind lines
// (profiles, repeats) as they are.
import * as fs from 'node:fs';
import { unpackScoreLine } from '../../src/core/score-line-form';
import type { ScoreLine } from '../../src/core/types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readScoresFile(file: string): any[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const v = JSON.parse(l) as Record<string, unknown>;
      return 'kind' in v ? v : (unpackScoreLine(v, { tokens: true }) as ScoreLine);
    });
}
