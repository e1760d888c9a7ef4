#!/usr/bin/env bash
# Revocation benchmarks (docs/performance-revocation.md): the issue's target shape, the
# scaling shapes, the CLI, and pass re-encrypting a 1,000 × 20 store in the same run.
#
#   scripts/bench-revoke.sh              # everything, about 5-8 min on 2 cores
#   SKIP_PASS=1 scripts/bench-revoke.sh  # without pass (no gpg/pass needed)
#
# 1. Builds the release binary and examples/make_team_vault.
# 2. In memory (`Vault::revoke_member` timed with Instant, REPEAT runs on clones of one
#    vault, KDF excluded): the issue's shape (10,000 entries, 50 members in five groups
#    of ten, bob reads 5,000: 4,500 through his group and 500 shared to him directly,
#    each also shared with one other member) and the scaling shapes.
# 3. CLI: `amanat member rm bob` on the written files (pinned vault, insecure-KDF
#    identity, AMANAT_PASSPHRASE_FILE), with hyperfine, --prepare restoring the vault
#    and the pins before every run.
# 4. pass: a 1,000-entry store for 20 GPG keys built with ../shared/bench/peers
#    (setup-pass.sh 1000 20), revocation = pass-revoke.sh (`pass init` with 19 of the 20
#    keys), PASS_RUNS runs; and in the same run amanat revoking one of 20 members who
#    reads all 1,000 entries: (a) all 20 in one group every entry is shared with, and
#    (b) he is an admin. Ratio = pass median / amanat median.
#
# Knobs: PROFILE=1 (also perf-profile the CLI revocation: needs linux-perf, and builds
# a second binary with line tables in target/prof, several minutes the first time),
# RESULTS (default target/bench-revoke), REPEAT (in-memory runs per shape, 3),
# RUNS (CLI runs, 5), PASS_RUNS (2), SKIP_PASS=1, PEERS (the peers scripts, default
# ../shared/bench/peers next to the repository), BENCH_TMP (pass store and GPG home,
# default /tmp/pwbench-revoke; the store is reused if present, REBUILD_PASS=1 remakes
# it). Needs hyperfine and python3 (and pass, gnupg, bc for the pass part:
# `apt-get install -y pass gnupg hyperfine bc`).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=${RESULTS:-$ROOT/target/bench-revoke}
REPEAT=${REPEAT:-3}
RUNS=${RUNS:-5}
PASS_RUNS=${PASS_RUNS:-2}
PEERS=${PEERS:-$ROOT/../shared/bench/peers}
export BENCH_TMP=${BENCH_TMP:-/tmp/pwbench-revoke}
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.tsv "$RESULTS"/*.json

command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
cargo build --release --quiet --bin amanat --example make_team_vault
BIN=$ROOT/target/release/amanat
GEN=$ROOT/target/release/examples/make_team_vault

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# CPU busy % over 1 s, as ../shared/bench/peers/lib.sh logs it.
busy() {
    local a b a1 a2 a3 a4 a5 a6 a7 b1 b2 b3 b4 b5 b6 b7
    read -r _ a1 a2 a3 a4 a5 a6 a7 _ </proc/stat
    sleep 1
    read -r _ b1 b2 b3 b4 b5 b6 b7 _ </proc/stat
    a=$((a1 + a2 + a3 + a6 + a7))
    b=$((b1 + b2 + b3 + b6 + b7))
    echo "$((100 * (b - a) / ((b - a) + (b4 - a4) + (b5 - a5) + 1)))"
}
contention() {
    echo "$(date -u +%FT%TZ) $1: busy before start $(busy)% of $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" |
        tee -a "$RESULTS/contention.txt"
}

echo "== machine"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: ${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "rustc: $(rustc --version)"
    echo "hyperfine: $(hyperfine --version)"
} | tee "$RESULTS/machine.txt"
: >"$RESULTS/contention.txt"

# shape NAME ARGS...: build a vault and time the in-memory revocation.
shape() {
    local name=$1
    shift
    contention "mem-$name"
    "$GEN" --label "$name" --repeat "$REPEAT" "$@" >"$RESULTS/mem-$name.tsv"
}

echo "== in memory: the issue's shape and the scaling shapes (REPEAT=$REPEAT)"
ISSUE=(--entries 10000 --members 50 --groups 5 --group-size 10 --target-share 0.5 --direct 0.05)
shape issue "${ISSUE[@]}" --out "$WORK/issue"
# Members: 4× the members (and groups), bob's group and readable entries unchanged.
shape members200 --entries 10000 --members 200 --groups 20 --group-size 10 --target-share 0.5 --direct 0.05
# Bob's group: 40 members instead of 10 (200 members, five groups of 40).
shape group40 --entries 10000 --members 200 --groups 5 --group-size 40 --target-share 0.5 --direct 0.05
# Readable entries: 2,500 / (5,000 above) / 10,000 of 10,000, 10 % of them direct.
shape read2500 --entries 10000 --members 50 --groups 5 --group-size 10 --target-share 0.25 --direct 0.025
shape read10000 --entries 10000 --members 50 --groups 5 --group-size 10 --target-share 1.0 --direct 0.1
# Vault size: 20,000 and 40,000 entries, bob still reads 5,000.
shape vault20k --entries 20000 --members 50 --groups 5 --group-size 10 --target-share 0.25 --direct 0.025
shape vault40k --entries 40000 --members 50 --groups 5 --group-size 10 --target-share 0.125 --direct 0.0125
# bob in three groups (three rotations), same 5,000 readable.
shape bob3groups --entries 10000 --members 50 --groups 5 --group-size 10 --bob-groups 3 --target-share 0.5 --direct 0.05

# cli NAME DIR: time `amanat member rm bob` on DIR's files (pinned first).
cli() {
    local name=$1 dir=$2
    (
        export HOME=$dir/home XDG_RUNTIME_DIR=$dir/run
        export AMANAT_VAULT=$dir/vault AMANAT_IDENTITY=$dir/identity.amanat
        export AMANAT_STATE_DIR=$dir/state AMANAT_PASSPHRASE_FILE=$dir/passphrase
        mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
        "$BIN" ls >/dev/null 2>&1 # first use: verify every signature and pin
        rm -rf "$dir/vault.orig"; cp -r "$AMANAT_VAULT" "$dir/vault.orig"
        cp -r "$AMANAT_STATE_DIR" "$dir/state.orig"
        cat >"$dir/reset.sh" <<EOF
rm -rf "$AMANAT_VAULT"; cp -r "$dir/vault.orig" "$AMANAT_VAULT"
rm -rf "$AMANAT_STATE_DIR"
cp -r "$dir/state.orig" "$AMANAT_STATE_DIR"
EOF
        contention "cli-$name"
        hyperfine -N --style basic --runs "$RUNS" --prepare "bash $dir/reset.sh" \
            --export-json "$RESULTS/cli-$name.json" --command-name "cli-$name" \
            -- "$BIN member rm bob" 2>&1 | grep -v '^ *$'
        # The last run's result: bob gone, the file verifies.
        "$BIN" member ls | grep -qw bob && { echo "bob still a member" >&2; exit 1; }
        "$BIN" verify | tee "$RESULTS/cli-$name-verify.txt"
        bash "$dir/reset.sh"
    )
}

echo "== CLI: amanat member rm bob, the issue's shape (RUNS=$RUNS)"
cli issue "$WORK/issue"

# Where the CLI's time goes: perf with DWARF call graphs on a binary with line tables
# (a separate target dir: the first build takes several minutes).
profile() {
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --quiet --bin amanat \
        --target-dir "$ROOT/target/prof" || return 1
    (
        dir=$WORK/issue
        export HOME=$dir/home XDG_RUNTIME_DIR=$dir/run
        export AMANAT_VAULT=$dir/vault AMANAT_IDENTITY=$dir/identity.amanat
        export AMANAT_STATE_DIR=$dir/state AMANAT_PASSPHRASE_FILE=$dir/passphrase
        bash "$dir/reset.sh"
        perf record -q -F 1999 -e cpu-clock --call-graph dwarf,32768 -o "$WORK/perf.data" \
            "$ROOT/target/prof/release/amanat" member rm bob >/dev/null 2>&1
        bash "$dir/reset.sh"
    )
    perf script -i "$WORK/perf.data" -F ip,sym 2>/dev/null | python3 -c '
import re, sys, collections
cats = [
    ("Ed25519 verify: open_id -> check_signature (+ roster records in replay)", r"crypto::verify"),
    ("Ed25519 sign: Vault::append", r"SigningSecret::sign"),
    ("HPKE wrap (rotation, direct shares)", r"crypto::hpke_wrap"),
    ("HPKE unwrap", r"crypto::hpke_unwrap"),
    ("canonical sort (VaultFile::append)", r"format::kahn|canonical_order"),
    ("VaultFile::decode (load)", r"VaultFile::decode"),
    ("replay (load + 3 appends)", r"Vault::replay"),
    ("StoredRecord::encode", r"StoredRecord::encode"),
    ("VaultFile::encode", r"VaultFile::encode"),
    ("write_atomic (fsync)", r"write_atomic"),
    ("readable_by", r"readable_by"),
    ("entry decrypt", r"Session::decrypt"),
    ("seal: fresh key, AEAD, symmetric wraps", r"Session::seal"),
    ("rest of Vault::append", r"Vault::append"),
    ("pin", r"VaultStore::pin"),
    ("rest of revoke_member", r"revoke_member"),
]
stacks, cur = [], []
for line in sys.stdin:
    if not line.strip():
        if cur:
            stacks.append(cur)
        cur = []
        continue
    parts = line.strip().split(None, 1)
    cur.append(parts[1] if len(parts) > 1 else "?")
if cur:
    stacks.append(cur)
count = collections.Counter()
for st in stacks:
    count[next((n for n, p in cats if any(re.search(p, f) for f in st)), "other")] += 1
print(f"| share of {len(stacks)} samples (1999 Hz) | where |")
print("|---|---|")
for name, k in count.most_common():
    print(f"| {100 * k / len(stacks):.1f} % | {name} |")
' | tee "$RESULTS/profile.md"
}
if [[ ${PROFILE:-0} == 1 ]]; then
    echo "== profile: perf record amanat member rm bob (issue shape)"
    profile || echo "profile failed; continuing" >&2
fi

if [[ ${SKIP_PASS:-0} != 1 ]]; then
    echo "== pass: 1,000 entries × 20 keys, revoke 1 (pass init with 19 keys), PASS_RUNS=$PASS_RUNS"
    command -v pass >/dev/null || { echo "needs pass (apt-get install -y pass gnupg bc)" >&2; exit 1; }
    PASS_DIR=$BENCH_TMP/pass-n1000-m20
    export RESULTS_DIR=$RESULTS/peers # lib.sh writes here; ../shared is read-only
    if [[ ${REBUILD_PASS:-0} == 1 || ! -f $PASS_DIR/insert_seconds ]]; then
        bash "$PEERS/setup-pass.sh" 1000 20 "$PASS_DIR"
    fi
    (
        # shellcheck source=/dev/null
        source "$PEERS/lib.sh"
        isolate "$PASS_DIR"
        bash "$PEERS/pass-restore-pristine.sh" "$PASS_DIR"
        contention "pass-revoke"
        hyperfine --style basic --runs "$PASS_RUNS" \
            --prepare "bash $PEERS/pass-restore-pristine.sh $PASS_DIR" \
            --export-json "$RESULTS/pass-revoke.json" --command-name pass-revoke \
            "bash $PEERS/pass-revoke.sh $PASS_DIR" 2>&1 | grep -v '^ *$'
        # Sanity, as bench-pass.sh: the removed key is no recipient any more.
        removed=$(tail -n1 "$PASS_DIR/fprs")
        sub=$(gpg --with-colons --list-keys "$removed" | awk -F: '/^sub/{print $5}')
        sample=$PASS_DIR/store/team/service-00042.gpg
        if gpg --list-packets "$sample" 2>/dev/null | grep -q "keyid $sub"; then
            echo "FAIL: removed key still a recipient" >&2
            exit 1
        fi
        echo "pass: $(gpg --list-packets "$sample" 2>/dev/null | grep -c 'pubkey enc packet') recipients left on $sample" |
            tee "$RESULTS/pass-revoke-check.txt"
        bash "$PEERS/pass-restore-pristine.sh" "$PASS_DIR"
    )
fi

echo "== amanat, 1,000 entries × 20 members, revoke one who reads all 1,000"
# (a) one group of all 20 members; every entry shared with it.
shape pass-group --entries 1000 --members 20 --groups 1 --group-size 20 --target-share 1 \
    --direct 0 --out "$WORK/pass-group"
cli pass-group "$WORK/pass-group"
# (b) bob is an admin (every entry is wrapped to @admins); all entries admins-only.
shape pass-admin --entries 1000 --members 20 --groups 0 --bob-groups 0 --bob-admin \
    --target-share 0 --direct 0 --out "$WORK/pass-admin"
cli pass-admin "$WORK/pass-admin"

echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/machine.txt"

echo "== summary"
python3 - "$RESULTS" <<'EOF' | tee "$RESULTS/summary.md"
import json, os, sys
res = sys.argv[1]

def tsv(name):
    p = os.path.join(res, f"mem-{name}.tsv")
    if not os.path.exists(p):
        return None
    return dict(l.rstrip("\n").split("\t", 1) for l in open(p) if "\t" in l)

def hf(name):
    p = os.path.join(res, f"{name}.json")
    if not os.path.exists(p):
        return None
    r = json.load(open(p))["results"][0]
    t = sorted(r["times"])
    return {"median": r["median"], "min": t[0], "max": t[-1], "runs": len(t),
            "cpu": r["user"] + r["system"]}

print("### In memory: `Vault::revoke_member` (KDF excluded), median of REPEAT runs\n")
print("| shape | entries | members | groups × size | bob reads | his groups' peers | re-keyed | groups rotated | HPKE wraps (rotation + entries) | records before | revoke wall ms | revoke CPU ms | setup / re-key / final append ms (wall) | CPU µs per re-keyed entry | + encode + write_atomic ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name in ["issue", "members200", "group40", "read2500", "read10000", "vault20k", "vault40k", "bob3groups", "pass-group", "pass-admin"]:
    d = tsv(name)
    if d is None:
        continue
    print(f"| {name} | {d['entries']} | {d['members']} | {d['groups']} × {d['group_size']} | {d['bob_reads']} | {d['bob_group_peers']} | {d['entries_rekeyed']} | {d['groups_rotated']} | {d['hpke_wraps_rotation']} + {d['hpke_wraps_entries']} | {d['records_before']} | {float(d['revoke_ms_median']):.0f} (min {float(d['revoke_ms_min']):.0f}) | {float(d['revoke_cpu_ms_median']):.0f} | {float(d['phase_setup_ms']):.0f} / {float(d['phase_rekey_ms']):.0f} / {float(d['phase_final_ms']):.0f} | {float(d['cpu_us_per_entry']):.0f} | {float(d['encode_ms']):.0f} + {float(d['write_atomic_ms']):.0f} |")
print()
for name in ["issue", "vault20k", "vault40k"]:
    d = tsv(name)
    if d:
        print(f"- {name}: one `Vault::append` of no records at {d['records_after']} records (revocation makes three appends) costs {d['append_empty_ms']} ms, of which the canonical sort {d['append_sort_ms']} ms; loading the file costs `VaultFile::decode` {d['file_decode_ms']} ms, `Vault::decode` (decode + replay) {d['vault_decode_ms']} ms; one `Session::create_entry` on the full vault (it decrypts every readable entry to check the path is free) {d.get('create_entry_full_vault_ms', '?')} ms.")

base = tsv("issue")
if base:
    print("\n### Scaling, relative to the issue shape (median wall / least CPU of the runs)\n")
    for name, what in [("members200", "4× members (20 groups of 10)"), ("group40", "his group 40 instead of 10"),
                       ("bob3groups", "in 3 groups (27 peers, 3 rotations)"), ("read2500", "½ the readable entries"),
                       ("read10000", "2× the readable entries"), ("vault20k", "2× the vault, same readable"),
                       ("vault40k", "4× the vault, same readable")]:
        d = tsv(name)
        if d:
            w = float(d["revoke_ms_median"]) / float(base["revoke_ms_median"])
            c = float(d["revoke_cpu_ms_min"]) / float(base["revoke_cpu_ms_min"])
            print(f"- {name} ({what}): {w:.2f}× wall, {c:.2f}× CPU")

print("\n### CLI and pass (hyperfine)\n")
print("| command | runs | median s | min s | max s | user+sys s (mean) |")
print("|---|---|---|---|---|---|")
rows = {}
for name in ["cli-issue", "pass-revoke", "cli-pass-group", "cli-pass-admin"]:
    h = hf(name)
    if h is None:
        continue
    rows[name] = h
    print(f"| {name} | {h['runs']} | {h['median']:.3f} | {h['min']:.3f} | {h['max']:.3f} | {h['cpu']:.3f} |")

print("\n### Verdicts\n")
import re
busy = [int(m) for m in re.findall(r"busy before start (\d+)%", open(os.path.join(res, "contention.txt")).read())]
if busy and max(busy) > 10:
    print(f"- **contended run**: the CPU was {min(busy)}–{max(busy)} % busy before the benchmarks started "
          "(contention.txt); wall times include waiting for the CPU, CPU times are the better guide.")
d = tsv("issue")
if d:
    wall = float(d["revoke_ms_median"]) / 1e3
    print(f"- issue shape, in memory: {wall:.2f} s (CPU {float(d['revoke_cpu_ms_median'])/1e3:.2f} s) vs ≤ 2 s: {'PASS' if wall <= 2 else 'FAIL'}")
if "cli-issue" in rows:
    c = rows["cli-issue"]["median"]
    print(f"- issue shape, whole CLI `member rm bob` (load, revoke, write, pin): {c:.2f} s (user+sys {rows['cli-issue']['cpu']:.2f} s) vs ≤ 2 s: {'PASS' if c <= 2 else 'FAIL'}")
if "pass-revoke" in rows:
    p = rows["pass-revoke"]["median"]
    for name in ["cli-pass-group", "cli-pass-admin"]:
        if name in rows:
            r = p / rows[name]["median"]
            print(f"- pass {p:.1f} s / amanat {name} {rows[name]['median']*1e3:.0f} ms = {r:.0f}× vs ≥ 100×: {'PASS' if r >= 100 else 'FAIL'}")
    for name in ["pass-group", "pass-admin"]:
        m = tsv(name)
        if m:
            r = p / (float(m["revoke_ms_median"]) / 1e3)
            print(f"- pass / amanat in-memory {name} ({float(m['revoke_ms_median']):.0f} ms) = {r:.0f}×")
EOF
echo "results in $RESULTS"
