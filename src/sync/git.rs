//! `amanat sync`: git as the transport (docs/sync.md). It calls the `git` binary, so
//! the user's remotes, credentials and hooks apply.
//!
//! The order is what makes it safe: check that the work tree is in a state to sync;
//! fetch; read the incoming segments from git objects and verify them with the local
//! vault and pins *before* the work tree changes (refusing a rewritten remote history,
//! a damaged or misnamed segment, another vault's records); commit the new local
//! segments; merge (segments are immutable and content-named, so it cannot conflict;
//! renames are switched off so concurrent compactions are seen as adds and deletes);
//! restore segments the other side deleted whose records exist nowhere else; pin;
//! push, retrying a bounded number of times; never force.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::SyncError;
use crate::format::RecordId;
use crate::format::segment::{SEGMENT_EXTENSION, Segment, segment_name};
use crate::store::{self, VaultStore};
use crate::vault::Vault;

/// How often a rejected push is retried (fetch, verify, merge, push again).
pub const PUSH_ATTEMPTS: usize = 4;

/// What `sync` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// The git remote; default: the branch's upstream remote, else `origin`.
    pub remote: Option<String>,
    /// Whether to push.
    pub push: bool,
    /// Commit author name when git has none configured.
    pub committer: String,
}

/// What `sync` did.
#[derive(Debug)]
pub struct SyncReport {
    /// The vault after the sync.
    pub vault: Vault,
    /// Records taken in from the remote.
    pub records_in: usize,
    /// Local records the remote did not have (pushed, or committed if not pushing).
    pub records_out: usize,
    /// Segments committed from this machine.
    pub committed: usize,
    /// Segments the other side deleted whose records exist nowhere else, restored.
    pub restored: usize,
    /// Where it pushed (`remote/branch`), if it did.
    pub pushed: Option<String>,
    /// No remote: only committed.
    pub no_remote: bool,
}

struct Git {
    root: PathBuf,
}

impl Git {
    fn command(&self) -> Command {
        let mut c = Command::new("git");
        c.arg("-C")
            .arg(&self.root)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        c
    }

    fn output<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<std::process::Output, SyncError> {
        self.command()
            .args(args)
            .output()
            .map_err(|e| SyncError::Git(format!("cannot run git: {e}")))
    }

    /// Run; success or a `Git` error naming the command and git's message.
    fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Vec<u8>, SyncError> {
        let out = self.output(args)?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(git_failed(args, &out.stderr))
    }

    fn text<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, SyncError> {
        Ok(String::from_utf8_lossy(&self.ok(args)?).trim().to_string())
    }

    /// Whether the command succeeds (for queries).
    fn succeeds<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<bool, SyncError> {
        Ok(self.output(args)?.status.success())
    }

