//! Echo server on tokio-websockets, as its docs show: `ServerBuilder::accept`,
//! then send every text or binary message back.
//!
//! `echo_tokio_websockets [--addr 127.0.0.1:9104] [--threads N] [--cert PEM --key PEM]`
//! (see `ws13_benches::server_runtime`)
//!
//! With `--cert PEM --key PEM` it serves `wss://`: each accepted TCP stream
//! is wrapped in a tokio-rustls server stream (`ws13_benches::tls`, the same
//! rustls configuration as ws13's `async_echo`) before the library sees it.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9104")).await?;
    println!(
        "echo_tokio_websockets listening on {}",
        listener.local_addr()?
    );
    let tls = ws13_benches::tls::acceptor_from_flags();
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
    let Ok((_request, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
