//! The clients and the doctor through real proxies from Debian's packages:
//! tinyproxy (open; `ConnectPort 443`, refusing the server's port; `BasicAuth`;
//! behind stunnel4 as an `https://` proxy), dante-server (SOCKS5 without
//! authentication) and microsocks (without and with a password), for `ws://`
//! and `wss://`, the tokio and the blocking client, the `NO_PROXY` bypass,
//! and the doctor through the refusing proxy.
//!
//! Needs `tinyproxy`, `danted`, `microsocks` and `stunnel4` (`e2e/proxies.sh`
//! installs them), so every test is `#[ignore]`d; run them with
//! `cargo test --all-features --test e2e_proxies -- --ignored --nocapture`.
//! Every proxy listens on a loopback port picked at random.
#![cfg(feature = "tls")]

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{Features, Running, example_binary};
use ws13::proxy::{ProxyChoice, ProxyError, ProxyUrl, SocksReply};
use ws13::tls::{TlsAcceptor, TlsConnector, TlsOptions};
use ws13::{ClientOptions, ConnectError, Message, ServerOptions};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Finds a program in PATH or /usr/sbin.
fn program(name: &str) -> PathBuf {
    let dirs = std::env::var("PATH").unwrap_or_default();
    dirs.split(':')
        .chain(["/usr/sbin", "/usr/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{name} is not installed: run e2e/proxies.sh"))
}

/// Starts `command` and waits (at most 10 s) until it listens on `port`.
fn start(mut command: Command, port: u16) -> Running {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the proxy");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{command:?} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    running
}

fn tinyproxy(dir: &Path, name: &str, extra: &str) -> (Running, u16) {
    let port = free_port();
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n{extra}"
        ),
    )
    .unwrap();
    let mut command = Command::new(program("tinyproxy"));
    command.arg("-d").arg("-c").arg(conf);
    (start(command, port), port)
}

fn danted(dir: &Path) -> (Running, u16) {
    let port = free_port();
    let conf = dir.join("danted.conf");
    std::fs::write(
        &conf,
        format!(
            "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
             clientmethod: none\nsocksmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n\
             client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
             socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }}\n"
        ),
    )
    .unwrap();
    let mut command = Command::new(program("danted"));
    command.arg("-f").arg(conf).arg("-N").arg("1");
    (start(command, port), port)
}

fn microsocks(credentials: Option<(&str, &str)>) -> (Running, u16) {
    let port = free_port();
    let mut command = Command::new(program("microsocks"));
    command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, password)) = credentials {
        command.args(["-u", user, "-P", password]);
    }
    (start(command, port), port)
}

/// stunnel4 serving TLS (the certificate in `dir`) in front of `backend`.
fn stunnel(dir: &Path, backend: u16) -> (Running, u16) {
    let port = free_port();
    let conf = dir.join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\n[https-proxy]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend}\ncert = {cert}\nkey = {key}\n",
            cert = dir.join("cert.pem").display(),
            key = dir.join("key.pem").display()
        ),
    )
    .unwrap();
    let mut command = Command::new(program("stunnel4"));
    command.arg(conf);
    (start(command, port), port)
}

/// A development CA and a server certificate for localhost, in `dir`.
fn certificates(dir: &Path) -> (TlsAcceptor, TlsConnector) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), server_key.serialize_pem()).unwrap();
    let acceptor = TlsAcceptor::from_pem_files(dir.join("cert.pem"), dir.join("key.pem")).unwrap();
    let connector = TlsOptions::default()
        .ca_file(dir.join("ca.pem"))
        .connector()
        .unwrap();
    (acceptor, connector)
}

/// An echo server for `ws://` (first port) and `wss://` (second).
async fn echo_servers(acceptor: TlsAcceptor) -> (u16, u16) {
    async fn echo<S>(stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
            ws13::tokio::accept(stream, &ServerOptions::default()).await
        {
            while let Some(Ok(message)) = ws.next().await {
                if message.is_data() && ws.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let secure = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ports = (
        plain.local_addr().unwrap().port(),
        secure.local_addr().unwrap().port(),
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = plain.accept().await {
            tokio::spawn(echo(tcp));
        }
    });
    tokio::spawn(async move {
        while let Ok((tcp, _)) = secure.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    echo(tls).await;
                }
            });
        }
    });
    ports
}

fn through(proxy: &str) -> ClientOptions {
    ClientOptions::default()
        .proxy(ProxyUrl::parse(proxy).unwrap())
        .handshake_timeout(Duration::from_secs(10))
}

/// Connects with `ws13::tls::connect` through `proxy` and echoes one message.
async fn echo_through(
    url: &str,
    proxy: &str,
    connector: &TlsConnector,
) -> Result<(), ConnectError> {
    let (mut ws, _) = ws13::tls::connect(url, &through(proxy), connector).await?;
    ws.send(Message::text(format!("via {proxy}")))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text(format!("via {proxy}"))
    );
    ws.close().await.unwrap();
    Ok(())
}

