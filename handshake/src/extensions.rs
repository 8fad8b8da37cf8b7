//! `Sec-WebSocket-Extensions` parsing (RFC 6455 §9.1).
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension      = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//! A quoted value must be a token once unescaped. Several offers may share
//! one header line, and the header may be repeated; [`parse_extension_lines`]
//! joins the lines in order. Negotiating a particular extension (such as
//! permessage-deflate) is left to the caller, working on [`Extension`].

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::headers::{is_token, is_token_byte};

/// One extension offer or acceptance: a name and its parameters, borrowed
/// from the header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The extension name, such as `permessage-deflate`.
    pub name: &'a str,
    /// The parameters in the order given.
    pub params: Vec<ExtensionParam<'a>>,
}

impl<'a> Extension<'a> {
    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<&ExtensionParam<'a>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Extension<'_> {
    /// Writes the extension back in header syntax (`name; a; b=1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            if let Some(value) = &param.value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// An extension parameter: `name` or `name=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionParam<'a> {
    /// The parameter name, such as `client_max_window_bits`.
    pub name: &'a str,
    /// The value, unquoted and unescaped; `None` for a bare parameter.
    pub value: Option<Cow<'a, str>>,
}

/// Why a `Sec-WebSocket-Extensions` value does not follow RFC 6455 §9.1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionsError {
    /// The header holds no extension at all.
    #[error("the header is empty; send no Sec-WebSocket-Extensions header instead of an empty one")]
    Empty,
    /// An extension or parameter name is missing or has a non-token byte.
    #[error("expected an extension or parameter name (a token) at byte {position}")]
    ExpectedName {
        /// Byte offset in the header value.
        position: usize,
    },
    /// A parameter value is neither a token nor a quoted string.
    #[error("expected a parameter value (a token or a quoted string) at byte {position}")]
    ExpectedValue {
        /// Byte offset in the header value.
        position: usize,
    },
    /// A quoted string is not closed.
    #[error("a quoted string starting at byte {position} is not closed")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        position: usize,
    },
    /// A quoted value is not a token after unescaping, which §9.1 requires.
    #[error(
        "the quoted value {value:?} is not a token after unescaping, as RFC 6455 §9.1 requires"
    )]
    QuotedValueNotToken {
        /// The unescaped value.
        value: String,
    },
    /// The same extension accepted more than once in a response.
    #[error(
        "extension '{name}' appears more than once; a server accepts each offered extension at most once"
    )]
    Repeated {
        /// The repeated extension name.
        name: String,
    },
    /// A byte that cannot follow at this point.
    #[error("unexpected character {found:?} at byte {position}; expected ';', ',' or the end")]
    Unexpected {
        /// The offending character.
        found: char,
        /// Byte offset in the header value.
        position: usize,
    },
}

/// Parses one `Sec-WebSocket-Extensions` header value.
///
/// ```
/// use ws13_handshake::extensions::parse_extensions;
///
/// let offers = parse_extensions(
///     "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
/// )?;
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert!(offers[0].param("client_max_window_bits").is_some_and(|p| p.value.is_none()));
/// assert_eq!(offers[1].param("server_max_window_bits").and_then(|p| p.value.as_deref()), Some("10"));
/// # Ok::<(), ws13_handshake::extensions::ExtensionsError>(())
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<Extension<'_>>, ExtensionsError> {
    let mut out = Vec::new();
    Parser {
        text: value,
        pos: 0,
    }
    .parse_into(&mut out)?;
    if out.is_empty() {
        return Err(ExtensionsError::Empty);
    }
    Ok(out)
}

