#!/bin/sh
# Executable stand-in for VS Code in @vscode/test-electron's runTests({vscodeExecutablePath}):
# runs the extension's tests in code-server + headless Chromium (see test/integration/standin.ts).
# Needs `npm run build` and scripts/setup-vscode-test.sh first.
here=$(cd "$(dirname "$0")/.." && pwd)
exec node "$here/out/test/integration/standin.js" "$@"
