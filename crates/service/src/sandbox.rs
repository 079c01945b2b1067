//! Text extraction out of process. Third-party parsers (PDF, HTML, Office) run in a child
//! process — by default this binary's hidden `extract` subcommand — under a wall-clock timeout
//! set here. On Linux the parent sets the child's address space and CPU time as soon as it
//! starts, before sending it a byte, whatever the program (`ingest.extract.program`), and makes
//! it the first process the kernel's OOM killer ends; the built-in child also limits itself (and
//! forbids itself files and processes). A parser that crashes (a stack overflow aborts a
//! process, it does not unwind), hangs, or exhausts memory fails that
//! file with a clear message; the service goes on.
//!
//! The protocol: the file's bytes on the child's standard input, its text on standard output,
//! and on failure a message on standard error with exit code [`EXIT_INVALID`] or
//! [`EXIT_UNSUPPORTED`]. Any other ending is a crash.

use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::text::{self, ExtractError};

/// The child's exit code for content that cannot be read.
pub const EXIT_INVALID: u8 = 10;
/// The child's exit code for a format that is not supported.
pub const EXIT_UNSUPPORTED: u8 = 11;

/// Most of an error message the parent keeps from the child's standard error.
const MAX_MESSAGE: usize = 2048;

/// How the child is started and what it may use.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The program, and the arguments that put it in extraction mode (`[program, "extract"]`
    /// for this binary).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Wall-clock time for one file; CPU time is limited to the same.
    pub timeout: Duration,
    /// Address space of the child, in bytes.
    pub memory_bytes: u64,
    /// The most text one file may yield.
    pub max_text_bytes: usize,
}

/// Sandbox limits as settings name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct SandboxLimits {
    pub timeout_secs: u64,
    pub memory_limit_mib: u64,
    pub max_text_bytes: usize,
}

impl Sandbox {
    /// This very executable in extraction mode.
    pub fn this_binary(limits: SandboxLimits) -> std::io::Result<Self> {
        Ok(Self::with_program(std::env::current_exe()?, limits))
    }

    /// `program extract …` under `limits`.
    pub fn with_program(program: PathBuf, limits: SandboxLimits) -> Self {
        Self {
            program,
            args: vec!["extract".into()],
            timeout: Duration::from_secs(limits.timeout_secs.max(1)),
            memory_bytes: limits.memory_limit_mib.saturating_mul(1024 * 1024),
            max_text_bytes: limits.max_text_bytes,
        }
    }

    /// The text of the `size` bytes `input` holds, parsed as `filename` says: UTF-8 text
    /// formats in this process, anything a third-party parser reads in the child. A text
    /// format larger than the text limit is refused before a byte is read; a parser's input
    /// streams to the child, never held here whole.
    pub async fn extract<R>(&self, filename: &str, input: R, size: u64) -> Result<String, Failure>
    where
        R: AsyncRead + Unpin + Send,
    {
        // The child's text is held to the limit as it is read; a text format's text is no
        // longer than its bytes, held to the limit here.
        if text::needs_parser(filename) {
            // The parser holds the file whole: one larger than half its memory cannot be read.
            let most = self.memory_bytes / 2;
            if size > most {
                return Err(Failure::Invalid(format!(
                    "'{filename}' is {size} bytes; a file its parser reads may be at most {most} \
                     (half of ingest.extract.memory_limit_mib)"
                )));
            }
            return self.run_child(filename, input).await;
        }
        if size > self.max_text_bytes as u64 {
            return Err(self.too_much_text(filename));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        input
            .take(self.max_text_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| Failure::Server(format!("reading the file: {e}")))?;
        if bytes.len() > self.max_text_bytes {
            return Err(self.too_much_text(filename));
        }
        let name = filename.to_string();
        tokio::task::spawn_blocking(move || text::extract(&name, &bytes))
            .await
            .map_err(|e| Failure::Server(format!("text extraction stopped: {e}")))?
            .map_err(Failure::from)
    }

    fn too_much_text(&self, filename: &str) -> Failure {
        Failure::Invalid(format!(
            "'{filename}' holds more than {} bytes of text (ingest.extract.max_text_bytes)",
            self.max_text_bytes
        ))
    }

    async fn run_child<R>(&self, filename: &str, mut input: R) -> Result<String, Failure>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            // One argument: a name that starts with '-' is still the name, never a flag.
            .arg(format!("--filename={filename}"))
            .arg("--memory-bytes")
            .arg(self.memory_bytes.to_string())
            .arg("--cpu-secs")
            .arg(self.timeout.as_secs().max(1).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_clear()
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Failure::Server(format!(
                    "could not start the extraction process {}: {e}",
                    self.program.display()
                ))
            })?;
        if let Some(pid) = child.id() {
            limit_child(pid, self.memory_bytes, self.timeout.as_secs().max(1)).map_err(|e| {
                Failure::Server(format!("could not limit the extraction process: {e}"))
            })?;
        }
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let limit = self.max_text_bytes as u64;
        let feed = async move {
            // A child that stops reading (it crashed, or it refused the file) breaks the pipe:
            // its exit status tells why.
            let _ = tokio::io::copy(&mut input, &mut stdin).await;
            let _ = stdin.shutdown().await;
            drop(stdin);
        };
        let read_out = async move {
            let mut out = Vec::new();
            stdout
                .take(limit + 1)
                .read_to_end(&mut out)
                .await
                .map(|_| out)
        };
        let read_err = async move {
            let mut err = Vec::new();
            let _ = stderr.take(MAX_MESSAGE as u64).read_to_end(&mut err).await;
            err
        };
        let run = async {
            let ((), out, err) = tokio::join!(feed, read_out, read_err);
            (out, err, child.wait().await)
        };
        // On a timeout the child is dropped, which kills it.
        let Ok((out, err, status)) = tokio::time::timeout(self.timeout, run).await else {
            return Err(Failure::Invalid(format!(
                "'{filename}' took longer than {} s to parse",
                self.timeout.as_secs()
            )));
        };
        let out = out.map_err(|e| Failure::Server(format!("reading extracted text: {e}")))?;
        if out.len() as u64 > limit {
            return Err(self.too_much_text(filename));
        }
        let status = status.map_err(|e| Failure::Server(format!("waiting for extraction: {e}")))?;
        let message = String::from_utf8_lossy(&err).trim().to_string();
        match status.code() {
            Some(0) => String::from_utf8(out)
                .map_err(|_| Failure::Invalid(format!("'{filename}' gave text that is not UTF-8"))),
            Some(c) if c == i32::from(EXIT_INVALID) => Err(Failure::Invalid(message)),
            Some(c) if c == i32::from(EXIT_UNSUPPORTED) => Err(Failure::Unsupported(message)),
            _ => {
                tracing::warn!(
                    file = filename,
                    status = %status,
                    stderr = %message,
                    "the extraction process crashed"
                );
                Err(Failure::Invalid(format!(
                    "'{filename}' could not be parsed: the parser {}",
                    ending(status)
                )))
            }
        }
    }
}