    fn rev(&self, name: &str) -> Result<Option<String>, SyncError> {
        let out = self.output(&["rev-parse", "-q", "--verify", &format!("{name}^{{commit}}")])?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    fn is_ancestor(&self, a: &str, b: &str) -> Result<bool, SyncError> {
        self.succeeds(&["merge-base", "--is-ancestor", a, b])
    }

    /// The `*.seg` blobs of `commit`'s tree under `rel`: name → (mode, object id).
    fn segments_in(&self, commit: &str, rel: &str) -> Result<Tree, SyncError> {
        let spec = if rel.is_empty() {
            ".".to_string()
        } else {
            rel.to_string()
        };
        let out = self.ok(&["ls-tree", "-z", commit, "--", &format!("{spec}/")])?;
        let mut map = BTreeMap::new();
        for item in out.split(|&b| b == 0).filter(|i| !i.is_empty()) {
            let item = String::from_utf8_lossy(item);
            let Some((meta, path)) = item.split_once('\t') else {
                continue;
            };
            let mut parts = meta.split(' ');
            let (Some(mode), Some(_kind), Some(oid)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let name = path.rsplit('/').next().unwrap_or(path).to_string();
            if name.ends_with(&format!(".{SEGMENT_EXTENSION}")) && !name.starts_with('.') {
                map.insert(name, (mode.to_string(), oid.to_string()));
            }
        }
        Ok(map)
    }

    /// The contents of blobs, by object id (one `git cat-file --batch`).
    fn blobs(&self, oids: &[String]) -> Result<HashMap<String, Vec<u8>>, SyncError> {
        let mut out = HashMap::new();
        if oids.is_empty() {
            return Ok(out);
        }
        let mut child = self
            .command()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SyncError::Git(format!("cannot run git: {e}")))?;
        let mut input = String::new();
        for o in oids {
            input.push_str(o);
            input.push('\n');
        }
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| SyncError::Git("git cat-file: no stdin".into()))?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let result = child
            .wait_with_output()
            .map_err(|e| SyncError::Git(format!("git cat-file: {e}")))?;
        let _ = writer.join();
        if !result.status.success() {
            return Err(git_failed(&["cat-file", "--batch"], &result.stderr));
        }
        // `<oid> <type> <size>\n<bytes>\n` per object.
        let mut rest = &result.stdout[..];
        while !rest.is_empty() {
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                break;
            };
            let header = String::from_utf8_lossy(&rest[..nl]).to_string();
            rest = &rest[nl + 1..];
            let fields: Vec<&str> = header.split(' ').collect();
            if fields.len() != 3 || fields[1] != "blob" {
                return Err(SyncError::Git(format!(
                    "git cat-file: unexpected '{header}'"
                )));
            }
            let size: usize = fields[2]
                .parse()
                .map_err(|_| SyncError::Git("git cat-file: bad size".into()))?;
            if size as u64 > store::MAX_VAULT_LEN || rest.len() < size + 1 {
                return Err(SyncError::Git("git cat-file: truncated object".into()));
            }
            out.insert(fields[0].to_string(), rest[..size].to_vec());
            rest = &rest[size + 1..];
        }
        Ok(out)
    }
}

