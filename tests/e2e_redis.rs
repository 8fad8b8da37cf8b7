//! The chat example across processes: two chat processes share a room
//! through a real `redis-server`, then nginx balances them and one dies.
//!
//! Needs Debian's `redis-server` and `nginx` (`e2e/redis.sh` installs them),
//! so every test is `#[ignore]`d; run them with
//! `cargo test --all-features --test e2e_redis -- --ignored`.
//! Everything runs unprivileged on loopback, on ports picked at random, in
//! a temporary directory; every wait is bounded.
#![cfg(feature = "redis")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{Features, Running, example_binary};
use tokio::net::TcpStream as AsyncTcpStream;
use ws13::tokio::WebSocketStream;
use ws13::{ClientOptions, Message, OsMaskKeys};

type Client = WebSocketStream<AsyncTcpStream, OsMaskKeys>;

/// The longest any single expected line may take to arrive.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn installed(candidates: &[&str], package: &str) -> PathBuf {
    for candidate in candidates {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("{package} is not installed: run e2e/redis.sh (it runs `apt-get install -y {package}`)");
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ws13-{what}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("temp")).expect("create a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wait_until_listening(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {addr} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-server` in the foreground, without persistence.
struct Redis {
    _process: Running,
    url: String,
    _dir: Scratch,
}

impl Redis {
    fn start() -> Redis {
        let binary = installed(&["/usr/bin/redis-server"], "redis-server");
        let dir = Scratch::new("redis");
        let port = free_port();
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        let process = Running(child);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_until_listening(addr, "redis-server");
        // Listening is not ready: wait for PONG.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut answer = [0u8; 7];
            let pong = TcpStream::connect(addr).and_then(|mut tcp| {
                tcp.set_read_timeout(Some(Duration::from_secs(1)))?;
                tcp.write_all(b"PING\r\n")?;
                tcp.read_exact(&mut answer)
            });
            if pong.is_ok() && &answer == b"+PONG\r\n" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server never answered PING"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis {
            _process: process,
            url: format!("redis://127.0.0.1:{port}/"),
            _dir: dir,
        }
    }
}

/// One chat process sharing rooms through Redis.
struct Chat {
    process: Running,
    addr: SocketAddr,
    /// Its standard error, line by line (who joined, who left).
    log: mpsc::Receiver<String>,
}

impl Chat {
    fn start(binary: &Path, redis: &Redis) -> Chat {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--redis", &redis.url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the chat example");
        let (found, addresses) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut addr = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("WebSocket at ws://").nth(1) {
                    addr = rest.split('/').next().map(str::to_owned);
                }
                if line.starts_with("rooms shared through Redis") {
                    let _ = found.send(addr.take());
                }
            }
        });
        let (log_lines, log) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("chat: {line}");
                let _ = log_lines.send(line);
            }
        });
        let process = Running(child);
        let addr = addresses
            .recv_timeout(Duration::from_secs(60))
            .expect("the chat announces its address and Redis")
            .expect("the address comes before the Redis line");
        Chat {
            process,
            addr: addr.parse().expect("a socket address"),
            log,
        }
    }

    /// Whether this process logs `needle` within `timeout`.
    fn logs(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Forgets what was logged so far.
    fn drain_log(&self) {
        while self.log.try_recv().is_ok() {}
    }

    /// Ends the process as a crash would: SIGKILL, no close frames.
    fn kill(mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }
}

/// nginx in front of both chat processes, round robin.
struct Nginx {
    _process: Running,
    addr: SocketAddr,
    _dir: Scratch,
}

impl Nginx {
    fn start(backends: &[SocketAddr]) -> Nginx {
        let binary = installed(&["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx");
        let dir = Scratch::new("nginx-chat");
        let port = free_port();
        let d = dir.0.display();
        let servers: String = backends
            .iter()
            .map(|addr| format!("server {addr} max_fails=1 fail_timeout=30s; "))
            .collect();
        let conf = format!(
            r#"worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/temp/body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    upstream chat {{ {servers}}}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://chat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"#
        );
        let conf_path = dir.0.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir.0)
            .arg("-e")
            .arg(dir.0.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let process = Running(child);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_until_listening(addr, "nginx");
        Nginx {
            _process: process,
            addr,
            _dir: dir,
        }
    }
}

async fn join(addr: SocketAddr, name: &str) -> Result<Client, ws13::ConnectError> {
    let url = format!("ws://{addr}/ws?name={name}");
    let (ws, _) = ws13::tokio::connect(&url, &ClientOptions::default()).await?;
    Ok(ws)
}

/// Reads lines until one satisfies `wanted`, skipping the others (joins and
/// leaves of other members); fails after [`LINE_TIMEOUT`].
async fn expect_line(ws: &mut Client, wanted: impl Fn(&str) -> bool, what: &str) -> String {
    let deadline = tokio::time::Instant::now() + LINE_TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next()).await;
        match next {
            Ok(Some(Ok(Message::Text(text)))) if wanted(text.as_str()) => {
                return text.as_str().to_owned();
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("the connection ended waiting for {what}: {other:?}"),
            Err(_) => panic!("no {what} within {LINE_TIMEOUT:?}"),
        }
    }
}