fn ending(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return match signal {
                6 | 11 => "crashed (its stack or memory ran out)".into(),
                9 | 24 => "was stopped at its CPU or memory limit".into(),
                s => format!("was ended by signal {s}"),
            };
        }
    }
    format!("failed ({status})")
}

/// Why extraction failed: the file's fault (`invalid_file` / `unsupported_file`), or the
/// server's (tried again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Server(String),
}

impl From<ExtractError> for Failure {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Invalid(m) => Failure::Invalid(m),
            ExtractError::Unsupported(m) => Failure::Unsupported(m),
        }
    }
}

/// The child's side: limits itself, reads the file from standard input, writes its text to
/// standard output. Called by the binary's `extract` subcommand.
pub fn child_main(filename: &str, memory_bytes: u64, cpu_secs: u64) -> ExitCode {
    use std::io::{Read, Write};
    if let Err(e) = limit_self(memory_bytes, cpu_secs) {
        eprintln!("could not set the extraction limits: {e}");
        return ExitCode::FAILURE;
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("could not read the file: {e}");
        return ExitCode::FAILURE;
    }
    match text::extract(filename, &bytes) {
        Ok(t) => match std::io::stdout().lock().write_all(t.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match e {
                ExtractError::Invalid(_) => EXIT_INVALID,
                ExtractError::Unsupported(_) => EXIT_UNSUPPORTED,
            })
        }
    }
}

#[cfg(target_os = "linux")]
fn limit_self(memory_bytes: u64, cpu_secs: u64) -> nix::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    setrlimit(Resource::RLIMIT_AS, memory_bytes, memory_bytes)?;
    // The soft limit sends SIGXCPU; a second later the hard one kills.
    setrlimit(Resource::RLIMIT_CPU, cpu_secs, cpu_secs + 1)?;
    // It writes no files and starts no processes.
    setrlimit(Resource::RLIMIT_FSIZE, 0, 0)?;
    setrlimit(Resource::RLIMIT_NPROC, 0, 0)?;
    Ok(())
}

/// Sets the limits of the child `pid` from the parent (before it is sent its input): address
/// space, CPU time (the soft limit sends SIGXCPU, a second later the hard one kills) and no core
/// dumps; and makes it the process the OOM killer ends first, rather than the server.
#[cfg(target_os = "linux")]
fn limit_child(pid: u32, memory_bytes: u64, cpu_secs: u64) -> std::io::Result<()> {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("not a process id: {pid}")))?;
    let limit = |current: u64, maximum: u64| Rlimit {
        current: Some(current),
        maximum: Some(maximum),
    };
    prlimit(Some(pid), Resource::As, limit(memory_bytes, memory_bytes))?;
    prlimit(Some(pid), Resource::Cpu, limit(cpu_secs, cpu_secs + 1))?;
    prlimit(Some(pid), Resource::Core, limit(0, 0))?;
    std::fs::write(
        format!("/proc/{}/oom_score_adj", pid.as_raw_nonzero()),
        "1000",
    )
}

