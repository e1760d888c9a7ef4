#!/usr/bin/env bash
# Issue 10's measurements of the vault directory (docs/performance.md, "Sync"):
#
#   scripts/bench-sync.sh [ENTRIES]        # default 10000
#
# 1. Reading ENTRIES entries from one segment vs the same records split into 64
#    segments (`ls`, pinned, hyperfine).
# 2. `amanat sync` of one edit against a local bare repository (both clones at ENTRIES
#    entries): the writer's sync (commit, fetch, push) and the reader's (fetch, verify,
#    merge).
# 3. Repository growth per single-entry edit after `git gc` (EDITS edits, default 20).
# 4. Bulk add of ADD entries (default 1000) with `add --generate`, one process each,
#    and `pass insert` for comparison when pass and gpg are installed (SKIP_PASS=1 to
#    skip).
# Results go to $RESULTS (default target/bench-results/sync).
set -euo pipefail

cd "$(dirname "$0")/.."
ENTRIES=${1:-10000}
RESULTS=${RESULTS:-$PWD/target/bench-results/sync}
RUNS=${RUNS:-10}
EDITS=${EDITS:-20}
ADD=${ADD:-1000}
mkdir -p "$RESULTS"

cargo build --release --quiet --bin amanat --example make_big_vault --example split_segments
BIN=$PWD/target/release/amanat
GEN=$PWD/target/release/examples/make_big_vault
SPLIT=$PWD/target/release/examples/split_segments

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BIG=$WORK/big

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "git: $(git --version)"
    echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/machine.txt"

"$GEN" "$BIG" "$ENTRIES" >"$RESULTS/overhead.tsv"
SAMPLE=$(awk -F'\t' '$1 == "sample_path" { print $2 }' "$RESULTS/overhead.tsv")

unset AMANAT_AGENT_SOCK
export AMANAT_AGENT=off
export HOME=$WORK/home
mkdir -p "$HOME"
export AMANAT_IDENTITY=$BIG/identity.amanat
export AMANAT_PASSPHRASE_FILE=$BIG/passphrase
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

hf() { # NAME COMMAND... (hyperfine, RUNS runs)
    local name=$1
    shift
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$RESULTS/$name.json" \
        --command-name "$name" -- "$(printf '%q ' "$@")" 2>&1 | grep -v '^ *$'
}

echo "== 1. one segment vs 64 segments ($ENTRIES entries)"
cp -r "$BIG/vault" "$WORK/one"
cp -r "$BIG/vault" "$WORK/many"
"$SPLIT" "$WORK/many" 64
for v in one many; do
    (
        export AMANAT_VAULT=$WORK/$v AMANAT_STATE_DIR=$WORK/state-$v
        "$BIN" ls >/dev/null 2>&1 # first use: pin
        hf "ls-$v" "$BIN" ls
        hf "get-$v" "$BIN" get "$SAMPLE"
    )
done

echo "== 2. sync of one edit against a local bare repository"
git init -q --bare -b main "$WORK/remote.git"
git clone -q "$WORK/remote.git" "$WORK/a" 2>/dev/null
cp -r "$BIG/vault" "$WORK/a/vault"
export AMANAT_STATE_DIR=$WORK/state-a AMANAT_VAULT=$WORK/a/vault
"$BIN" sync >/dev/null 2>&1
git clone -q "$WORK/remote.git" "$WORK/b"
AMANAT_STATE_DIR=$WORK/state-b AMANAT_VAULT=$WORK/b/vault "$BIN" ls >/dev/null 2>&1
# One edit, then the writer's sync and the reader's sync, timed RUNS times.
: >"$RESULTS/sync.tsv"
secs() { # COMMAND...: wall seconds
    local a b
    a=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    b=$(date +%s.%N)
    awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", b-a}'
}
for i in $(seq 1 "$RUNS"); do
    "$BIN" edit "$SAMPLE" --generate >/dev/null 2>&1
    w=$(secs "$BIN" sync)
    r=$(AMANAT_STATE_DIR=$WORK/state-b AMANAT_VAULT=$WORK/b/vault secs "$BIN" sync)
    printf '%s\t%s\t%s\n' "$i" "$w" "$r" | tee -a "$RESULTS/sync.tsv"
done
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "sync median of $RUNS: writer $(cut -f2 "$RESULTS/sync.tsv" | median) s, reader $(cut -f3 "$RESULTS/sync.tsv" | median) s" |
    tee "$RESULTS/sync-median.txt"

echo "== 3. repository growth per single-entry edit ($EDITS edits, after git gc)"
git -C "$WORK/remote.git" gc -q --aggressive --prune=now
before=$(du -sb "$WORK/remote.git/objects" | cut -f1)
for i in $(seq 1 "$EDITS"); do
    "$BIN" edit "$SAMPLE" --generate >/dev/null 2>&1
    "$BIN" sync >/dev/null 2>&1
done
git -C "$WORK/remote.git" gc -q --prune=now
after=$(du -sb "$WORK/remote.git/objects" | cut -f1)
segs=$(ls "$WORK/a/vault" | wc -l)
echo "objects: ${before} B -> ${after} B after $EDITS edits: $(( (after - before) / EDITS )) bytes per edit; $segs segments" |
    tee "$RESULTS/growth.txt"
unset AMANAT_STATE_DIR AMANAT_VAULT

echo "== 4. bulk add of $ADD entries, one process each"
(
    export AMANAT_VAULT=$WORK/bulk AMANAT_STATE_DIR=$WORK/state-bulk
    "$BIN" init --name bulk >/dev/null 2>&1
    start=$(date +%s.%N)
    for i in $(seq 1 "$ADD"); do
        "$BIN" add "bulk/entry-$i" --generate >/dev/null 2>&1
    done
    end=$(date +%s.%N)
    echo "amanat add x $ADD: $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s; $(ls "$AMANAT_VAULT" | wc -l) segments after automatic compaction" |
        tee "$RESULTS/bulk-amanat.txt"
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
