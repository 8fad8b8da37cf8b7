//! The clients through small in-test proxies: a tunnel that works, and every
//! way a proxy can refuse (407, 403, 5xx, not HTTP, an endless head, SOCKS5
//! reply codes). The real proxies (tinyproxy, dante, microsocks) are in
//! `tests/e2e_proxies.rs`.
#![cfg(feature = "tokio")]

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws13::proxy::{ProxyChoice, ProxyError, ProxyUrl, SocksReply};
use ws13::{ClientOptions, ConnectError, Message, ServerOptions};

/// A WebSocket echo server; its address.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
                    ws13::tokio::accept(tcp, &ServerOptions::default()).await
                {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_data() && ws.send(message).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// An HTTP proxy that answers every CONNECT with `answer`, and for a 200
/// tunnels to the target. Each request head is sent to the receiver.
async fn http_proxy(answer: &'static [u8]) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (heads, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8(head).unwrap();
                let target = head.split(' ').nth(1).unwrap().to_owned();
                let _ = heads.send(head);
                client.write_all(answer).await.unwrap();
                if answer.starts_with(b"HTTP/1.1 200") {
                    let mut server = TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, received)
}

/// A SOCKS5 proxy that chooses `method`, accepts user `u` password `p`,
/// and answers the request with `reply` (tunnelling for 0). Each request
/// (after the header, the address bytes) is sent to the receiver.
async fn socks_proxy(method: u8, reply: u8) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut greeting = [0u8; 2];
                client.read_exact(&mut greeting).await.unwrap();
                let mut methods = vec![0u8; usize::from(greeting[1])];
                client.read_exact(&mut methods).await.unwrap();
                client.write_all(&[5, method]).await.unwrap();
                if method == 0xff {
                    return;
                }
                if method == 2 {
                    let mut auth = [0u8; 2];
                    client.read_exact(&mut auth).await.unwrap();
                    let mut user = vec![0u8; usize::from(auth[1])];
                    client.read_exact(&mut user).await.unwrap();
                    let mut len = [0u8; 1];
                    client.read_exact(&mut len).await.unwrap();
                    let mut password = vec![0u8; usize::from(len[0])];
                    client.read_exact(&mut password).await.unwrap();
                    let ok = user == b"u" && password == b"p";
                    client
                        .write_all(&[1, if ok { 0 } else { 1 }])
                        .await
                        .unwrap();
                    if !ok {
                        return;
                    }
                }
                let mut header = [0u8; 4];
                client.read_exact(&mut header).await.unwrap();
                let target = match header[3] {
                    1 => {
                        let mut ip = [0u8; 6];
                        client.read_exact(&mut ip).await.unwrap();
                        let _ = requests.send(ip.to_vec());
                        let port = u16::from_be_bytes([ip[4], ip[5]]);
                        format!("{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3])
                    }
                    3 => {
                        let mut len = [0u8; 1];
                        client.read_exact(&mut len).await.unwrap();
                        let mut name = vec![0u8; usize::from(len[0]) + 2];
                        client.read_exact(&mut name).await.unwrap();
                        let _ = requests.send(name.clone());
                        let port = u16::from_be_bytes([name[name.len() - 2], name[name.len() - 1]]);
                        format!(
                            "{}:{port}",
                            String::from_utf8_lossy(&name[..name.len() - 2])
                        )
                    }
                    _ => return,
                };
                client
                    .write_all(&[5, reply, 0, 1, 127, 0, 0, 1, 0x10, 0x00])
                    .await
                    .unwrap();
                if reply == 0 {
                    let mut server = TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, received)
}

fn through(proxy: &str) -> ClientOptions {
    ClientOptions::default().proxy(ProxyUrl::parse(proxy).unwrap())
}

async fn echo_once(url: &str, options: &ClientOptions) {
    let (mut ws, _) = ws13::tokio::connect(url, options).await.unwrap();
    ws.send(Message::text("through")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("through"));
}

fn proxy_error(result: Result<impl Sized, ConnectError>) -> ProxyError {
    match result {
        Err(ConnectError::Proxy { error, .. }) => error,
        Err(other) => panic!("not a proxy error: {other}"),
        Ok(_) => panic!("connected"),
    }
}

#[tokio::test]
async fn tokio_client_through_an_http_proxy_with_basic_credentials() {
    let server = echo_server().await;
    let (proxy, mut heads) = http_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
    let url = format!("ws://localhost:{}/", server.port());
    echo_once(&url, &through(&format!("http://al%40ice:pw@{proxy}"))).await;
    let head = heads.recv().await.unwrap();
    let expected = format!(
        "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\nProxy-Authorization: Basic YWxAaWNlOnB3\r\n\r\n",
        port = server.port()
    );
    assert_eq!(head, expected);
}

#[test]
fn blocking_client_through_an_http_proxy() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, proxy) = runtime.block_on(async {
        let server = echo_server().await;
        let (proxy, _heads) = http_proxy(b"HTTP/1.1 200 OK\r\nVia: stub\r\n\r\n").await;
        (server, proxy)
    });
    let url = format!("ws://127.0.0.1:{}/", server.port());
    let (mut ws, _) = ws13::blocking::connect(&url, &through(&format!("http://{proxy}"))).unwrap();
    ws.send(Message::text("blocking")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("blocking"));
}

