#!/usr/bin/env bash
# Writes made by the agent (issue 10; numbers go to docs/performance.md, "Writes
# through the agent"):
#
#   scripts/bench-add.sh [ENTRIES]        # default 10000
#
# 1. `amanat add PATH --generate` through an unlocked agent on a generated vault of
#    ENTRIES entries (hyperfine, RUNS runs, default 200; each run a new random path,
#    so the command runs in bash and hyperfine subtracts the shell's start-up), and
#    the same `add` without an agent (AMANAT_AGENT=off, passphrase file) for reference.
# 2. Bulk add of ADD entries (default 1000), one `amanat add --generate` process each,
#    into a new vault through an agent unlocked once, then `printf … | pass insert -e`
#    of ADD entries (gpg key without passphrase, no git) in the same run, when pass and
#    gpg are installed (SKIP_PASS=1 to skip).
# Results in $RESULTS (default target/bench-results/add).
set -euo pipefail

cd "$(dirname "$0")/.."
ENTRIES=${1:-10000}
RESULTS=${RESULTS:-$PWD/target/bench-results/add}
RUNS=${RUNS:-200}
ADD=${ADD:-1000}
mkdir -p "$RESULTS"

cargo build --release --quiet --bin amanat --example make_big_vault
BIN=$PWD/target/release/amanat
GEN=$PWD/target/release/examples/make_big_vault

WORK=$(mktemp -d)
cleanup() {
    AMANAT_AGENT_SOCK=$WORK/run/agent.sock "$BIN" lock >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
BIG=$WORK/big

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "filesystem of the work directory: $(df -T "$WORK" | awk 'NR==2 {print $2}')"
    echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/machine.txt"

"$GEN" "$BIG" "$ENTRIES" >"$RESULTS/overhead.tsv"

export HOME=$WORK/home
mkdir -p "$HOME" "$WORK/run"
chmod 700 "$WORK/run"
export AMANAT_VAULT=$BIG/vault AMANAT_IDENTITY=$BIG/identity.amanat
export AMANAT_STATE_DIR=$WORK/state AMANAT_AGENT_SOCK=$WORK/run/agent.sock
export BIN

echo "== 1. add through the agent ($ENTRIES entries)"
AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" ls >/dev/null 2>&1 # first use: pin
AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" unlock --timeout 1h >/dev/null 2>&1
"$BIN" get "$(awk -F'\t' '$1 == "sample_path" { print $2 }' "$RESULTS/overhead.tsv")" >/dev/null # fill the cache
hyperfine --shell=bash --warmup 5 --runs "$RUNS" \
    --export-json "$RESULTS/add-agent.json" \
    --command-name "amanat add --generate (agent, $ENTRIES entries)" \
    '"$BIN" add "bench/$RANDOM-$RANDOM-$RANDOM" --generate >/dev/null' 2>&1 | grep -v '^ *$'
"$BIN" agent status | tee "$RESULTS/agent-status.txt"
"$BIN" lock >/dev/null
echo "segments now: $(ls "$AMANAT_VAULT" | wc -l)"
AMANAT_AGENT=off AMANAT_PASSPHRASE_FILE=$BIG/passphrase \
    hyperfine --shell=bash --warmup 1 --runs 10 \
    --export-json "$RESULTS/add-local.json" \
    --command-name "amanat add --generate (no agent, $ENTRIES entries)" \
    '"$BIN" add "local/$RANDOM-$RANDOM-$RANDOM" --generate >/dev/null' 2>&1 | grep -v '^ *$'
AMANAT_AGENT=off AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" verify

echo "== 2. bulk add of $ADD entries, one process each"
(
    export AMANAT_VAULT=$WORK/bulk AMANAT_STATE_DIR=$WORK/state-bulk
    AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" init --name bulk >/dev/null 2>&1
    AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" unlock --timeout 1h >/dev/null 2>&1
    start=$(date +%s.%N)
    for i in $(seq 1 "$ADD"); do
        "$BIN" add "bulk/entry-$i" --generate >/dev/null
    done
    end=$(date +%s.%N)
    added=$("$BIN" agent status | sed -n 's/entries added by the agent: //p')
    "$BIN" lock >/dev/null
    echo "amanat add x $ADD (agent unlocked once): $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s; $added made by the agent; $(ls "$AMANAT_VAULT" | wc -l) segments after automatic compaction" |
        tee "$RESULTS/bulk-amanat.txt"
    AMANAT_AGENT=off AMANAT_PASSPHRASE_FILE=$BIG/passphrase "$BIN" verify
)
if [[ ${SKIP_PASS:-0} != 1 ]] && command -v pass >/dev/null && command -v gpg >/dev/null; then
    (
        export GNUPGHOME=$WORK/gnupg PASSWORD_STORE_DIR=$WORK/pass
        mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
        gpg --batch --quiet --passphrase '' --quick-gen-key bench@example.invalid default default never 2>/dev/null
        pass init bench@example.invalid >/dev/null
        start=$(date +%s.%N)
        for i in $(seq 1 "$ADD"); do
            printf 'p%s\n' "$i" | pass insert -e "bulk/entry-$i" >/dev/null
        done
        end=$(date +%s.%N)
        echo "pass insert x $ADD: $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s" | tee "$RESULTS/bulk-pass.txt"
    )
fi
echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/machine.txt"
echo "results in $RESULTS"
