// Entry of the bundled CLI, out/dist/cje.js (scripts/build-extension.mjs): the
// same as bin/cje.js, for the platform-specific .vsix, which carries no
// compiled sources (out/src) and no bin/. The extension starts the local
// worker as `<extension host's node> out/dist/cje.js worker --model DIR`;
// a user can run any other `cje` command from it too.
import { redact } from '../core/secrets';
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`cje: ${redact(String(err && (err as Error).message ? (err as Error).message : err))}`);
    process.exitCode = 2;
  },
);