#[tokio::test]
async fn http_proxy_refusals_name_the_cause() {
    let url = "ws://127.0.0.1:9/";
    let (proxy, _) = http_proxy(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"stub\"\r\n\r\n").await;
    let e = proxy_error(ws13::tokio::connect(url, &through(&format!("http://{proxy}"))).await);
    assert!(
        matches!(
            &e,
            ProxyError::AuthenticationRequired {
                credentials_sent: false,
                ..
            }
        ),
        "{e}"
    );
    let e =
        proxy_error(ws13::tokio::connect(url, &through(&format!("http://u:wrong@{proxy}"))).await);
    assert!(
        matches!(
            &e,
            ProxyError::AuthenticationRequired {
                credentials_sent: true,
                ..
            }
        ),
        "{e}"
    );

    let (proxy, _) = http_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
    let e = proxy_error(ws13::tokio::connect(url, &through(&format!("http://{proxy}"))).await);
    assert_eq!(
        e.to_string(),
        "the proxy refused a tunnel to 127.0.0.1:9 (403 Forbidden): its policy forbids this host or port (many proxies allow CONNECT only to port 443). Use a port the proxy allows, ask its administrator to allow this one, or bypass it for this host with NO_PROXY"
    );
    let (proxy, _) = http_proxy(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
    let e = proxy_error(ws13::tokio::connect(url, &through(&format!("http://{proxy}"))).await);
    assert!(e.is_transient(), "{e}");
    let (proxy, _) = http_proxy(b"\x15\x03\x01\x00\x02\x02\x46").await;
    let e = proxy_error(ws13::tokio::connect(url, &through(&format!("http://{proxy}"))).await);
    assert!(matches!(e, ProxyError::NotHttp { .. }), "{e}");
    // The blocking client reports the same.
    let proxy_url = format!("http://{proxy}");
    let e = tokio::task::spawn_blocking(move || {
        proxy_error(ws13::blocking::connect(url, &through(&proxy_url)))
    })
    .await
    .unwrap();
    assert!(matches!(e, ProxyError::NotHttp { .. }), "{e}");
}

#[tokio::test]
async fn a_proxy_that_never_ends_its_head_is_cut_off() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let sender = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        client.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        let line = [b'X'; 1024];
        // Bounded: the client gives up after 16 KiB.
        for _ in 0..1024 {
            if client.write_all(&line).await.is_err() {
                return true;
            }
        }
        false
    });
    let e = proxy_error(
        ws13::tokio::connect("ws://127.0.0.1:9/", &through(&format!("http://{proxy}"))).await,
    );
    assert!(
        matches!(e, ProxyError::HeadTooLarge { limit: 16384 }),
        "{e}"
    );
    drop(sender);
}

#[tokio::test]
async fn socks5_with_and_without_remote_dns_and_credentials() {
    let server = echo_server().await;
    let url = format!("ws://localhost:{}/", server.port());
    let (proxy, mut requests) = socks_proxy(0, 0).await;
    echo_once(&url, &through(&format!("socks5h://{proxy}"))).await;
    let mut name = b"localhost".to_vec();
    name.extend_from_slice(&server.port().to_be_bytes());
    assert_eq!(requests.recv().await.unwrap(), name);
    // socks5:// resolves here and sends an address.
    let url4 = format!("ws://127.0.0.1:{}/", server.port());
    echo_once(&url4, &through(&format!("socks5://{proxy}"))).await;
    let mut ip = vec![127, 0, 0, 1];
    ip.extend_from_slice(&server.port().to_be_bytes());
    assert_eq!(requests.recv().await.unwrap(), ip);

    let (proxy, _) = socks_proxy(2, 0).await;
    echo_once(&url4, &through(&format!("socks5h://u:p@{proxy}"))).await;
    let e = proxy_error(
        ws13::tokio::connect(&url4, &through(&format!("socks5h://u:bad@{proxy}"))).await,
    );
    assert!(
        matches!(e, ProxyError::SocksAuthenticationFailed { status: 1 }),
        "{e}"
    );
}

