#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (the Codex CLI into .cache/codex; the SDK clients of
# tests/Clients with npm ci; redis-server
# with apt-get when missing), builds, runs the whole suite, and ends with the totals alone on one line.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

codex_version=0.171.0
if [ ! -x "$root/.cache/codex/node_modules/.bin/codex" ] || ! "$root/.cache/codex/node_modules/.bin/codex" --version 2>/dev/null | grep -q "$codex_version"; then
  echo "installing @openai/codex@$codex_version into .cache/codex"
  mkdir -p "$root/.cache/codex"
  (cd "$root/.cache/codex" && npm install --no-audit --no-fund --loglevel=error "@openai/codex@$codex_version") || { echo "npm install failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The real SDK clients the client tests run with node (tests/Clients): exactly the lockfile's versions. The lockfile's
# hash, stamped after a successful `npm ci`, says whether node_modules already holds them.
clients="$root/tests/Clients"
clients_lock=$(sha256sum "$clients/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$clients/node_modules/.lock-sha256" 2>/dev/null)" != "$clients_lock" ]; then
  echo "installing the client SDKs of tests/Clients (npm ci)"
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error && echo "$clients_lock" > node_modules/.lock-sha256) \
    || { echo "npm ci in tests/Clients failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# Debian packages the tests drive for real: a Redis server, and Chromium for the dashboard test.
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
  echo "installing$missing"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  ($sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null) \
    || { echo "apt-get install$missing failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The offline Kubernetes schema validator the manifest tests use (npm packages into .cache/k8s-validate).
deploy/k8s/validate.sh --install || { echo "k8s validator install failed"; echo "0 passed, 1 failed"; exit 1; }

results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
dotnet build CodexLb.Orleans.sln -c Release -nologo -v q || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
dotnet test tests/Tests/Tests.csproj -c Release --no-build --nologo \
  --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
status=$?

trx="$results/tests.trx"
if [ -f "$trx" ]; then
  passed=$(grep -o 'passed="[0-9]*"' "$trx" | head -1 | grep -o '[0-9]*')
  failed=$(grep -o 'failed="[0-9]*"' "$trx" | head -1 | grep -o '[0-9]*')
  errors=$(grep -o ' error="[0-9]*"' "$trx" | head -1 | grep -o '[0-9]*')
  failed=$(( ${failed:-0} + ${errors:-0} ))
else
  passed=0; failed=1
fi
[ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ] && failed=1
# Name the failures again at the end: a CI log is often read from its tail only.
if [ -f "$trx" ] && [ "${failed:-0}" -ne 0 ]; then
  echo "failed tests:"
  python3 - "$trx" <<'PY' 2>/dev/null || grep -o '<UnitTestResult [^>]*outcome="Failed"' "$trx" | sed -E 's/.*testName="([^"]*)".*/  \1/'
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for r in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult[@outcome='Failed']", ns):
    message = (r.findtext(".//t:Message", "", ns) or "").strip().splitlines()
    print("  " + r.get("testName"))
    for line in message[:6]:
        print("      " + line[:300])
    # What the test wrote (its ledger of upstream requests, the client's side): a CI flake is diagnosed from this alone.
    for line in (r.findtext(".//t:StdOut", "", ns) or "").strip().splitlines()[:25]:
        print("      | " + line[:300])
PY
fi
echo "${passed:-0} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
