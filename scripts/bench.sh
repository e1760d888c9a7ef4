#!/usr/bin/env bash
# End-to-end timings of the release binary on a generated vault (docs/performance.md).
#
#   scripts/bench.sh [ENTRIES]        # default 10000
#
# Builds the release binary and examples/make_big_vault, generates a vault of ENTRIES
# entries in a temporary directory (owner identity sealed with the insecure test KDF,
# so unlocking costs ~nothing), then:
#   - times `ls`, `get`, `find`, `add`, `info`, `verify` with hyperfine (if installed;
#     otherwise a single /usr/bin/time run each), and `ls` on first use (no pins: every
#     record's signature is verified);
#   - measures the peak RSS of `ls` with /usr/bin/time -v;
#   - times the default KDF: `ls` on an empty vault with a default-KDF identity, and
#     `ls` on the big vault with the same owner keys sealed under the default KDF.
# Results (hyperfine JSON/markdown, time -v output, overhead.tsv) go to
# $RESULTS (default target/bench-results).
set -euo pipefail

cd "$(dirname "$0")/.."
ENTRIES=${1:-10000}
RESULTS=${RESULTS:-$PWD/target/bench-results}
RUNS=${RUNS:-10}
KDF_RUNS=${KDF_RUNS:-5}
mkdir -p "$RESULTS"

cargo build --release --quiet --bin amanat --example make_big_vault
BIN=$PWD/target/release/amanat
GEN=$PWD/target/release/examples/make_big_vault

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIG=$WORK/big

echo "== machine"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/machine.txt"

echo "== generate $ENTRIES entries"
"$GEN" "$BIG" "$ENTRIES" --default-kdf | tee "$RESULTS/overhead.tsv"
SAMPLE=$(awk -F'\t' '$1 == "sample_path" { print $2 }' "$RESULTS/overhead.tsv")
QUERY=${SAMPLE##*/} # e.g. login-5000: matches exactly one entry

# Environment of every big-vault command: explicit files, no agent, no terminal.
unset AMANAT_AGENT_SOCK
export HOME=$WORK/home XDG_RUNTIME_DIR=$WORK/run
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
export AMANAT_VAULT=$BIG/vault
export AMANAT_IDENTITY=$BIG/identity.amanat
export AMANAT_STATE_DIR=$WORK/state
export AMANAT_PASSPHRASE_FILE=$BIG/passphrase

# First use pins the vault (and prints a warning once).
"$BIN" ls >/dev/null 2>&1
rm -rf "$WORK/vault.orig"; cp -r "$AMANAT_VAULT" "$WORK/vault.orig"
cp -r "$AMANAT_STATE_DIR" "$WORK/state.orig"
# `add` changes the vault and the pins: put both back before every run.
cat >"$WORK/reset.sh" <<EOF
rm -rf "$AMANAT_VAULT"; cp -r "$WORK/vault.orig" "$AMANAT_VAULT"
rm -rf "$AMANAT_STATE_DIR"
cp -r "$WORK/state.orig" "$AMANAT_STATE_DIR"
EOF
echo "rm -rf \"$AMANAT_STATE_DIR\"" >"$WORK/unpin.sh"

have_hyperfine=0
command -v hyperfine >/dev/null && have_hyperfine=1

# time_cmd NAME RUNS [hyperfine options --] COMMAND...
time_cmd() {
    local name=$1 runs=$2
    shift 2
    local opts=()
    if [[ ${1:-} == --prepare ]]; then
        opts=(--prepare "$2")
        shift 2
    fi
    echo "== $name: $*"
    if ((have_hyperfine)); then
        hyperfine -N --warmup 1 --runs "$runs" "${opts[@]}" \
            --export-json "$RESULTS/$name.json" --export-markdown "$RESULTS/$name.md" \
            --command-name "$name" -- "$(printf '%q ' "$@")" 2>&1 | grep -v '^ *$'
    else
        [[ ${#opts[@]} -gt 0 ]] && bash -c "${opts[1]}"
        /usr/bin/time -f "$name: %e s wall, %M KB max RSS" "$@" >/dev/null
    fi
}

time_cmd ls "$RUNS" "$BIN" ls
time_cmd get "$RUNS" "$BIN" get "$SAMPLE"
time_cmd find "$RUNS" "$BIN" find "$QUERY"
time_cmd add "$RUNS" --prepare "bash $WORK/reset.sh" \
    "$BIN" add bench/new-entry --generate --username bench --url https://bench.example.com
bash "$WORK/reset.sh"
time_cmd info "$RUNS" "$BIN" info
time_cmd verify 3 "$BIN" verify
time_cmd ls-first-use 3 --prepare "bash $WORK/unpin.sh" "$BIN" ls
bash "$WORK/reset.sh"

echo "== peak memory of ls ($ENTRIES entries, insecure-KDF identity)"
/usr/bin/time -v "$BIN" ls >/dev/null 2>"$RESULTS/ls-time-v.txt"
grep -E 'Maximum resident set size|Elapsed' "$RESULTS/ls-time-v.txt"

echo "== default KDF"
KDF=$WORK/kdf
mkdir -p "$KDF"
# A fresh default-KDF identity and an empty vault of its own.
kdf() {
    AMANAT_VAULT=$KDF/vault AMANAT_IDENTITY=$KDF/identity.amanat \
        AMANAT_STATE_DIR=$KDF/state "$@"
}
kdf "$BIN" identity new --name kdf-bench >/dev/null 2>&1
kdf "$BIN" identity show --json >"$RESULTS/kdf-identity.json"
kdf "$BIN" init --name kdf-bench >/dev/null 2>&1
kdf "$BIN" ls >/dev/null 2>&1 # pin
kdf time_cmd kdf-ls-empty "$KDF_RUNS" "$BIN" ls
kdf /usr/bin/time -v "$BIN" ls >/dev/null 2>"$RESULTS/kdf-ls-empty-time-v.txt"
grep -E 'Maximum resident set size' "$RESULTS/kdf-ls-empty-time-v.txt"

echo "== ls of $ENTRIES entries with the same owner sealed under the default KDF"
AMANAT_IDENTITY=$BIG/identity-default.amanat time_cmd kdf-ls-big "$KDF_RUNS" "$BIN" ls
AMANAT_IDENTITY=$BIG/identity-default.amanat \
    /usr/bin/time -v "$BIN" ls >/dev/null 2>"$RESULTS/kdf-ls-big-time-v.txt"
grep -E 'Maximum resident set size' "$RESULTS/kdf-ls-big-time-v.txt"

echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/machine.txt"
echo "results in $RESULTS"
