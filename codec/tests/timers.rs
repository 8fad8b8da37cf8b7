//! Heartbeats and the close timeout, driven by virtual time: no sleeps.

mod common;

use std::time::Duration;

use common::{client_frame, close_code_of, feed_all, raw_frame};
use ws13_codec::config::Heartbeat;
use ws13_codec::{CloseCode, Config, Connection, State};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn heartbeat_config(interval: u64, timeout: u64) -> Config {
    let mut config = Config::default();
    config.heartbeat = Some(Heartbeat {
        interval: secs(interval),
        timeout: secs(timeout),
    });
    config
}

#[test]
fn heartbeat_ping_is_due_after_the_interval() {
    let mut server = Connection::server(heartbeat_config(20, 20));
    server.handle_timeout(secs(100));
    assert_eq!(server.poll_timeout(), Some(secs(120)));
    assert!(server.poll_transmit().is_none());
    server.handle_timeout(secs(120));
    let ping = server.poll_transmit().expect("heartbeat ping");
    assert_eq!(&*ping, &raw_frame(0x89, None, &1u64.to_be_bytes())[..]);
    // Now waiting for the pong.
    assert_eq!(server.poll_timeout(), Some(secs(140)));
}

#[test]
fn matching_pong_keeps_the_connection_alive() {
    let mut server = Connection::server(heartbeat_config(20, 5));
    server.handle_timeout(secs(0));
    server.handle_timeout(secs(20));
    let _ping = server.poll_transmit().unwrap();
    let out = feed_all(&mut server, &client_frame(0x8a, &1u64.to_be_bytes()));
    assert!(out.transmitted.is_empty());
    assert_eq!(server.poll_timeout(), Some(secs(40)));
    server.handle_timeout(secs(30));
    assert_eq!(server.state(), State::Open);
}

#[test]
fn unanswered_heartbeat_fails_the_connection_with_1011() {
    let mut server = Connection::server(heartbeat_config(20, 5));
    server.handle_timeout(secs(0));
    server.handle_timeout(secs(20));
    let _ping = server.poll_transmit().unwrap();
    // A pong with another payload is unsolicited: it does not count.
    let _ = feed_all(&mut server, &client_frame(0x8a, b"other"));
    server.handle_timeout(secs(24));
    assert_eq!(server.state(), State::Open);
    server.handle_timeout(secs(25));
    assert_eq!(server.state(), State::Closed);
    let close = server.poll_transmit().expect("failure close");
    assert_eq!(close_code_of(&close), Some(1011));
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn no_heartbeat_no_timer() {
    let mut config = Config::default();
    config.heartbeat = None;
    let mut server = Connection::server(config);
    server.handle_timeout(secs(0));
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(secs(1_000_000));
    assert!(server.poll_transmit().is_none());
}

#[test]
fn close_handshake_gives_up_after_the_close_timeout() {
    let mut config = heartbeat_config(20, 20);
    config.close_timeout = secs(3);
    let mut client = Connection::client(config, common::TestKeys(1));
    client.handle_timeout(secs(0));
    let _close = client.close(CloseCode::NORMAL, "").unwrap();
    client.handle_timeout(secs(10));
    assert_eq!(client.state(), State::CloseSent);
    assert_eq!(client.poll_timeout(), Some(secs(13)));
    client.handle_timeout(secs(13));
    assert_eq!(client.state(), State::Closed);
    // No heartbeat ping after a close.
    assert!(client.poll_transmit().is_none());
}

#[test]
fn peer_close_in_time_ends_the_handshake_normally() {
    let mut server = Connection::server(Config::default());
    server.handle_timeout(secs(0));
    let _close = server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    server.handle_timeout(secs(1));
    let _ = feed_all(&mut server, &client_frame(0x88, &1001u16.to_be_bytes()));
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.peer_close(), Some(CloseCode::GOING_AWAY));
}
