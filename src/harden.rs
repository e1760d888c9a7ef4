//! Process hardening for the CLI and the agent: no core dumps, not ptrace-able by
//! other processes of the same user, secret pages kept out of swap where allowed.
//!
//! This is the one module that talks to the kernel about the process itself (STYLE.md
//! §15). Every call goes through rustix's safe wrappers, so no `unsafe` is needed:
//! `mlockall` locks whole address spaces and needs no pointer, unlike `mlock`.
//!
//! Not for: sockets or files (see `agent`), or zeroizing (the secret types do that).

use rustix::mm::{MlockAllFlags, mlockall};
use rustix::process::{
    DumpableBehavior, Resource, Rlimit, dumpable_behavior, getrlimit, getuid,
    set_dumpable_behavior, setrlimit,
};

/// What [`harden`] managed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    /// `prctl(PR_SET_DUMPABLE, 0)` succeeded: no core file, and `/proc/PID/{mem,environ}`
    /// and ptrace are closed to other unprivileged processes, even of the same user.
    pub not_dumpable: bool,
    /// `RLIMIT_CORE` is 0 (soft and hard).
    pub no_core: bool,
    /// Current and future pages are locked in RAM (`mlockall`).
    pub memory_locked: bool,
}

/// Harden the current process. Best effort: each step is independent and a failure
/// only shows in the returned [`Hardening`].
///
/// Memory locking is attempted only when it cannot fail later: with `MCL_FUTURE`, a
/// locked process whose `RLIMIT_MEMLOCK` is small gets allocation failures (an abort)
/// once it grows past the limit. So it is tried when the limit is unlimited or the
/// process is root (which has `CAP_IPC_LOCK` in the usual case). `MCL_ONFAULT` locks
/// pages when they are first touched, so this costs nothing at start-up.
pub fn harden() -> Hardening {
    let mut h = harden_command();
    h.memory_locked = lock_all_memory();
    h
}

/// [`harden`] for a short-lived command: the same, except that only pages mapped from
/// now on are locked (`MCL_FUTURE`), not the ones already mapped (the binary, the
/// libraries, the start of the heap and stack, none of which holds a secret yet).
/// Locking those costs about 0.5–0.9 ms per run here, a third of a `get` through the
/// agent (docs/performance.md). A command that is about to handle a passphrase or key
/// calls [`lock_all_memory`] first.
pub fn harden_command() -> Hardening {
    // Core dumps would write every secret in memory to disk.
    let no_core = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .is_ok();
    // Not dumpable: also closes /proc/PID/mem and ptrace to same-uid processes.
    let not_dumpable = set_dumpable_behavior(DumpableBehavior::NotDumpable).is_ok();
    let memory_locked =
        may_lock_memory() && mlockall(MlockAllFlags::FUTURE | MlockAllFlags::ONFAULT).is_ok();
    Hardening {
        not_dumpable,
        no_core,
        memory_locked,
    }
}

/// Lock every page, mapped now or later (`MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT`), where
/// that cannot fail later (see [`harden`]). Returns whether memory is locked.
/// Done once per process; later calls return the first answer.
pub fn lock_all_memory() -> bool {
    static LOCKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOCKED.get_or_init(|| {
        may_lock_memory()
            && mlockall(MlockAllFlags::CURRENT | MlockAllFlags::FUTURE | MlockAllFlags::ONFAULT)
                .is_ok()
    })
}

fn may_lock_memory() -> bool {
    getuid().is_root() || getrlimit(Resource::Memlock).current.is_none()
}

/// Whether this process is currently marked not dumpable (for `agent status`).
pub fn is_not_dumpable() -> bool {
    matches!(dumpable_behavior(), Ok(DumpableBehavior::NotDumpable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_locked_where_allowed() {
        let allowed = may_lock_memory();
        assert_eq!(harden_command().memory_locked, allowed);
        assert_eq!(lock_all_memory(), allowed);
        if allowed {
            // mlockall(MCL_CURRENT | MCL_ONFAULT) marks the mappings: the stack pages
            // touched from now on count as locked.
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let locked_kb: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmLck:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
                .unwrap_or(0);
            assert!(locked_kb > 0, "{status}");
        }
    }

    #[test]
    fn hardening_turns_off_core_dumps() {
        let h = harden();
        assert!(h.no_core && h.not_dumpable);
        assert_eq!(getrlimit(Resource::Core).current, Some(0));
        assert!(is_not_dumpable());
    }
}
