//! Echo server on tokio-tungstenite, written the way its own docs show: accept,
//! `accept_async`, then forward text and binary messages back.
//!
//! `echo_tungstenite [--addr 127.0.0.1:9102] [--threads N]` (see `ws13_benches::server_runtime`)

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9102")).await?;
    println!("echo_tungstenite listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            let (write, read) = ws.split();
            let _ = read
                .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
                .forward(write)
                .await;
        });
    }
}
