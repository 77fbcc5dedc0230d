#!/usr/bin/env node
'use strict';
require('../out/src/cli/main.js').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    // Keys looked up by the run are never printed, whatever a server put in its error.
    const { redact } = require('../out/src/core/secrets.js');
    console.error(`cje: ${redact(String(err && err.message ? err.message : err))}`);
    process.exitCode = 2;
  },
);