async fn say(ws: &mut Client, text: &str) {
    ws.send(Message::text(text)).await.expect("send a line");
}

/// The room's members, as `/who` reports them.
async fn who(ws: &mut Client) -> String {
    say(ws, "/who").await;
    expect_line(ws, |line| line.starts_with("* online: "), "the /who answer").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server and nginx: run e2e/redis.sh"]
async fn members_on_two_processes_talk_and_survive_one_dying_behind_nginx() {
    let binary = example_binary(Features::All, "chat");
    let redis = Redis::start();
    let a = Chat::start(&binary, &redis);
    let b = Chat::start(&binary, &redis);

    // A client on A and a client on B talk through Redis.
    let mut alice = join(a.addr, "alice").await.expect("alice joins A");
    expect_line(
        &mut alice,
        |l| l == "* alice joined (1 online)",
        "alice's join",
    )
    .await;
    let mut bob = join(b.addr, "bob").await.expect("bob joins B");
    // Presence covers both processes.
    expect_line(
        &mut bob,
        |l| l == "* bob joined (2 online)",
        "bob's join on B",
    )
    .await;
    expect_line(
        &mut alice,
        |l| l == "* bob joined (2 online)",
        "bob's join on A",
    )
    .await;
    say(&mut alice, "hi bob, from process A").await;
    expect_line(
        &mut bob,
        |l| l == "alice: hi bob, from process A",
        "alice's line on B",
    )
    .await;
    say(&mut bob, "hi alice, from process B").await;
    expect_line(
        &mut alice,
        |l| l == "bob: hi alice, from process B",
        "bob's line on A",
    )
    .await;
    assert_eq!(who(&mut alice).await, "* online: alice, bob");
    assert_eq!(who(&mut bob).await, "* online: alice, bob");
    drop(bob);
    expect_line(&mut alice, |l| l == "* bob left (1 online)", "bob's leave").await;

    // nginx in front of both; a client that nginx sent to B.
    let nginx = Nginx::start(&[a.addr, b.addr]);
    let mut carol = None;
    for attempt in 0..8 {
        let mut ws = join(nginx.addr, "carol")
            .await
            .expect("carol joins through nginx");
        expect_line(&mut ws, |l| l.starts_with("* carol joined"), "carol's join").await;
        if b.logs("carol joined", Duration::from_millis(500)) {
            carol = Some(ws);
            break;
        }
        eprintln!("attempt {attempt}: nginx sent carol to A; again");
        drop(ws);
        expect_line(
            &mut alice,
            |l| l.starts_with("* carol left"),
            "carol's leave",
        )
        .await;
    }
    let mut carol = carol.expect("nginx sent carol to B within 8 connections");
    say(&mut alice, "carol, are you on B?").await;
    expect_line(
        &mut carol,
        |l| l == "alice: carol, are you on B?",
        "alice's line",
    )
    .await;
    say(&mut carol, "yes, through nginx").await;
    expect_line(
        &mut alice,
        |l| l == "carol: yes, through nginx",
        "carol's line",
    )
    .await;

    // B dies without a word: carol's tunnel ends...
    b.kill();
    let ended = tokio::time::timeout(LINE_TIMEOUT, async {
        while let Some(Ok(_)) = carol.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "carol's connection ended when B died");
    // ... and she reconnects through nginx, which now sends her to A.
    a.drain_log();
    let mut delay = Duration::from_millis(100);
    let mut carol = None;
    for _ in 0..10 {
        match join(nginx.addr, "carol").await {
            Ok(ws) => {
                carol = Some(ws);
                break;
            }
            Err(e) => eprintln!("carol's reconnect failed ({e}); retrying in {delay:?}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    let mut carol = carol.expect("carol reconnected through nginx");
    expect_line(
        &mut carol,
        |l| l.starts_with("* carol joined"),
        "carol's rejoin",
    )
    .await;
    assert!(a.logs("carol joined", LINE_TIMEOUT), "carol is on A now");

    // Nothing said after she is back is lost, either way.
    for n in 0..20 {
        say(&mut alice, &format!("after the failover {n}")).await;
    }
    for n in 0..20 {
        let expected = format!("alice: after the failover {n}");
        expect_line(&mut carol, |l| l == expected, "alice's numbered line").await;
    }
    say(&mut carol, "back, and on A").await;
    expect_line(
        &mut alice,
        |l| l == "carol: back, and on A",
        "carol's line on A",
    )
    .await;

    // Presence heals: B's members stop counting once its liveness key
    // expires (6 s after its last renewal), and A's janitor removes them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let online = who(&mut alice).await;
        if online == "* online: alice, carol" {
            break;
        }
        assert_eq!(
            online, "* online: alice, carol, carol",
            "B's carol, until she expires"
        );
        assert!(
            Instant::now() < deadline,
            "B's members still present after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