/// Parses several `Sec-WebSocket-Extensions` header lines as one list, in
/// order. Each line must hold at least one extension.
pub fn parse_extension_lines<'a, I>(lines: I) -> Result<Vec<Extension<'a>>, ExtensionsError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    for line in lines {
        out.extend(parse_extensions(line)?);
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.text[start..self.pos])
    }

    fn unexpected(&self) -> ExtensionsError {
        let found = self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or(' ');
        ExtensionsError::Unexpected {
            found,
            position: self.pos,
        }
    }

    fn parse_into(mut self, out: &mut Vec<Extension<'a>>) -> Result<(), ExtensionsError> {
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(()),
                // An empty list element (`a, , b`) is allowed by RFC 9110 §5.6.1.
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let name = self
                .token()
                .ok_or(ExtensionsError::ExpectedName { position: self.pos })?;
            let mut params = Vec::new();
            loop {
                self.skip_whitespace();
                match self.peek() {
                    None => break,
                    Some(b',') => {
                        self.pos += 1;
                        break;
                    }
                    Some(b';') => {
                        self.pos += 1;
                        params.push(self.param()?);
                    }
                    Some(_) => return Err(self.unexpected()),
                }
            }
            out.push(Extension { name, params });
        }
    }

    fn param(&mut self) -> Result<ExtensionParam<'a>, ExtensionsError> {
        self.skip_whitespace();
        let name = self
            .token()
            .ok_or(ExtensionsError::ExpectedName { position: self.pos })?;
        self.skip_whitespace();
        if self.peek() != Some(b'=') {
            return Ok(ExtensionParam { name, value: None });
        }
        self.pos += 1;
        self.skip_whitespace();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            Cow::Borrowed(
                self.token()
                    .ok_or(ExtensionsError::ExpectedValue { position: self.pos })?,
            )
        };
        Ok(ExtensionParam {
            name,
            value: Some(value),
        })
    }

    /// Reads a quoted string starting at the opening quote and unescapes it.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ExtensionsError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(ExtensionsError::UnterminatedQuote { position: open }),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 2;
                    if self.pos > self.text.len() {
                        return Err(ExtensionsError::UnterminatedQuote { position: open });
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or_default();
        self.pos += 1; // closing quote
        let value = if escaped {
            let mut unescaped = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                unescaped.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            Cow::Owned(unescaped)
        } else {
            Cow::Borrowed(raw)
        };
        if !is_token(&value) {
            return Err(ExtensionsError::QuotedValueNotToken {
                value: value.into_owned(),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_and_chrome_offers_parse() {
        let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].params[0].name, "client_max_window_bits");
        assert_eq!(offers[0].params[0].value, None);
    }

    #[test]
    fn quoted_values_are_unescaped() {
        let offers = parse_extensions(r#"foo; a="1\5"; b = "x" ,bar"#).unwrap();
        assert_eq!(offers[0].param("a").unwrap().value.as_deref(), Some("15"));
        assert_eq!(offers[0].param("b").unwrap().value.as_deref(), Some("x"));
        assert_eq!(offers[1].name, "bar");
    }

    #[test]
    fn multiple_lines_join_in_order() {
        let all = parse_extension_lines(["a; x=1", "b, c"]).unwrap();
        let names: Vec<_> = all.iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        assert_eq!(parse_extensions(""), Err(ExtensionsError::Empty));
        assert_eq!(parse_extensions(" , "), Err(ExtensionsError::Empty));
        assert!(matches!(
            parse_extensions("a; b=\"open"),
            Err(ExtensionsError::UnterminatedQuote { .. })
        ));
        assert!(matches!(
            parse_extensions("a; b=\"x\\"),
            Err(ExtensionsError::UnterminatedQuote { .. })
        ));
        assert!(matches!(
            parse_extensions("a; b=\"x y\""),
            Err(ExtensionsError::QuotedValueNotToken { .. })
        ));
        assert!(matches!(
            parse_extensions("a; =1"),
            Err(ExtensionsError::ExpectedName { .. })
        ));
        assert!(matches!(
            parse_extensions("a; b="),
            Err(ExtensionsError::ExpectedValue { .. })
        ));
        assert!(matches!(
            parse_extensions("a b"),
            Err(ExtensionsError::Unexpected { found: 'b', .. })
        ));
        assert!(matches!(
            parse_extensions("é"),
            Err(ExtensionsError::ExpectedName { .. })
        ));
        assert!(matches!(
            parse_extensions("a; b=\"é\""),
            Err(ExtensionsError::QuotedValueNotToken { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        let offers = parse_extensions(
            "permessage-deflate;server_no_context_takeover; client_max_window_bits=\"10\"",
        )
        .unwrap();
        assert_eq!(
            alloc::format!("{}", offers[0]),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
        );
    }
}