#[tokio::test]
async fn socks5_failures_in_words() {
    let url = "ws://127.0.0.1:9/";
    let (proxy, _) = socks_proxy(0xff, 0).await;
    let e = proxy_error(ws13::tokio::connect(url, &through(&format!("socks5h://{proxy}"))).await);
    assert!(
        e.to_string().contains("needs a user name and password"),
        "{e}"
    );
    for (code, reply) in [
        (2, SocksReply::NotAllowed),
        (5, SocksReply::ConnectionRefused),
    ] {
        let (proxy, _) = socks_proxy(0, code).await;
        let e =
            proxy_error(ws13::tokio::connect(url, &through(&format!("socks5h://{proxy}"))).await);
        assert!(
            matches!(&e, ProxyError::SocksRefused { reply: r, .. } if *r == reply),
            "{e}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_proxy_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    match ws13::tokio::connect(
        "ws://127.0.0.1:9/",
        &through(&format!("http://user:secret@127.0.0.1:{port}")),
    )
    .await
    {
        Err(e @ ConnectError::ProxyUnreachable { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "cannot connect to the proxy http://user@127.0.0.1:{port}: "
                )),
                "{text}"
            );
            assert!(!text.contains("secret"));
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Direct ignores any environment.
    let server = echo_server().await;
    echo_once(
        &format!("ws://127.0.0.1:{}/", server.port()),
        &ClientOptions::default().proxy(ProxyChoice::Direct),
    )
    .await;
}

/// `https://` proxies: TLS to the proxy itself, then CONNECT inside it.
#[cfg(feature = "tls")]
mod https_proxy {
    use super::*;
    use ws13::tls::{TlsAcceptor, TlsConnector, TlsOptions};

    /// A development CA and a certificate for localhost and 127.0.0.1.
    fn certificates() -> (TlsAcceptor, TlsConnector) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = std::env::temp_dir().join(format!("ws13-proxy-stub-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        let acceptor =
            TlsAcceptor::from_pem_files(dir.join("cert.pem"), dir.join("key.pem")).unwrap();
        let connector = TlsOptions::default()
            .ca_file(dir.join("ca.pem"))
            .connector()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (acceptor, connector)
    }

    /// An HTTP proxy behind TLS that tunnels every CONNECT.
    async fn tls_proxy(acceptor: TlsAcceptor) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        let mut byte = [0u8; 1];
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8(head).unwrap();
                    let target = head.split(' ').nth(1).unwrap().to_owned();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .unwrap();
                    let mut server = TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        addr
    }

    /// A `wss://` echo server.
    async fn wss_echo(acceptor: TlsAcceptor) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
                        ws13::tokio::accept(tls, &ServerOptions::default()).await
                    {
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_data() && ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn ws_and_wss_through_an_https_proxy() {
        let (acceptor, connector) = certificates();
        let proxy = tls_proxy(acceptor.clone()).await;
        let wss = wss_echo(acceptor).await;
        let ws = echo_server().await;
        let options = through(&format!("https://localhost:{}", proxy.port()));
        for url in [
            format!("wss://localhost:{}/", wss.port()),
            format!("ws://localhost:{}/", ws.port()),
        ] {
            let (mut socket, _) =
                ws13::tls::connect_with_proxy_tls(&url, &options, &connector, &connector)
                    .await
                    .unwrap_or_else(|e| panic!("{url}: {e}"));
            socket.send(Message::text("tls in tls")).await.unwrap();
            assert_eq!(
                socket.next().await.unwrap().unwrap(),
                Message::text("tls in tls")
            );
        }
        // The other connect functions name what to use instead.
        let url = format!("wss://localhost:{}/", wss.port());
        let e = proxy_error(
            ws13::tls::connect(&url, &options, &connector)
                .await
                .map(|_| ()),
        );
        assert!(matches!(e, ProxyError::HttpsProxyNeedsTls), "{e}");
        // A proxy certificate the client does not trust is named as the proxy's.
        let untrusting = TlsOptions::default().connector().unwrap();
        match ws13::tls::connect_with_proxy_tls(&url, &options, &connector, &untrusting).await {
            Err(ConnectError::ProxyUnreachable {
                proxy: named,
                source,
            }) => {
                assert_eq!(named, format!("https://localhost:{}", proxy.port()));
                assert!(ws13::tls::failure_hint(&source).is_some(), "{source}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
