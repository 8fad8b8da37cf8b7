//! Echo server on tokio-tungstenite, written the way its own docs show: accept,
//! `accept_async`, then forward text and binary messages back.
//!
//! `echo_tungstenite [--addr 127.0.0.1:9102] [--threads N] [--cert PEM --key PEM]`
//! (see `ws13_benches::server_runtime`)
//!
//! With `--cert PEM --key PEM` it serves `wss://`: each accepted TCP stream
//! is wrapped in a tokio-rustls server stream (`ws13_benches::tls`, the same
//! rustls configuration as ws13's `async_echo`) before the library sees it.

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9102")).await?;
    let tls = ws13_benches::tls::acceptor_from_flags();
    println!("echo_tungstenite listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => echo(tcp).await,
                Some(acceptor) => {
                    if let Ok(stream) = ws13_benches::tls::accept(&acceptor, tcp).await {
                        echo(stream).await;
                    }
                }
            }
        });
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}
