//! The testee client for Autobahn|Testsuite's `fuzzingserver` mode: asks the
//! suite how many cases there are, runs each one by echoing what it receives,
//! then asks it to write the reports.
//!
//! ```text
//! cargo run --release --example autobahn_client -- --url ws://127.0.0.1:9001 --agent ws13
//! ```

mod common;

use ws13::blocking::connect;
use ws13::handshake::permessage_deflate::DeflateClientPolicy;
use ws13::{ClientOptions, Config, Error, Message};

fn main() {
    let base = common::flag("url").unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let agent = common::flag("agent").unwrap_or_else(|| "ws13".to_owned());
    let count = case_count(&base);
    println!("autobahn_client: {count} cases");
    for case in 1..=count {
        if let Err(e) = run_case(&format!("{base}/runCase?case={case}&agent={agent}")) {
            println!("case {case}: {e}");
        }
    }
    let (mut ws, _) = connect(&format!("{base}/updateReports?agent={agent}"), &options())
        .expect("connect to updateReports");
    let _ = ws.close(ws13::CloseCode::NORMAL, "");
    println!("autobahn_client: reports updated");
}

fn options() -> ClientOptions {
    let mut protocol = Config::default();
    // Autobahn's largest messages are 16 MiB; allow a little more.
    protocol.max_message_size = 64 << 20;
    protocol.max_frame_size = 64 << 20;
    let mut options = ClientOptions::default();
    options.protocol = protocol;
    options.deflate = Some(DeflateClientPolicy::default());
    options
}

fn case_count(base: &str) -> u32 {
    let (mut ws, _) =
        connect(&format!("{base}/getCaseCount"), &options()).expect("connect to getCaseCount");
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => {
                return text
                    .as_str()
                    .trim()
                    .parse()
                    .expect("case count is a number");
            }
            Ok(_) => {}
            Err(e) => panic!("getCaseCount: {e}"),
        }
    }
}

fn run_case(url: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(url, &options()).map_err(|e| Error::Io(std::io::Error::other(e)))?;
    loop {
        match ws.read() {
            Ok(message) if message.is_data() => ws.write(message)?,
            Ok(_) => {}
            Err(Error::ConnectionClosed) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
