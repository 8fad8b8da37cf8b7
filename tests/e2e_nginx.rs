//! ws13 behind a real nginx (field failure 3): a correct proxy config
//! echoes, its `proxy_read_timeout` cuts an idle tunnel unless heartbeats
//! run, and the common broken config (no `proxy_http_version 1.1` /
//! `Upgrade` / `Connection`) is named, with its fix, by the server's 400 body
//! and by the doctor.
//!
//! Needs Debian's `nginx` (`e2e/run.sh` installs it), so every test is
//! `#[ignore]`d; run them with
//! `cargo test --all-features --test e2e_nginx -- --ignored`.
//! nginx runs unprivileged on loopback: `-p <tmpdir>`, its config, logs and
//! pid file in that directory, a port picked at random.
#![cfg(feature = "tokio")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{Features, Running, example_binary};
use ws13::{ClientOptions, Heartbeat, Message};

/// nginx's idle timeout for proxied connections in these tests.
const READ_TIMEOUT_SECS: u64 = 3;

/// Starts `async_echo` on an ephemeral loopback port.
fn start_echo() -> (Running, SocketAddr) {
    let mut child = Command::new(example_binary(Features::All, "async_echo"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start async_echo");
    let stdout = child.stdout.take().expect("piped stdout");
    let (found, addresses) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("ws://").nth(1) {
                let _ = found.send(addr.trim().to_owned());
            }
        }
    });
    let running = Running(child);
    let addr = addresses
        .recv_timeout(Duration::from_secs(60))
        .expect("async_echo announces its address");
    (running, addr.parse().expect("a socket address"))
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nginx is not installed: run e2e/run.sh (it runs `apt-get install -y nginx`)");
}

/// How nginx forwards requests to the backend.
#[derive(Clone, Copy, PartialEq)]
enum ProxyConfig {
    /// `proxy_http_version 1.1` and the `Upgrade`/`Connection` headers.
    ForwardsUpgrade,
    /// A bare `proxy_pass`: what many configs in the wild have.
    Broken,
}

/// nginx in the foreground, unprivileged, in its own directory.
struct Nginx {
    _process: Running,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    /// Proxies `/` to `backend` and `/capture` to `capture` (a listener that
    /// records what nginx forwards).
    fn start(config: ProxyConfig, backend: SocketAddr, capture: Option<SocketAddr>) -> Nginx {
        let dir =
            std::env::temp_dir().join(format!("ws13-nginx-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(dir.join("temp")).expect("create the nginx directory");
        let port = free_port();
        let upgrade = match config {
            ProxyConfig::ForwardsUpgrade => {
                "proxy_http_version 1.1;\n            proxy_set_header Upgrade $http_upgrade;\n            proxy_set_header Connection \"upgrade\";"
            }
            ProxyConfig::Broken => "# no proxy_http_version 1.1, no Upgrade/Connection",
        };
        let capture_location = capture
            .map(|addr| format!("location /capture {{\n            proxy_pass http://{addr};\n            {upgrade}\n        }}"))
            .unwrap_or_default();
        let d = dir.display();
        let conf = format!(
            r#"worker_processes 1;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/temp/body;
    proxy_temp_path {d}/temp/proxy;
    fastcgi_temp_path {d}/temp/fastcgi;
    uwsgi_temp_path {d}/temp/uwsgi;
    scgi_temp_path {d}/temp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{backend};
            {upgrade}
            proxy_read_timeout {READ_TIMEOUT_SECS}s;
        }}
        {capture_location}
    }}
}}
"#
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let process = Running(child);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {addr} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            _process: process,
            addr,
            dir,
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

fn client_options(heartbeat: Option<Heartbeat>) -> ClientOptions {
    let mut options = ClientOptions::default();
    options.protocol.heartbeat = heartbeat;
    options
}

