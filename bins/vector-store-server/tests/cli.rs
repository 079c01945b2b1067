//! The binary's commands, run as a user would: `keys create|list|revoke`, `migrate`, and start-up
//! failures that must be one clear line.

use std::process::{Command, Output};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vector-store-server"));
    cmd.env_remove("RUST_LOG")
        .env("VECTOR_STORE__LOG__LEVEL", "warn");
    cmd
}

fn database_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set: run the tests with `make test`")
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out, stdout, stderr)
}

#[test]
fn keys_are_printed_once_listed_by_prefix_and_revocable() {
    let tenant = format!("cli_{}", std::process::id());
    let (out, stdout, stderr) = run(bin()
        .env("DATABASE_URL", database_url())
        .args(["keys", "create", "--tenant", &tenant]));
    assert!(out.status.success(), "{stderr}");
    let key = stdout.trim().to_string();
    assert!(key.starts_with("vsk_") && key.len() == 47, "{key}");
    assert!(stderr.contains(&tenant));
    assert!(
        !stderr.contains(&key),
        "the key is printed once, on stdout only"
    );

    let (out, listing, _) = run(bin()
        .env("DATABASE_URL", database_url())
        .args(["keys", "list"]));
    assert!(out.status.success());
    let line = listing
        .lines()
        .find(|l| l.contains(&tenant))
        .expect("the new key is listed");
    assert!(
        line.contains(&key[..10]) && !line.contains(&key),
        "only the prefix is shown: {line}"
    );
    assert!(line.ends_with("active"));
    let id = line.split('\t').next().unwrap().to_string();

    let (out, _, stderr) = run(bin()
        .env("DATABASE_URL", database_url())
        .args(["keys", "revoke", &id]));
    assert!(out.status.success(), "{stderr}");
    let (_, listing, _) = run(bin()
        .env("DATABASE_URL", database_url())
        .args(["keys", "list"]));
    let line = listing.lines().find(|l| l.contains(&tenant)).unwrap();
    assert!(line.ends_with("revoked"), "{line}");

    let (out, _, stderr) =
        run(bin()
            .env("DATABASE_URL", database_url())
            .args(["keys", "revoke", "vsk_nosuchkey"]));
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn migrate_is_idempotent() {
    for _ in 0..2 {
        let (out, stdout, stderr) = run(bin().env("DATABASE_URL", database_url()).arg("migrate"));
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("migrations applied"));
    }
}

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    let cases: [(&str, &str, &str); 3] = [
        ("VECTOR_STORE__SERVER__PORT", "eighty", "port"),
        ("VECTOR_STORE__AUTH__MODE", "maybe", "maybe"),
        ("VECTOR_STORE__SERVER__HOST", "0.0.0.0", "loopback"),
    ];
    for (var, value, expected) in cases {
        let (out, _, stderr) = run(bin().env(var, value).env("DATABASE_URL", database_url()));
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{var}={value}: {stderr}");
        assert!(stderr.contains(expected), "{var}={value}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let (out, _, stderr) = run(bin()
        .env_remove("DATABASE_URL")
        .env_remove("VECTOR_STORE__DATABASE__URL"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}
