// The folder the real-VS-Code tests open: a CJE log with its config pointing at
// a loopback completions server, a second log whose config has a wrong
// template, a log with logged log-probs, and files of other types.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './vscode-harness';

export const TEST_API_KEY = 'fw-cje-test-key-SHOULD-NEVER-BE-SHOWN-5f3a9c';

export function configFor(baseURL: string, templates: { base?: string; clone?: string; other?: string } = {}): string {
  const policy = (name: 'base' | 'clone' | 'other', systemPrompt: string) =>
    [
      `    "${name}": {`,
      `      "provider": "openai-compatible", "baseURL": "${baseURL}", "apiKeyEnv": "FIREWORKS_API_KEY",`,
      `      "model": "toy-llama-3-8b-instruct", "template": "${templates[name] ?? 'llama3'}",`,
      `      "systemPrompt": ${JSON.stringify(systemPrompt)},`,
      '      "batchSize": 4, "maxRetries": 2, "timeoutMs": 20000',
      '    }',
    ].join('\n');
  return [
    "// Policies scored against the test's loopback completions server.",
    '{',
    '  "behavior": "base",',
    '  "policies": {',
    policy('base', 'You are a helpful assistant.') + ',',
    '    // same fingerprint as base: weight exactly 1',
    policy('clone', 'You are a helpful assistant.') + ',',
    policy('other', 'You are an unhelpful assistant who gives vague, evasive answers.'),
    '  }',
    '}',
    '',
  ].join('\n');
}

export function makeVsCodeWorkspace(dir: string, baseURL: string): { dir: string; log: string; config: string; badConfig: string } {
  const example = fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8');
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'bad'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'logged'), { recursive: true });
  const log = path.join(dir, 'logs', 'arena.jsonl');
  fs.writeFileSync(log, example);
  const config = path.join(dir, 'cje.config.json');
  fs.writeFileSync(config, configFor(baseURL));
  // The wrong template on purpose (policies.other), in its own folder with its own log.
  const badConfig = path.join(dir, 'bad', 'cje.config.json');
  fs.writeFileSync(badConfig, configFor(baseURL, { clone: 'chatml', other: 'llama5' }));
  fs.writeFileSync(path.join(dir, 'bad', 'run.jsonl'), example.split('\n').slice(0, 4).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'logged', 'with-logprobs.jsonl'), example);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'Not a log.\n');
  fs.writeFileSync(path.join(dir, 'settings-example.json'), '{ "not": "a log" }\n');
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'files.exclude': { '.vscode': true } }, null, 2));
  return { dir, log, config, badConfig };
}
