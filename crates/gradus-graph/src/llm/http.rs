//! The HTTP/1.1 wire format the LLM agent speaks: endpoint URLs, request bytes, and a
//! parser for response bytes (status line, headers, `Content-Length` or chunked body).
//! Responses are untrusted: every length is checked before it is used.

use gradus_core::{Error, Result};

/// Largest header block accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A plain-HTTP endpoint, e.g. `http://127.0.0.1:8080/v1/chat/completions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port (80 if the URL has none).
    pub port: u16,
    /// Request path, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses an `http://host[:port][/path]` URL (path defaults to
    /// `/v1/chat/completions`). `https://` is refused: this client has no TLS, put a local
    /// gateway in front of remote services.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |detail: String| Error::InvalidShape { what: "endpoint URL", detail };
        if url.starts_with("https://") {
            return Err(Error::Unsupported(format!(
                "{url}: TLS is not supported; use an http:// endpoint (e.g. a local gateway)"
            )));
        }
        let rest = url.strip_prefix("http://").ok_or_else(|| bad(format!("{url}: not http://")))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/v1/chat/completions"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => {
                (h, p.parse::<u16>().map_err(|_| bad(format!("{url}: bad port `{p}`")))?)
            }
            None => (authority, 80),
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!("{url}: bad host `{host}`")));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!("{url}: bad path")));
        }
        Ok(Endpoint { host: host.to_string(), port, path: path.to_string() })
    }

    /// `http://host:port/path`.
    pub fn url(&self) -> String {
        format!("http://{}:{}{}", self.host, self.port, self.path)
    }

    /// The bytes of a `POST` of the JSON `body`, with `Connection: close` (the response
    /// ends at end of stream) and an optional bearer token.
    pub fn post_json(&self, body: &str, bearer: Option<&str>) -> Result<Vec<u8>> {
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        if let Some(token) = bearer {
            if token.chars().any(|c| c.is_control()) {
                return Err(Error::InvalidShape {
                    what: "API key",
                    detail: "contains control characters".into(),
                });
            }
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        Ok(bytes)
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body (de-chunked).
    pub body: Vec<u8>,
}

fn corrupt(detail: impl Into<String>) -> Error {
    Error::Corrupt { what: "HTTP response", detail: detail.into() }
}

/// Parses the complete bytes of an HTTP/1.x response read until the peer closed.
pub fn parse_response(raw: &[u8]) -> Result<Response> {
    let end = raw
        .windows(4)
        .take(MAX_HEADER_BYTES)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| corrupt("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| corrupt("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(corrupt(format!("bad status line `{}`", truncate(status_line, 80))));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| corrupt(format!("bad status line `{}`", truncate(status_line, 80))))?;
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| corrupt(format!("bad header `{}`", truncate(line, 80))))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| corrupt("bad Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if rest.len() < n {
            return Err(corrupt(format!("body has {} of {n} bytes", rest.len())));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

/// Decodes a chunked body (extensions ignored, trailers discarded).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol =
            rest.windows(2).position(|w| w == b"\r\n").ok_or_else(|| corrupt("bad chunk size"))?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| corrupt("bad chunk size"))?;
        let hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| corrupt("bad chunk size"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size.saturating_add(2) || &rest[size..size + 2] != b"\r\n" {
            return Err(corrupt("truncated chunk"));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// At most `n` characters of `s`, for error messages.
pub fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
