//! A private X server (`Xvfb -displayfd`) for the clipboard tests (`clip`, `otp
//! --clip`), and the clipboard helpers (`amanat __clip-serve`) a test environment
//! started.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::TestEnv;

/// `program` on `PATH`, if there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Poll `f` every 50 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pids of the `__clip-serve` helpers started from `env` (found by their `HOME`).
pub fn clip_helpers_of(env: &TestEnv) -> Vec<u32> {
    let home = format!("HOME={}", env.home().display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !cmdline.split(|&b| b == 0).any(|a| a == b"__clip-serve") {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|&b| b == 0).any(|v| v == home.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// SIGKILL every clipboard helper `env` started.
pub fn kill_clip_helpers(env: &TestEnv) {
    for pid in clip_helpers_of(env) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// A private X server, terminated on drop.
pub struct Xvfb {
    server: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

impl Xvfb {
    /// Start one, or `None` (after saying why) when Xvfb or xclip is missing; under CI
    /// (`CI` set) a missing one is a failure.
    pub fn start() -> Option<Self> {
        let missing: Vec<&str> = ["Xvfb", "xclip"]
            .into_iter()
            .filter(|p| on_path(p).is_none())
            .collect();
        if !missing.is_empty() {
            let msg = format!(
                "SKIPPED: {} not installed (apt-get install -y xvfb xclip)",
                missing.join(" and ")
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "{msg}; CI must install them"
            );
            eprintln!("{msg}");
            return None;
        }
        let mut server = Command::new("Xvfb")
            .args(["-displayfd", "1", "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Xvfb writes the display number it chose once it accepts connections.
        let mut reader = BufReader::new(server.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open for the server's lifetime.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let number = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("Xvfb did not report its display");
        let number = number.trim().to_string();
        assert!(
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
            "Xvfb reported {number:?}"
        );
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        assert!(
            wait_for(Duration::from_secs(10), || socket.exists().then_some(())).is_some(),
            "no X socket at {}",
            socket.display()
        );
        Some(Self {
            server,
            display: format!(":{number}"),
        })
    }

    /// `xclip -o -selection clipboard [-t TARGET]`: `None` when nothing is there.
    pub fn read(&self, target: Option<&str>) -> Option<String> {
        let mut cmd = Command::new("xclip");
        cmd.args(["-o", "-selection", "clipboard"]);
        if let Some(t) = target {
            cmd.args(["-t", t]);
        }
        let out = cmd
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.server);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.server.wait();
    }
}