#[cfg(not(target_os = "linux"))]
fn limit_child(_pid: u32, _memory_bytes: u64, _cpu_secs: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn limit_self(_memory_bytes: u64, _cpu_secs: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(script: &str) -> Sandbox {
        Sandbox {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into(), "sh".into()],
            timeout: Duration::from_secs(2),
            memory_bytes: 1 << 30,
            max_text_bytes: 1000,
        }
    }

    #[tokio::test]
    async fn a_child_that_answers_gives_its_text() {
        let s = sandbox("cat");
        assert_eq!(s.extract("a.pdf", &b"hello"[..], 5).await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn a_name_that_looks_like_a_flag_is_passed_as_the_name() {
        // The child echoes its arguments: the name arrives whole, in one argument.
        let s = sandbox("printf '%s|' \"$@\"");
        let out = s.extract("-rf.pdf", &b""[..], 0).await.unwrap();
        assert!(
            out.starts_with("--filename=-rf.pdf|--memory-bytes|"),
            "{out}"
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn any_program_is_limited_by_the_parent_before_it_reads_a_byte() {
        // Not the built-in child: a shell that limits nothing itself reports its own limits once
        // its input has arrived.
        let mut s =
            sandbox("cat > /dev/null; cat /proc/$$/limits; echo oom=$(cat /proc/$$/oom_score_adj)");
        s.max_text_bytes = 100_000;
        let out = s.extract("a.pdf", &b"x"[..], 1).await.unwrap();
        let line = |name: &str| {
            out.lines().find(|l| l.starts_with(name)).map_or_else(
                || panic!("no {name} in {out}"),
                |l| l.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        };
        assert_eq!(
            line("Max address space"),
            "Max address space 1073741824 1073741824 bytes"
        );
        assert_eq!(line("Max cpu time"), "Max cpu time 2 3 seconds");
        assert_eq!(line("Max core file size"), "Max core file size 0 0 bytes");
        assert!(out.contains("oom=1000"), "{out}");
    }

    #[tokio::test]
    async fn a_crash_fails_the_file_and_nothing_else() {
        let s = sandbox("kill -SEGV $$");
        let e = s.extract("a.pdf", &b"x"[..], 1).await.unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(m) if m.contains("crashed")),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_hang_is_cut_off_at_the_timeout() {
        let mut s = sandbox("exec sleep 30");
        s.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let e = s.extract("a.html", &b""[..], 0).await.unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(m) if m.contains("longer than")),
            "{e:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn too_much_text_is_refused() {
        let s = sandbox("head -c 5000 /dev/zero | tr '\\0' a");
        let e = s.extract("a.pdf", &b""[..], 0).await.unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(m) if m.contains("more than 1000 bytes")),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn the_childs_own_refusals_keep_their_kind_and_message() {
        let s = sandbox("echo 'not a PDF' >&2; exit 10");
        assert_eq!(
            s.extract("a.pdf", &b""[..], 0).await.unwrap_err(),
            Failure::Invalid("not a PDF".into())
        );
        let s = sandbox("echo nope >&2; exit 11");
        assert_eq!(
            s.extract("a.pdf", &b""[..], 0).await.unwrap_err(),
            Failure::Unsupported("nope".into())
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_the_servers_fault() {
        let mut s = sandbox("");
        s.program = "/nonexistent/extractor".into();
        assert!(matches!(
            s.extract("a.pdf", &b""[..], 0).await,
            Err(Failure::Server(_))
        ));
    }

    #[tokio::test]
    async fn a_text_file_over_the_text_limit_is_refused_before_it_is_read() {
        let s = sandbox("");
        // A reader that fails if read: the size alone decides.
        struct Unreadable;
        impl AsyncRead for Unreadable {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                _: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                panic!("a file over the text limit was read")
            }
        }
        let e = s.extract("big.json", Unreadable, 1001).await.unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(m) if m.contains("more than 1000 bytes")),
            "{e:?}"
        );
        // A size that understates the file is no way around it.
        let e = s
            .extract("big.txt", &[b'a'; 1500][..], 10)
            .await
            .unwrap_err();
        assert!(matches!(&e, Failure::Invalid(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_file_larger_than_half_the_parsers_memory_is_refused_unread() {
        // The size alone decides: the sandbox's 1 GiB takes a file of 512 MiB, not one more.
        let s = sandbox("cat");
        let half = 512 * 1024 * 1024;
        let e = s
            .extract("big.docx", &b"ok"[..], half + 1)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Failure::Invalid(m) if m.contains(&format!("at most {half}"))),
            "{e:?}"
        );
        assert_eq!(s.extract("a.pdf", &b"ok"[..], half).await.unwrap(), "ok");
    }

    #[tokio::test]
    async fn text_formats_do_not_start_a_child() {
        let mut s = sandbox("");
        s.program = "/nonexistent/extractor".into();
        assert_eq!(s.extract("a.txt", &b"plain"[..], 5).await.unwrap(), "plain");
    }
}
