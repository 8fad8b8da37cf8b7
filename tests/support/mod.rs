//! Starting example servers for integration tests: build once, run on an
//! ephemeral loopback port, kill on drop. Every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running example server; killed when dropped (even when a test panics).
pub struct ExampleServer {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ExampleServer {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not exited or been
    /// killed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("poll the example process")
            .is_none()
    }

    /// Sends SIGINT, as Ctrl-C does.
    #[cfg(unix)]
    pub fn interrupt(&self) {
        interrupt(&self.child);
    }

    /// Waits at most 10 s for the process to exit.
    pub fn wait_for_exit(&mut self) -> ExitStatus {
        wait_for_exit(&mut self.child, "the example")
    }
}

/// Sends SIGINT to `child`, as Ctrl-C does.
#[cfg(unix)]
pub fn interrupt(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -INT failed: {sent}");
}

/// Waits at most 10 s for `child` to exit.
pub fn wait_for_exit(child: &mut Child, name: &str) -> ExitStatus {
    let limit = Duration::from_secs(10);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The directory cargo builds into: `CARGO_TARGET_DIR` (a relative one is
/// relative to the package root, where `cargo test` runs integration
/// tests), else `target/` beside the manifest.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Which features an example is built with.
#[derive(Clone, Copy, Debug)]
pub enum Features {
    /// `--features tokio`: what the plain examples need.
    Tokio,
    /// `--all-features`, as `cargo test --workspace --all-features` builds
    /// the crate (TLS, HTTP/2, Redis, proxies' TLS...).
    All,
}

/// Builds `examples/NAME.rs` for each name with `features`.
pub fn build_examples(features: Features, names: &[&str]) {
    let mut build = Command::new(env!("CARGO"));
    // Cargo describes the test crate to the test in these variables; passed
    // on, they reach build scripts that watch them (ring's does), which then
    // rerun here and again in the next `cargo test`, rebuilding ring, rustls
    // and ws13 twice per run.
    for (key, _) in std::env::vars_os() {
        let crate_described = key.to_str().is_some_and(|key| {
            key.starts_with("CARGO_PKG_")
                || matches!(
                    key,
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                )
        });
        if crate_described {
            build.env_remove(key);
        }
    }
    build.args(["build", "--quiet"]);
    match features {
        Features::Tokio => build.args(["--features", "tokio"]),
        Features::All => build.arg("--all-features"),
    };
    for name in names {
        build.args(["--example", name]);
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building examples {names:?} failed");
}

/// Builds `examples/NAME.rs` (see [`build_examples`]) and returns its path.
pub fn example_binary(features: Features, name: &str) -> PathBuf {
    build_examples(features, &[name]);
    target_dir().join("debug").join("examples").join(name)
}

/// A child process killed when dropped, even when a test panics.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds (if needed) and starts `examples/NAME.rs` with `--addr 127.0.0.1:0`
/// and extra arguments; waits for the line that announces `ws://ADDR`.
pub fn start_example(name: &str, args: &[&str]) -> ExampleServer {
    let binary = example_binary(Features::Tokio, name);
    let mut child = Command::new(&binary)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (found, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("ws://").or_else(|| line.find("http://")) {
                let rest = &line[at..];
                let addr = rest
                    .split("://")
                    .nth(1)
                    .unwrap_or("")
                    .split(['/', ' '])
                    .next()
                    .unwrap_or("");
                let _ = found.send(addr.to_owned());
            }
        }
    });
    let addr = lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("example {name} did not announce its address within 30 s")
        });
    let addr = addr
        .parse()
        .unwrap_or_else(|e| panic!("bad address {addr:?} from {name}: {e}"));
    ExampleServer { child, addr }
}

/// Sends raw bytes and returns everything the server answers until it closes
/// (bounded by a 5 s read timeout).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// A request as nginx forwards it without `proxy_http_version 1.1` and the
/// `Upgrade`/`Connection` settings (field failure 3).
pub const NGINX_STRIPPED_REQUEST: &[u8] =
    b"GET /ws HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
