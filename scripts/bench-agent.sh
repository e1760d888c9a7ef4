#!/usr/bin/env bash
# `amanat get` / `ls` through the unlock agent on a generated vault (issue 5;
# numbers go to docs/performance.md), side by side with `pass show` when asked.
#
#   scripts/bench-agent.sh [ENTRIES]        # default 10000
#   PASS=1 scripts/bench-agent.sh           # also `pass show` (warm gpg-agent, 1000
#                                           # entries x 20 recipients) in the same run
#
# Builds the release binary and examples/make_big_vault, generates the vault in a
# temporary directory, unlocks an agent on a socket inside it, then with hyperfine:
#   - `amanat get PATH` with no passphrase source (the agent answers), and the same
#     `get` without an agent (decoding locally) for reference;
#   - `amanat ls` through the agent;
#   - `amanat edit` through the agent (a write: the agent signs, no passphrase);
#   - with PASS=1: `pass show` from ../shared/bench/peers (setup-pass.sh 1000 20) in
#     the same hyperfine invocation as the agent `get`.
# Also: the agent's resident memory with the vault cached (VmRSS, VmHWM) and the peak
# RSS of a `get` client (/usr/bin/time -v). Results in $RESULTS
# (default target/bench-results/agent).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ENTRIES=${1:-10000}
RESULTS=${RESULTS:-$ROOT/target/bench-results/agent}
RUNS=${RUNS:-100}
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
mkdir -p "$RESULTS"

cargo build --release --quiet --bin amanat --example make_big_vault
BIN=$ROOT/target/release/amanat
GEN=$ROOT/target/release/examples/make_big_vault

WORK=$(mktemp -d)
AGENT_PID=
cleanup() {
    [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
BIG=$WORK/big

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/machine.txt"

echo "== generate $ENTRIES entries"
"$GEN" "$BIG" "$ENTRIES" >"$RESULTS/overhead.tsv"
SAMPLE=$(awk -F'\t' '$1 == "sample_path" { print $2 }' "$RESULTS/overhead.tsv")

export HOME=$WORK/home
mkdir -p "$HOME"
export AMANAT_VAULT=$BIG/vault
export AMANAT_IDENTITY=$BIG/identity.amanat
export AMANAT_STATE_DIR=$WORK/state
export AMANAT_AGENT_SOCK=$WORK/run/agent.sock

# Pin the vault once (first use), then unlock the agent with the passphrase file.
AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" ls >/dev/null 2>&1
AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" unlock --timeout 1h 2>/dev/null |
    tee "$RESULTS/unlock.txt"
AGENT_PID=$(sed -n 's/.*agent pid \([0-9]*\).*/\1/p' "$RESULTS/unlock.txt")
unset AMANAT_PASSPHRASE_FILE
# The first request fills the cache (verify + decrypt the whole vault): time it once.
/usr/bin/time -f "first get through the agent (cache fill): %e s" \
    "$BIN" get "$SAMPLE" >/dev/null
"$BIN" agent status

echo "== agent memory with $ENTRIES entries cached"
grep -E 'VmRSS|VmHWM' "/proc/$AGENT_PID/status" | tee "$RESULTS/agent-mem.txt"

echo "== peak RSS of a get client"
/usr/bin/time -v "$BIN" get "$SAMPLE" >/dev/null 2>"$RESULTS/get-client-time-v.txt"
grep -E 'Maximum resident set size' "$RESULTS/get-client-time-v.txt"

hf() {
    local name=$1
    shift
    hyperfine -N --warmup 5 "$@" --export-json "$RESULTS/$name.json" \
        --export-markdown "$RESULTS/$name.md" 2>&1 | grep -v '^ *$'
}

GET="$BIN get $SAMPLE"
if [[ ${PASS:-0} == 1 ]]; then
    echo "== pass store (setup-pass.sh 1000 20; a few minutes the first time)"
    BENCH_TMP=${BENCH_TMP:-/tmp/pwbench}
    D=$BENCH_TMP/pass-n1000-m20
    [[ -f $D/insert_seconds ]] || bash "$PEERS/setup-pass.sh" 1000 20
    # pass runs with its own HOME/GNUPGHOME/store; amanat ignores those variables.
    export GNUPGHOME=$D/gnupg PASSWORD_STORE_DIR=$D/store
    HOME=$D/home pass show team/service-00042 >/dev/null # warm gpg-agent
    echo "== get through the agent vs pass show (same run)"
    HOME=$D/home hf get-agent-vs-pass --runs "$RUNS" \
        --command-name "amanat get (agent, $ENTRIES entries)" "$GET" \
        --command-name "pass show (warm gpg-agent, 1000 x 20)" "pass show team/service-00042"
else
    echo "== get through the agent"
    hf get-agent --runs "$RUNS" --command-name "amanat get (agent, $ENTRIES entries)" "$GET"
fi

echo "== ls through the agent"
hf ls-agent --runs 20 --command-name "amanat ls (agent, $ENTRIES entries)" "$BIN ls"

echo "== a write through the agent (edit: the command decodes the vault, the agent signs)"
hf edit-agent --runs 10 --command-name "amanat edit (agent, $ENTRIES entries)" \
    "$BIN edit $SAMPLE --note bench"

echo "== get without an agent (local decode), for reference"
"$BIN" lock >/dev/null
AGENT_PID=
AMANAT_PASSPHRASE_FILE=$BIG/passphrase hf get-local --runs 10 \
    --command-name "amanat get (no agent, $ENTRIES entries)" "$GET"

echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/machine.txt"
echo "results in $RESULTS"
