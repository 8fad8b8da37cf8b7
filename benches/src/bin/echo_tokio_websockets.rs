//! Echo server on tokio-websockets, as its docs show: `ServerBuilder::accept`,
//! then send every text or binary message back.
//!
//! `echo_tokio_websockets [--addr 127.0.0.1:9104] [--threads N]` (see `ws13_benches::server_runtime`)

use futures_util::{SinkExt, StreamExt};
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
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok((_request, mut ws)) = tokio_websockets::ServerBuilder::new().accept(tcp).await
            else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    return;
                }
            }
        });
    }
}
