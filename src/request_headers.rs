//! [`RequestHeaders`]: the header lines of a request the server read, owned
//! in a few buffers whatever their number.

/// The header lines of a request, in order, as sent: names (compare them
/// case-insensitively) and raw values. All names live in one string and all
/// values in one byte buffer, so keeping a request's headers costs three
/// allocations however many lines it has.
///
/// ```
/// use ws13::RequestHeaders;
///
/// let headers: RequestHeaders =
///     [("Host", &b"example.com"[..]), ("Cookie", b"a=1"), ("cookie", b"b=2")].into_iter().collect();
/// assert_eq!(headers.len(), 3);
/// assert_eq!(headers.get("COOKIE"), Some(&b"a=1"[..]));
/// let names: Vec<&str> = headers.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["Host", "Cookie", "cookie"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestHeaders {
    /// Every name, back to back.
    names: String,
    /// Every value, back to back.
    values: Vec<u8>,
    /// Where each line's name and value end in `names` and `values`.
    ends: Vec<(usize, usize)>,
}

impl RequestHeaders {
    /// No headers.
    pub fn new() -> Self {
        RequestHeaders::default()
    }

    /// Room for `lines` header lines whose names take `name_bytes` and whose
    /// values take `value_bytes` in all.
    pub fn with_capacity(lines: usize, name_bytes: usize, value_bytes: usize) -> Self {
        RequestHeaders {
            names: String::with_capacity(name_bytes),
            values: Vec::with_capacity(value_bytes),
            ends: Vec::with_capacity(lines),
        }
    }

    /// Appends a header line.
    pub fn push(&mut self, name: &str, value: &[u8]) {
        self.names.push_str(name);
        self.values.extend_from_slice(value);
        self.ends.push((self.names.len(), self.values.len()));
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no header lines.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value of the first line called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The lines in order, as `(name, value)`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            index: 0,
        }
    }
}

impl core::fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for RequestHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(lines: I) -> Self {
        let mut headers = RequestHeaders::new();
        for (name, value) in lines {
            headers.push(name.as_ref(), value.as_ref());
        }
        headers
    }
}

impl<'h> IntoIterator for &'h RequestHeaders {
    type Item = (&'h str, &'h [u8]);
    type IntoIter = Iter<'h>;

    fn into_iter(self) -> Iter<'h> {
        self.iter()
    }
}

/// The lines of [`RequestHeaders`], in order ([`RequestHeaders::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'h> {
    headers: &'h RequestHeaders,
    index: usize,
}

impl<'h> Iterator for Iter<'h> {
    type Item = (&'h str, &'h [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let ends = &self.headers.ends;
        let &(name_end, value_end) = ends.get(self.index)?;
        let (name_start, value_start) = match self.index {
            0 => (0, 0),
            i => ends[i - 1],
        };
        self.index += 1;
        Some((
            &self.headers.names[name_start..name_end],
            &self.headers.values[value_start..value_end],
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.headers.ends.len() - self.index;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_in_order_with_empty_names_and_values_kept() {
        let mut headers = RequestHeaders::with_capacity(3, 8, 8);
        headers.push("A", b"1");
        headers.push("Empty", b"");
        headers.push("", b"odd");
        headers.push("X-\u{e9}", b"\xff");
        let lines: Vec<(&str, &[u8])> = headers.iter().collect();
        assert_eq!(
            lines,
            [
                ("A", &b"1"[..]),
                ("Empty", b""),
                ("", b"odd"),
                ("X-\u{e9}", b"\xff")
            ]
        );
        assert_eq!(headers.iter().len(), 4);
        assert_eq!(headers.get("empty"), Some(&b""[..]));
        assert_eq!(headers.get("missing"), None);
        assert!(RequestHeaders::new().is_empty());
    }
}