#[test]
#[ignore = "needs nginx: run e2e/run.sh"]
fn correct_proxy_config_echoes_and_heartbeats_outlive_proxy_read_timeout() {
    let (_echo, backend) = start_echo();
    let nginx = Nginx::start(ProxyConfig::ForwardsUpgrade, backend, None);
    let url = format!("ws://{}/", nginx.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut ws, _) = ws13::tokio::connect(&url, &client_options(None))
            .await
            .expect("connect through nginx");
        ws.send(Message::text("through nginx")).await.unwrap();
        let echo = ws.next().await.expect("an echo").expect("no error");
        assert_eq!(echo.as_text(), Some("through nginx"));
        ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
        let echo = ws.next().await.expect("an echo").expect("no error");
        assert_eq!(echo.payload(), &[0u8, 1, 2, 255]);
        ws.close().await.unwrap();

        // Two idle connections side by side: one silent, one with a ping
        // every second. nginx cuts the silent one after proxy_read_timeout.
        let (mut silent, _) = ws13::tokio::connect(&url, &client_options(None))
            .await
            .unwrap();
        let heartbeat = Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        };
        let (mut beating, _) = ws13::tokio::connect(&url, &client_options(Some(heartbeat)))
            .await
            .unwrap();
        // Both are polled at once: polling is what runs the heartbeat.
        let started = Instant::now();
        let watch_for = Duration::from_secs(READ_TIMEOUT_SECS + 3);
        let silent_watch = async {
            let end = tokio::time::timeout(watch_for, silent.next()).await;
            (end, started.elapsed())
        };
        let beating_until = Instant::now() + Duration::from_secs(READ_TIMEOUT_SECS + 2);
        let beating_watch = async {
            // Pongs are all that may arrive.
            while Instant::now() < beating_until {
                match tokio::time::timeout_at(beating_until.into(), beating.next()).await {
                    Err(_) => break,
                    Ok(Some(Ok(Message::Pong(_) | Message::Ping(_)))) => {}
                    Ok(other) => return Err(format!("{other:?}")),
                }
            }
            Ok(())
        };
        let ((silent_end, cut_after), beating_result) = tokio::join!(silent_watch, beating_watch);
        let silent_end = silent_end.expect("nginx cuts the silent tunnel within proxy_read_timeout");
        assert!(
            matches!(silent_end, None | Some(Err(ws13::Error::AbnormalClosure))),
            "the tunnel is cut without a close frame: {silent_end:?}"
        );
        assert!(
            cut_after >= Duration::from_secs(READ_TIMEOUT_SECS) - Duration::from_millis(200),
            "cut after {cut_after:?}, before proxy_read_timeout"
        );
        if let Err(end) = beating_result {
            panic!("the heartbeat connection ended: {end}");
        }
        assert!(started.elapsed() > Duration::from_secs(READ_TIMEOUT_SECS + 1));
        beating.send(Message::text("still here")).await.unwrap();
        loop {
            match beating.next().await {
                Some(Ok(Message::Text(text))) => {
                    assert_eq!(text.as_str(), "still here");
                    break;
                }
                Some(Ok(_)) => {}
                other => panic!("no echo on the heartbeat connection: {other:?}"),
            }
        }
        beating.close().await.unwrap();
        println!(
            "silent tunnel cut after {cut_after:.1?}; the one with 1 s heartbeats lived {:.1?} and echoed",
            started.elapsed()
        );
    });
    assert!(
        nginx.error_log().contains("upstream timed out"),
        "nginx logs the idle cut as 'upstream timed out'"
    );
}

/// Accepts one connection, records its request head, answers 400.
fn capture_one_request(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("nginx connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        String::from_utf8_lossy(&head).into_owned()
    })
}

/// A browser's handshake request through the proxy; the whole answer.
fn raw_handshake(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to nginx");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
#[ignore = "needs nginx: run e2e/run.sh"]
fn broken_proxy_config_is_named_by_the_400_body_and_the_doctor() {
    let (_echo, backend) = start_echo();
    let capture = TcpListener::bind("127.0.0.1:0").unwrap();
    let capture_addr = capture.local_addr().unwrap();
    let captured = capture_one_request(capture);
    let nginx = Nginx::start(ProxyConfig::Broken, backend, Some(capture_addr));

    // What the backend receives: HTTP/1.0, Connection: close, no Upgrade.
    let _ = raw_handshake(nginx.addr, "/capture");
    let head = captured.join().expect("the capture thread");
    println!("the backend received:\n{head}");
    assert!(head.starts_with("GET /capture HTTP/1.0\r\n"), "{head}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("\r\nupgrade:"),
        "{head}"
    );
    assert!(head.contains("Sec-WebSocket-Key:"), "{head}");

    // ws13 refuses it with a 400 whose body names the cause and the fix.
    let response = raw_handshake(nginx.addr, "/");
    println!("the client received:\n{response}");
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("proxy that does not forward the upgrade"),
        "{response}"
    );
    assert!(response.contains("proxy_http_version 1.1"), "{response}");
    assert!(
        response.contains("proxy_set_header Upgrade $http_upgrade"),
        "{response}"
    );

    // The ws13 client reports the status with the same diagnosis.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(ws13::tokio::connect(
            &format!("ws://{}/", nginx.addr),
            &ClientOptions::default(),
        ))
        .expect_err("no WebSocket through the broken proxy");
    let message = error.to_string();
    assert!(
        message.contains("400") && message.contains("proxy_http_version 1.1"),
        "{message}"
    );

    // The doctor: a failed check with code, hint and the server's body.
    let doctor = Command::new(example_binary(Features::All, "doctor"))
        .arg(format!("ws://{}/", nginx.addr))
        .output()
        .expect("run the doctor");
    let report = String::from_utf8_lossy(&doctor.stdout);
    println!("doctor:\n{report}");
    assert_eq!(doctor.status.code(), Some(1), "the doctor fails: {report}");
    assert!(
        report.contains("✗ response  [unexpected-status]"),
        "{report}"
    );
    assert!(
        report.contains("The server found the request malformed"),
        "{report}"
    );
    assert!(
        report.contains("| The request carries WebSocket headers"),
        "{report}"
    );
    assert!(report.contains("proxy_set_header Connection"), "{report}");

    let json = Command::new(example_binary(Features::All, "doctor"))
        .args([&format!("ws://{}/", nginx.addr), "--json"])
        .output()
        .expect("run the doctor with --json");
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(value["ok"], false);
    let failed: Vec<_> = value["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["code"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(failed, ["unexpected-status"]);
    assert!(
        value["response_body"]
            .as_str()
            .unwrap()
            .contains("proxy_http_version 1.1")
    );
}