fn git_failed<S: AsRef<OsStr>>(args: &[S], stderr: &[u8]) -> SyncError {
    let cmd: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let msg = String::from_utf8_lossy(stderr);
    let msg: String = msg
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join("; ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    SyncError::Git(format!("git {} failed: {msg}", cmd.join(" ")))
}

/// The repository and the vault's path in it.
fn locate(vault: &Path) -> Result<(Git, String), SyncError> {
    let probe = Git {
        root: vault.to_path_buf(),
    };
    let root = probe.text(&["rev-parse", "--show-toplevel"]).map_err(|_| {
        SyncError::Git(format!(
            "{} is not in a git work tree: 'sync' needs git (clone your team's repository); a file share or Syncthing needs no sync",
            vault.display()
        ))
    })?;
    let root = PathBuf::from(root);
    let canon_root = root
        .canonicalize()
        .map_err(|e| SyncError::Git(e.to_string()))?;
    let canon_vault = vault
        .canonicalize()
        .map_err(|e| SyncError::Git(e.to_string()))?;
    let rel = canon_vault
        .strip_prefix(&canon_root)
        .map_err(|_| SyncError::Git("the vault directory is outside its git work tree".into()))?
        .to_string_lossy()
        .into_owned();
    Ok((Git { root: canon_root }, rel))
}

/// Refuse (exit 1) a work tree that is not in a state to sync. Returns the branch.
fn check_work_tree(git: &Git, rel: &str) -> Result<String, SyncError> {
    let branch = git
        .text(&["symbolic-ref", "-q", "--short", "HEAD"])
        .map_err(|_| {
            SyncError::Git(
                "HEAD is detached: check out your branch first ('git switch main')".into(),
            )
        })?;
    for (head, what) in [
        ("MERGE_HEAD", "a merge"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ] {
        if git.succeeds(&["rev-parse", "-q", "--verify", head])? {
            return Err(SyncError::Git(format!(
                "{what} is in progress: finish or abort it first"
            )));
        }
    }
    for dir in ["rebase-merge", "rebase-apply"] {
        let path = git.text(&["rev-parse", "--git-path", dir])?;
        let path = git.root.join(path);
        if path.exists() {
            return Err(SyncError::Git(
                "a rebase is in progress: finish or abort it first ('git rebase --abort')".into(),
            ));
        }
    }
    if !git.ok(&["ls-files", "-u", "-z"])?.is_empty() {
        return Err(SyncError::Git(
            "the work tree has unmerged paths: resolve them first".into(),
        ));
    }
    let staged = git.ok(&["diff", "--cached", "--name-only", "-z"])?;
    let prefix = if rel.is_empty() {
        String::new()
    } else {
        format!("{rel}/")
    };
    for p in staged.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let p = String::from_utf8_lossy(p);
        if !p.starts_with(&prefix) {
            return Err(SyncError::Git(format!(
                "changes are staged outside the vault ({p}): commit or unstage them first"
            )));
        }
    }
    Ok(branch)
}

/// The remote to use and the remote-tracking ref of the branch.
fn remote_of(
    git: &Git,
    branch: &str,
    asked: Option<&str>,
) -> Result<Option<(String, String)>, SyncError> {
    let configured = git
        .text(&["config", "--get", &format!("branch.{branch}.remote")])
        .ok();
    let remotes = git.text(&["remote"])?;
    let remotes: Vec<&str> = remotes.lines().collect();
    let remote = match asked {
        Some(r) => {
            if !remotes.contains(&r) {
                return Err(SyncError::Git(format!(
                    "no git remote named '{r}' ('git remote -v' lists them)"
                )));
            }
            r.to_string()
        }
        None => match configured.filter(|r| remotes.contains(&r.as_str())) {
            Some(r) => r,
            None if remotes.contains(&"origin") => "origin".to_string(),
            None if remotes.len() == 1 => remotes[0].to_string(),
            None => return Ok(None),
        },
    };
    let merge = git
        .text(&["config", "--get", &format!("branch.{branch}.merge")])
        .ok()
        .and_then(|m| m.strip_prefix("refs/heads/").map(str::to_string))
        .unwrap_or_else(|| branch.to_string());
    Ok(Some((remote, merge)))
}

/// The `*.seg` entries of a git tree: name → (mode, object id).
type Tree = BTreeMap<String, (String, String)>;

/// One incoming segment, read from git objects.
struct Incoming {
    name: String,
    segment: Segment,
}

/// Read and check the segments of `commit` that this vault directory lacks.
fn incoming_segments(
    git: &Git,
    commit: &str,
    rel: &str,
    local: &HashSet<String>,
    remote_name: &str,
) -> Result<(Vec<Incoming>, Tree), SyncError> {
    let tree = git.segments_in(commit, rel)?;
    let wanted: Vec<(String, String)> = tree
        .iter()
        .filter(|(name, _)| !local.contains(*name))
        .map(|(name, (mode, oid))| (name.clone(), format!("{mode} {oid}")))
        .collect();
    let mut oids = Vec::new();
    for (name, meta) in &wanted {
        let (mode, oid) = meta.split_once(' ').unwrap_or(("", ""));
        if mode != "100644" && mode != "100755" {
            return Err(SyncError::Damaged {
                source_name: remote_name.to_string(),
                segment: name.clone(),
                reason: format!("not a regular file in git (mode {mode})"),
            });
        }
        oids.push(oid.to_string());
    }
    let blobs = git.blobs(&oids)?;
    let mut out = Vec::with_capacity(wanted.len());
    for (name, meta) in wanted {
        let oid = meta.split_once(' ').map_or("", |(_, o)| o);
        let bytes = blobs
            .get(oid)
            .ok_or_else(|| SyncError::Git(format!("git object {oid} of {name} is missing")))?;
        if segment_name(bytes) != name {
            return Err(SyncError::Damaged {
                source_name: remote_name.to_string(),
                segment: name,
                reason: "its name is not the SHA-256 of its bytes".into(),
            });
        }
        let segment = Segment::decode(bytes).map_err(|e| SyncError::Damaged {
            source_name: remote_name.to_string(),
            segment: name.clone(),
            reason: e.to_string(),
        })?;
        out.push(Incoming { name, segment });
    }
    Ok((out, tree))
}

/// What one fetch-verify-merge round found.
struct Round {
    records_in: usize,
    restored: usize,
    remote_commit: Option<String>,
}

/// `amanat sync`.
pub fn sync(store: &VaultStore, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let (git, rel) = locate(store.path())?;
    let branch = check_work_tree(&git, &rel)?;
    // The local vault must itself verify (pins included) before anything is shared.
    store.load()?;
    let remote = remote_of(&git, &branch, opts.remote.as_deref())?;
    if remote.is_none() && opts.push {
        return Err(SyncError::Git(
            "no git remote to sync with: add one ('git remote add origin URL') or use --no-push to only commit".into(),
        ));
    }
    let mut committed = commit_local(&git, store, &rel, opts)?;
    let Some((remote, remote_branch)) = remote else {
        let (vault, _) = store.load()?;
        return Ok(SyncReport {
            records_out: 0,
            vault,
            records_in: 0,
            committed,
            restored: 0,
            pushed: None,
            no_remote: true,
        });
    };
    let tracking = format!("refs/remotes/{remote}/{remote_branch}");
    let label = format!("{remote}/{remote_branch}");
    let mut records_in = 0;
    let mut records_out;
    let mut restored = 0;
    let mut attempt = 0;
    loop {
        attempt += 1;
        git.ok(&["fetch", "--quiet", "--no-write-fetch-head", &remote])
            .or_else(|_| git.ok(&["fetch", "--quiet", &remote]))?;
        let round = fetch_round(&git, store, &rel, &tracking, &label, &opts.committer)?;
        records_in += round.records_in;
        restored += round.restored;
        committed += commit_local(&git, store, &rel, opts)?;
        records_out = records_missing_from(&git, &rel, round.remote_commit.as_deref(), store)?;
        if !opts.push {
            if let Some(c) = &round.remote_commit {
                store.set_last_synced(&label, c)?;
            }
            break;
        }
        let mut push = vec![
            "push".to_string(),
            "--quiet".to_string(),
            "--porcelain".to_string(),
        ];
        let has_upstream = git
            .text(&["config", "--get", &format!("branch.{branch}.merge")])
            .is_ok();
        if !has_upstream {
            push.push("--set-upstream".to_string());
        }
        push.push(remote.clone());
        push.push(format!("HEAD:refs/heads/{remote_branch}"));
        let out = git.output(&push)?;
        if out.status.success() {
            if let Some(head) = git.rev("HEAD")? {
                store.set_last_synced(&label, &head)?;
            }
            break;
        }
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let rejected = text.contains("[rejected]")
            || text.contains("non-fast-forward")
            || text.contains("fetch first")
            || text.contains("[remote rejected]") && text.contains("cannot lock ref");
        if !rejected || attempt >= PUSH_ATTEMPTS {
            return Err(SyncError::Git(format!(
                "{}; your segments are committed and merged locally: run 'amanat sync' again",
                match git_failed(&push, &out.stderr) {
                    SyncError::Git(m) => m,
                    e => e.to_string(),
                }
            )));
        }
        // Someone pushed in between: fetch, verify and merge again.
    }
    let (vault, _) = store.load()?;
    Ok(SyncReport {
        vault,
        records_in,
        records_out,
        committed,
        restored,
        pushed: opts.push.then_some(label),
        no_remote: false,
    })
}

/// How many of this vault's records `commit`'s tree does not hold (all, with no
/// commit): what a push of HEAD sends out.
fn records_missing_from(
    git: &Git,
    rel: &str,
    commit: Option<&str>,
    store: &VaultStore,
) -> Result<usize, SyncError> {
    let names = match commit {
        Some(c) => git.segments_in(c, rel)?,
        None => BTreeMap::new(),
    };
    let set = store::read_segments(store.path())?;
    let mut there: HashSet<RecordId> = HashSet::new();
    let mut here: HashSet<RecordId> = HashSet::new();
    for (name, seg) in &set.segments {
        let ids = seg.records().iter().map(|r| r.id);
        if names.contains_key(name) {
            there.extend(ids);
        } else {
            here.extend(ids);
        }
    }
    Ok(here.difference(&there).count())
}

/// Stage and commit the vault's new and deleted segment files (only `*.seg` files that
/// are sound: a damaged one is never shared). Returns how many segments it added.
fn commit_local(
    git: &Git,
    store: &VaultStore,
    rel: &str,
    opts: &SyncOptions,
) -> Result<usize, SyncError> {
    let set = store::read_segments(store.path())?;
    let prefix = if rel.is_empty() {
        String::new()
    } else {
        format!("{rel}/")
    };
    let tracked = git.ok(&["ls-files", "-z", "--", &format!("{}.", prefix)])?;
    let tracked: HashSet<String> = tracked
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| {
            String::from_utf8_lossy(p)
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let new: Vec<String> = set
        .segments
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| !tracked.contains(n))
        .collect();
    let mut paths = String::new();
    for n in &new {
        paths.push_str(&prefix);
        paths.push_str(n);
        paths.push('\0');
    }
    if !new.is_empty() {
        let mut child = git
            .command()
            .args(["add", "--pathspec-from-file=-", "--pathspec-file-nul"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SyncError::Git(format!("cannot run git: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(paths.as_bytes())
                .map_err(|e| SyncError::Git(format!("git add: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| SyncError::Git(format!("git add: {e}")))?;
        if !out.status.success() {
            return Err(git_failed(&["add"], &out.stderr));
        }
    }
    // Deleted segments (compaction) are staged too.
    let spec = if rel.is_empty() { "." } else { rel };
    git.ok(&["add", "-u", "--", spec])?;
    if git.succeeds(&["diff", "--cached", "--quiet", "--", spec])? {
        return Ok(0);
    }
    let mut args = identity_args(git, &opts.committer);
    args.extend([
        "commit".to_string(),
        "--quiet".to_string(),
        "-m".to_string(),
        format!("amanat: {} new segment(s)", new.len()),
        "--".to_string(),
        spec.to_string(),
    ]);
    git.ok(&args)?;
    Ok(new.len())
}

/// `-c user.name=… -c user.email=…` when git has none configured (a fresh machine, a
/// CI runner), so that commits and merges do not fail for want of an identity.
fn identity_args(git: &Git, committer: &str) -> Vec<String> {
    let mut args = Vec::new();
    let configured = |key: &str| {
        git.text(&["config", "--get", key])
            .is_ok_and(|v| !v.is_empty())
            || std::env::var_os(match key {
                "user.name" => "GIT_COMMITTER_NAME",
                _ => "GIT_COMMITTER_EMAIL",
            })
            .is_some()
    };
    if !configured("user.name") {
        args.push("-c".into());
        args.push(format!("user.name={committer}"));
    }
    if !configured("user.email") {
        args.push("-c".into());
        args.push("user.email=amanat@localhost".into());
    }
    args
}

/// Verify what the remote-tracking branch brings, then merge it and restore segments it
/// deleted whose records exist nowhere else.
fn fetch_round(
    git: &Git,
    store: &VaultStore,
    rel: &str,
    tracking: &str,
    label: &str,
    committer: &str,
) -> Result<Round, SyncError> {
    let remote_commit = git.rev(tracking)?;
    if let Some(last) = store.last_synced(label) {
        let intact = match &remote_commit {
            Some(r) => git.rev(&last)?.is_some() && git.is_ancestor(&last, r)?,
            None => false,
        };
        if !intact {
            return Err(SyncError::Rewritten(format!(
                "the history of {label} was rewritten since the last sync (commit {} is no longer in it)",
                last.chars().take(12).collect::<String>()
            )));
        }
    }
    let Some(remote) = remote_commit else {
        // Nothing there yet: the first push creates it.
        return Ok(Round {
            records_in: 0,
            restored: 0,
            remote_commit: None,
        });
    };
    let head = git.rev("HEAD")?;
    if let Some(h) = &head
        && git.is_ancestor(&remote, h)?
    {
        return Ok(Round {
            records_in: 0,
            restored: 0,
            remote_commit: Some(remote),
        });
    }
    let local_set = store::read_segments(store.path())?;
    let local_names: HashSet<String> = local_set.segments.iter().map(|(n, _)| n.clone()).collect();
    let (incoming, remote_tree) = incoming_segments(git, &remote, rel, &local_names, label)?;
    let (local, _) = store.load_unpinned()?;
    for i in &incoming {
        if i.segment.vault_id() != local.id() {
            return Err(SyncError::OtherVault {
                source_name: format!("{label} ({})", i.name),
                found: i.segment.vault_id().short(),
                expected: local.id().short(),
            });
        }
    }
    // Segments the other side deleted: in the merge base, here, not there.
    let base = match &head {
        Some(h) => git
            .text(&["merge-base", h, &remote])
            .ok()
            .filter(|b| !b.is_empty()),
        None => None,
    };
    let mut remote_ids: HashSet<RecordId> = HashSet::new();
    for i in &incoming {
        remote_ids.extend(i.segment.records().iter().map(|r| r.id));
    }
    for (name, seg) in &local_set.segments {
        if remote_tree.contains_key(name) {
            remote_ids.extend(seg.records().iter().map(|r| r.id));
        }
    }
    let mut to_restore: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(base) = &base {
        let base_tree = git.segments_in(base, rel)?;
        for (name, seg) in &local_set.segments {
            let deleted_there = base_tree.contains_key(name) && !remote_tree.contains_key(name);
            if deleted_there && seg.records().iter().any(|r| !remote_ids.contains(&r.id)) {
                let bytes = std::fs::read(store.path().join(name)).map_err(|e| {
                    SyncError::Store(store::StoreError::Io {
                        path: store.path().join(name),
                        source: e,
                    })
                })?;
                to_restore.push((name.clone(), bytes));
            }
        }
    }
    let before = local.record_count();
    let segments: Vec<Segment> = incoming.into_iter().map(|i| i.segment).collect();
    super::check_duplicates(Some(&local), &segments)?;
    let incoming_ids: HashSet<RecordId> = segments
        .iter()
        .flat_map(|s| s.records().iter().map(|r| r.id))
        .collect();
    let combined = store.load_with(segments)?;
    let bad = combined.damaged().filter(|id| !local.contains(id)).count();
    if bad > 0 {
        return Err(SyncError::BadRecords { count: bad });
    }
    // A commit is complete: an honest writer's segments hold every parent of their
    // records (its own vault had them), so a record held back here was made up.
    let orphans = incoming_ids
        .iter()
        .filter(|id| !combined.contains(id))
        .count();
    if orphans > 0 {
        return Err(SyncError::Orphans { count: orphans });
    }
    // Verified: now the work tree may change.
    let mut args = identity_args(git, committer);
    args.extend(
        [
            "merge",
            "--quiet",
            "--no-edit",
            "-s",
            "ort",
            "-X",
            "no-renames",
            "-m",
            &format!("amanat sync: merge {label}"),
            &remote,
        ]
        .map(str::to_string),
    );
    let merge = git.output(&args)?;
    if !merge.status.success() {
        let _ = git.output(&["merge", "--abort"]);
        return Err(git_failed(&["merge", label], &merge.stderr));
    }
    let restored = to_restore.len();
    if restored > 0 {
        // The merge may have removed the emptied directory.
        store::create_private_dir(store.path())?;
    }
    for (_, bytes) in &to_restore {
        store::write_segment(store.path(), bytes)?;
    }
    let (after, _) = store.load()?;
    Ok(Round {
        records_in: after.record_count().saturating_sub(before),
        restored,
        remote_commit: Some(remote),
    })
}
