//! Rules that follow from the web page a browser client runs in (field
//! failure 2: mixed content). The handshake itself does not show them: a
//! browser blocks a `ws://` connection from an `https://` page before it
//! sends a byte, so the server never sees a request.

use ws13_handshake::diagnostics::Diagnostic;

use crate::client::WsUrl;

/// Code of the [`mixed_content`] diagnostic.
pub const MIXED_CONTENT: &str = "mixed-content";

/// The WebSocket URL for `path` on the page's own host: `wss://` for an
/// `https://` page, `ws://` for an `http://` page; `None` for other origins.
///
/// ```
/// use ws13::page_origin::websocket_url_for_page;
/// assert_eq!(websocket_url_for_page("https://chat.example", "/ws").as_deref(), Some("wss://chat.example/ws"));
/// assert_eq!(websocket_url_for_page("http://127.0.0.1:9001", "/ws").as_deref(), Some("ws://127.0.0.1:9001/ws"));
/// assert_eq!(websocket_url_for_page("file://", "/ws"), None);
/// ```
pub fn websocket_url_for_page(page_origin: &str, path: &str) -> Option<String> {
    let (scheme, host) = split_origin(page_origin)?;
    let ws_scheme = if scheme == "https" { "wss" } else { "ws" };
    Some(format!("{ws_scheme}://{host}{path}"))
}

/// A [`MIXED_CONTENT`] diagnostic when a page served over `https://` would
/// open the unencrypted `url`: browsers block that connection before sending
/// anything, and the page only sees `onerror` and close code 1006.
///
/// ```
/// use ws13::WsUrl;
/// use ws13::page_origin::mixed_content;
/// let plain = WsUrl::parse("ws://chat.example/ws").unwrap();
/// let secure = WsUrl::parse("wss://chat.example/ws").unwrap();
/// assert_eq!(mixed_content("https://chat.example", &plain).unwrap().code, "mixed-content");
/// assert!(mixed_content("https://chat.example", &secure).is_none());
/// assert!(mixed_content("http://chat.example", &plain).is_none());
/// ```
pub fn mixed_content(page_origin: &str, url: &WsUrl) -> Option<Diagnostic> {
    let (scheme, _) = split_origin(page_origin)?;
    if scheme != "https" || url.secure {
        return None;
    }
    let suggested = format!("wss://{}{}", url.host_header(), url.path);
    Some(Diagnostic {
        code: MIXED_CONTENT,
        message: format!(
            "The page {page_origin} is served over HTTPS but the WebSocket URL is unencrypted \
             ws://{}{}: browsers block it as mixed content before sending a byte, so the page \
             sees onerror and close code 1006 and the server sees no request. Use {suggested} \
             (serve TLS on the WebSocket endpoint, or route it through the same TLS proxy as the page).",
            url.host_header(),
            url.path
        ),
        hint: "Connect with wss:// from https:// pages; derive the scheme from the page's protocol (location.protocol === \"https:\" ? \"wss:\" : \"ws:\").",
    })
}

/// `("https", "host:port")` from `https://host:port` (a trailing `/` is allowed).
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let scheme_ok = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    if !scheme_ok || host.is_empty() || host.contains('/') {
        return None;
    }
    Some((
        if scheme.eq_ignore_ascii_case("https") {
            "https"
        } else {
            "http"
        },
        host,
    ))
}
