#!/usr/bin/env bash
# Runs every GroupRelay test. On a fresh Debian machine with the .NET SDK it first installs what the tests need
# (Debian's chromium for the browser tests, redis-server for the scale-out tests, nodejs and npm for the JavaScript
# client), then decides whether the Fleck transport can be built (Fleck 1.2.0 is not on every NuGet feed), then runs
# `dotnet test`, then the JavaScript client's checks and tests (clients/js: npm ci, tsc --noEmit, the npm pack check,
# node --test against the sample just built). Plain `dotnet test` works too once the prerequisites exist.
#
#   ./test.sh                 every test
#   ./test.sh --filter X      passed through to dotnet test (e.g. --filter "FullyQualifiedName~Presence")
#   GROUPRELAY_SKIP_LOADTEST=1 ./test.sh   leaves out the load harness smoke run (bench/GroupRelay.LoadTest --quick)
#   GROUPRELAY_SLOW=1 ./test.sh           also runs the slow category (long stress runs, e.g. the 1M-message resume
#                                         property); by default CI runs their short forms only (--filter Category!=Slow)
#   GROUPRELAY_SKIP_JS=1 ./test.sh        leaves out the JavaScript client (also left out when --filter is given)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

log() { printf '[test.sh] %s\n' "$*"; }

# 1. Debian packages the tests start themselves (they never expect a running service).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${GROUPRELAY_SKIP_JS:-0}" != "1" ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing missing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. The solution filter must list every project of the solution except the Fleck ones, or tests would go missing.
expected=$(grep -oE '"[^"]+\.csproj"' GroupRelay.sln | tr -d '"' | tr '\\' '/' | grep -v Fleck | sort)
filtered=$(grep -oE '"[^"]+\.csproj"' GroupRelay.NoFleck.slnf | tr -d '"' | sed 's#\\\\#/#g' | sort)
if [ "$expected" != "$filtered" ]; then
  log "GroupRelay.NoFleck.slnf is out of date with GroupRelay.sln; it must list every non-Fleck project:"
  diff <(echo "$expected") <(echo "$filtered") || true
  exit 1
fi

# 3. Fleck: test it where it restores, leave it out (saying so) where it does not.
target=GroupRelay.sln
fleck_projects=$(grep -oE '"[^"]+Fleck[^"]*\.csproj"' GroupRelay.sln | tr -d '"' | tr '\\' '/' || true)
if [ -n "$fleck_projects" ]; then
  fleck_ok=1
  for p in $fleck_projects; do
    if ! dotnet restore "$p" --verbosity quiet >/tmp/grouprelay-fleck-restore.log 2>&1; then fleck_ok=0; break; fi
  done
  if [ "$fleck_ok" -eq 0 ]; then
    echo "Fleck 1.2.0 is not available from the configured NuGet sources; skipping the Fleck transport tests"
    target=GroupRelay.NoFleck.slnf
  fi
fi

# 4. Build once, then test every test project of the target.
log "building $target"
dotnet build "$target" -c Release --nologo --verbosity quiet
log "testing $target"
results=$(mktemp -d)
set +e
slow_filter=()
# A slow run (e.g. the 1M-message resume property) is one long test: give it more than the default hang timeout.
hang_timeout=5m
[ "${GROUPRELAY_SLOW:-0}" = "1" ] && hang_timeout=90m
if [ "${GROUPRELAY_SLOW:-0}" != "1" ] && [[ " $* " != *" --filter "* ]]; then slow_filter=(--filter "Category!=Slow"); fi
dotnet test "$target" -c Release --no-build --nologo --blame-hang-timeout "$hang_timeout" "${slow_filter[@]}" \
  --logger "console;verbosity=normal" --logger "trx" --results-directory "$results" "$@" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# 5. The JavaScript client (clients/js): its dependencies, its types (tsc over a typed usage file), exactly what npm
#    would publish, and its tests (node --test), which start the sample built above, and redis-server, themselves.
js_status=0; js_passed=0; js_failed=0; js_skipped=0
if [ "${GROUPRELAY_SKIP_JS:-0}" = "1" ] || [[ " $* " == *" --filter "* ]]; then
  log "leaving out the JavaScript client (GROUPRELAY_SKIP_JS=1 or --filter)"
else
  log "JavaScript client: npm ci, tsc --noEmit, npm pack check, node --test"
  set +e
  (
    set -e
    cd clients/js
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
      || { echo "the JavaScript client needs Node.js 20 or later, this is $(node --version)"; exit 1; }
    npm ci --no-audit --no-fund --loglevel=error
    npx --no-install tsc --noEmit -p tsconfig.json
    npm run --silent check:pack
    node --test --test-concurrency=1 --test-timeout=300000 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$results/node.tap" test/*.test.js
  )
  js_status=$?
  set -e
  if [ -f "$results/node.tap" ]; then
    tap_count() { sed -nE "s/^# $1 ([0-9]+)\$/\\1/p" "$results/node.tap" | tail -n 1; }
    js_passed=$(tap_count pass); js_skipped=$(tap_count skipped)
    js_fail=$(tap_count fail); js_cancelled=$(tap_count cancelled)
    js_failed=$(( ${js_fail:-0} + ${js_cancelled:-0} ))
  fi
  if [ "$js_status" -ne 0 ] && [ "${js_failed:-0}" -eq 0 ]; then js_failed=1; fi # a check before the tests failed
  log "JavaScript client: ${js_passed:-0} passed, ${js_failed:-0} failed, ${js_skipped:-0} skipped (exit $js_status)"
fi

# 6. The load harness in its quick form (under 2 minutes), so it keeps working; the numbers are not judged here.
loadtest_status=0
if [ "${GROUPRELAY_SKIP_LOADTEST:-0}" != "1" ]; then
  log "load harness smoke run (bench/GroupRelay.LoadTest --quick)"
  dotnet run -c Release --no-build --project bench/GroupRelay.LoadTest -- --quick || loadtest_status=$?
  [ "$loadtest_status" -eq 0 ] || log "the load harness failed (exit $loadtest_status)"
fi

# 7. One closing line over all test assemblies and the JavaScript client's tests.
passed=${js_passed:-0}; failed=${js_failed:-0}; skipped=${js_skipped:-0}
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -oE '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -nE 's/.* passed="([0-9]+)".*/\1/p' <<<"$counters"); f=$(sed -nE 's/.* failed="([0-9]+)".*/\1/p' <<<"$counters")
  t=$(sed -nE 's/.* total="([0-9]+)".*/\1/p' <<<"$counters"); e=$(sed -nE 's/.* executed="([0-9]+)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
rm -rf "$results"
echo "Tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$loadtest_status" -ne 0 ] || [ "$js_status" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then log "no test ran"; exit 1; fi
