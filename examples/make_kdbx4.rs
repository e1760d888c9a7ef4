//! Write the KDBX 4 (Argon2d, ChaCha20) fixture `tests/vectors/import/kdbx4-argon2.kdbx`
//! (password `kdbx-pw`) with the same entries as `keepass2.xml`, through the `keepass`
//! crate's writer: keepassxc-cli 2.7 (Debian 12) writes KDBX 3.1 with AES-KDF only.
//!
//!     cargo run --example make_kdbx4 -- tests/vectors/import/kdbx4-argon2.kdbx
//!
//! The Argon2 cost is small (1 MiB, 2 passes) so tests stay fast.

use keepass::config::{DatabaseConfig, KdfConfig};
use keepass::{Database, DatabaseKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .ok_or("usage: make_kdbx4 OUT.kdbx")?;
    // The default is KDBX 4.1, Argon2d, AES-256 outside, ChaCha20 inside.
    let mut config = DatabaseConfig::default();
    if let KdfConfig::Argon2 {
        iterations,
        memory,
        parallelism,
        ..
    } = &mut config.kdf_config
    {
        (*iterations, *memory, *parallelism) = (2, 1024 * 1024, 1);
    }
    let mut db = Database::with_config(config);
    db.meta.database_name = Some("Team".into());
    let mut root = db.root_mut();
    root.name = "Team".into();
    {
        let mut e = root.add_entry();
        e.set_unprotected("Title", "Café Wi-Fi");
        e.set_unprotected("UserName", "guest");
        e.set_protected("Password", "hunter2");
    }
    let mut work = root.add_group();
    work.name = "Work".into();
    {
        let mut e = work.add_entry();
        e.set_unprotected("Title", "GitHub");
        e.set_unprotected("UserName", "alice");
        e.set_protected("Password", "Gh-S3cret, \"q\"");
        e.set_unprotected("URL", "https://github.com");
        e.set_unprotected("Notes", "line 1\nline 2");
        e.set_protected(
            "otp",
            "otpauth://totp/GitHub:alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
        );
        e.set_protected("recovery code", "1234-5678");
        e.set_unprotected("team", "payments");
    }
    let mut servers = work.add_group();
    servers.name = "Servers".into();
    {
        let mut e = servers.add_entry();
        e.set_unprotected("Title", "db-prod");
        e.set_unprotected("UserName", "postgres");
        e.set_protected("Password", "");
    }
    let mut file = std::fs::File::create(&out)?;
    db.save(&mut file, DatabaseKey::new().with_password("kdbx-pw"))?;
    println!("wrote {out}");
    Ok(())
}