fn proxy_error(result: Result<(), ConnectError>) -> ProxyError {
    match result {
        Err(ConnectError::Proxy { error, .. }) => error,
        Err(other) => panic!("not a proxy refusal: {other}"),
        Ok(()) => panic!("connected"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tinyproxy, danted and microsocks: run e2e/proxies.sh"]
async fn real_proxies() {
    let dir = std::env::temp_dir().join(format!("ws13-e2e-proxies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (acceptor, connector) = certificates(&dir);
    let (ws_port, wss_port) = echo_servers(acceptor).await;
    let ws_url = format!("ws://localhost:{ws_port}/");
    let wss_url = format!("wss://localhost:{wss_port}/");

    let (_open, open) = tinyproxy(&dir, "open", "");
    let (_refusing, refusing) = tinyproxy(&dir, "refusing", "ConnectPort 443\n");
    let (_basic, basic) = tinyproxy(&dir, "basic", "BasicAuth alice s3cret\n");
    let (_dante, dante) = danted(&dir);
    let (_micro, micro) = microsocks(None);
    let (_micro_pw, micro_pw) = microsocks(Some(("bob", "hunter2")));

    // Every variant that must open a tunnel: ws:// and wss:// (tokio), and
    // ws:// with the blocking client.
    let working = [
        ("tinyproxy, open", format!("http://127.0.0.1:{open}")),
        (
            "tinyproxy, Basic",
            format!("http://alice:s3cret@127.0.0.1:{basic}"),
        ),
        (
            "dante, socks5 (local DNS)",
            format!("socks5://127.0.0.1:{dante}"),
        ),
        (
            "dante, socks5h (remote DNS)",
            format!("socks5h://127.0.0.1:{dante}"),
        ),
        (
            "microsocks, socks5h",
            format!("socks5h://127.0.0.1:{micro}"),
        ),
        (
            "microsocks, password",
            format!("socks5h://bob:hunter2@127.0.0.1:{micro_pw}"),
        ),
    ];
    for (name, proxy) in &working {
        for url in [&ws_url, &wss_url] {
            echo_through(url, proxy, &connector)
                .await
                .unwrap_or_else(|e| panic!("{name} {url}: {e}"));
            println!("{name:<28} {url:<28} tokio: echoed");
        }
        let (url, options) = (ws_url.clone(), through(proxy));
        tokio::task::spawn_blocking(move || {
            let (mut ws, _) = ws13::blocking::connect(&url, &options).unwrap();
            ws.send(Message::text("blocking")).unwrap();
            assert_eq!(ws.read().unwrap(), Message::text("blocking"));
            ws.close(ws13::CloseCode::NORMAL, "").unwrap();
        })
        .await
        .unwrap_or_else(|e| panic!("{name} blocking: {e}"));
        println!("{name:<28} {ws_url:<28} blocking: echoed");
    }

    // An https:// proxy: tinyproxy behind stunnel4 (TLS to the proxy,
    // then CONNECT inside; wss:// is TLS in TLS).
    let (_stunnel, https_port) = stunnel(&dir, open);
    let https_proxy = format!("https://localhost:{https_port}");
    for url in [&ws_url, &wss_url] {
        let (mut ws, _) =
            ws13::tls::connect_with_proxy_tls(url, &through(&https_proxy), &connector, &connector)
                .await
                .unwrap_or_else(|e| panic!("{https_proxy} {url}: {e}"));
        ws.send(Message::text("tls in tls")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text("tls in tls")
        );
        ws.close().await.unwrap();
        println!(
            "{:<28} {url:<28} tokio: echoed",
            "stunnel4+tinyproxy, https"
        );
    }
    let error = proxy_error(echo_through(&wss_url, &https_proxy, &connector).await);
    println!(
        "{:<28} {wss_url:<28} tls::connect: {error}",
        "stunnel4+tinyproxy, https"
    );
    assert!(matches!(error, ProxyError::HttpsProxyNeedsTls), "{error:?}");

    // Every variant that must refuse, with the cause named.
    let refusals = [
        (
            "tinyproxy, ConnectPort 443",
            format!("http://127.0.0.1:{refusing}"),
        ),
        (
            "tinyproxy, Basic, none",
            format!("http://127.0.0.1:{basic}"),
        ),
        (
            "tinyproxy, Basic, wrong",
            format!("http://alice:wrong@127.0.0.1:{basic}"),
        ),
        (
            "microsocks, no password",
            format!("socks5h://127.0.0.1:{micro_pw}"),
        ),
        (
            "microsocks, wrong password",
            format!("socks5h://bob:nope@127.0.0.1:{micro_pw}"),
        ),
    ];
    for (name, proxy) in &refusals {
        for url in [&ws_url, &wss_url] {
            let error = proxy_error(echo_through(url, proxy, &connector).await);
            println!("{name:<28} {url:<28} refused: {error}");
            let expected = match *name {
                "tinyproxy, ConnectPort 443" => matches!(error, ProxyError::Forbidden { .. }),
                "tinyproxy, Basic, none" => matches!(
                    error,
                    ProxyError::AuthenticationRequired {
                        status: 407,
                        credentials_sent: false,
                        ..
                    }
                ),
                "tinyproxy, Basic, wrong" => matches!(
                    error,
                    ProxyError::AuthenticationRequired {
                        credentials_sent: true,
                        ..
                    }
                ),
                "microsocks, no password" => matches!(
                    error,
                    ProxyError::NoAcceptableMethod {
                        credentials_offered: false
                    }
                ),
                _ => matches!(error, ProxyError::SocksAuthenticationFailed { .. }),
            };
            assert!(expected, "{name}: {error:?}");
        }
    }

    // Nothing listens on the port dante is asked for: reply 5 in words.
    let closed = free_port();
    let error = proxy_error(
        echo_through(
            &format!("ws://127.0.0.1:{closed}/"),
            &format!("socks5://127.0.0.1:{dante}"),
            &connector,
        )
        .await,
    );
    println!(
        "{:<28} {:<28} refused: {error}",
        "dante, closed port",
        format!("ws://127.0.0.1:{closed}/")
    );
    assert!(
        matches!(
            error,
            ProxyError::SocksRefused {
                reply: SocksReply::ConnectionRefused
                    | SocksReply::GeneralFailure
                    | SocksReply::HostUnreachable,
                ..
            }
        ),
        "{error:?}"
    );
    // The same through tinyproxy: a 5xx, transient.
    let error = proxy_error(
        echo_through(
            &format!("ws://127.0.0.1:{closed}/"),
            &format!("http://127.0.0.1:{open}"),
            &connector,
        )
        .await,
    );
    println!(
        "{:<28} {:<28} refused: {error}",
        "tinyproxy, closed port",
        format!("ws://127.0.0.1:{closed}/")
    );
    assert!(error.is_transient(), "{error:?}");

    // ProxyChoice::Direct ignores the proxy.
    let (mut ws, _) = ws13::tls::connect(
        &wss_url,
        &ClientOptions::default().proxy(ProxyChoice::Direct),
        &connector,
    )
    .await
    .unwrap();
    ws.close().await.unwrap();

    environment_and_doctor(&ws_url, &wss_url, refusing, open, https_port, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `client` and `doctor` examples take the proxy from the environment:
/// the refusing proxy refuses, `NO_PROXY` bypasses it, `ALL_PROXY` works.
fn environment_and_doctor(
    ws_url: &str,
    wss_url: &str,
    refusing: u16,
    open: u16,
    https: u16,
    dir: &Path,
) {
    let doctor = example_binary(Features::All, "doctor");
    let client = example_binary(Features::All, "client");
    let refusing = format!("http://127.0.0.1:{refusing}");
    let clean = |command: &mut Command| {
        for name in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            command.env_remove(name);
        }
    };

    let mut command = Command::new(&doctor);
    clean(&mut command);
    let output = command
        .arg(ws_url)
        .env("HTTP_PROXY", &refusing)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("HTTP_PROXY={refusing} doctor {ws_url}:\n{report}");
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("✗ proxy"), "{report}");
    assert!(report.contains("→ 403 "), "{report}");
    assert!(
        report.contains("hint: the proxy refused a tunnel"),
        "{report}"
    );

    let mut command = Command::new(&doctor);
    clean(&mut command);
    let output = command
        .args([wss_url, "--ca"])
        .arg(dir.join("ca.pem"))
        .env("HTTPS_PROXY", &refusing)
        .env("NO_PROXY", "localhost")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("HTTPS_PROXY={refusing} NO_PROXY=localhost doctor {wss_url}:\n{report}");
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(!report.contains("proxy"), "{report}");

    // The client example: refused by HTTPS_PROXY, through with NO_PROXY,
    // and through ALL_PROXY (socks or http) for wss://.
    for (env, ok) in [
        (vec![("HTTPS_PROXY", refusing.clone())], false),
        (
            vec![
                ("HTTPS_PROXY", refusing.clone()),
                ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ],
            true,
        ),
        (
            vec![("ALL_PROXY", format!("http://127.0.0.1:{open}"))],
            true,
        ),
        (
            vec![("HTTPS_PROXY", format!("https://localhost:{https}"))],
            true,
        ),
    ] {
        let mut command = Command::new(&client);
        clean(&mut command);
        command
            .args(["--url", wss_url, "--ca"])
            .arg(dir.join("ca.pem"))
            .stdin(Stdio::null());
        for (name, value) in &env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{env:?} client {wss_url}: {}", stderr.trim());
        assert_eq!(output.status.success(), ok, "{env:?}: {stderr}");
        if !ok {
            assert!(stderr.contains("403"), "{stderr}");
        }
    }
}
