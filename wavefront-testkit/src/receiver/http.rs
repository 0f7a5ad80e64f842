//! The little HTTP/1.1 the receiver needs: request heads, query strings,
//! responses.

/// The largest request head accepted (request line plus headers).
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// The largest request body accepted (before and after gunzip).
pub(super) const MAX_BODY: usize = 64 * 1024 * 1024;

/// A parsed request head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) method: String,
    pub(super) target: String,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub(super) http11: bool,
    pub(super) headers: Vec<(String, String)>,
}

impl Head {
    /// The value of the first header called `name` (case-insensitive).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays open after the response.
    pub(super) fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if self.http11 {
            !has("close")
        } else {
            has("keep-alive")
        }
    }

    /// The path of the target, without the query.
    pub(super) fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The first query parameter called one of `names`.
    pub(super) fn query_param(&self, names: &[&str]) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            names
                .contains(&percent_decode(k).as_str())
                .then(|| percent_decode(v))
        })
    }
}

/// Finds the end of the head (the index just past `\r\n\r\n`).
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a request head (including the final empty line).
pub(super) fn parse_head(bytes: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the head is not UTF-8".to_owned())?;
    let text = text
        .strip_suffix("\r\n\r\n")
        .ok_or("the head does not end with an empty line")?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(format!("bad request line {request_line:?}"));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(format!("unsupported version {version:?}")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("bad method {method:?}"));
    }
    if !target.starts_with('/') {
        return Err(format!("bad target {target:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(format!("bad header name {name:?}"));
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    Ok(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        http11,
        headers,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reason phrase of `status`.
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A complete response with an empty body.
pub(super) fn response(status: u16, close: bool, retry_after: Option<u64>) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\n{}{}\r\n",
        reason(status),
        retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n")),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_queries() {
        let head = parse_head(
            b"POST /report?f=spanLogs&x=%41+b HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path(), "/report");
        assert_eq!(
            head.query_param(&["f", "format"]).as_deref(),
            Some("spanLogs")
        );
        assert_eq!(head.query_param(&["x"]).as_deref(), Some("A b"));
        assert_eq!(head.header("host"), Some("x"));
        assert!(!head.keep_alive());
        assert!(parse_head(b"POST /report HTTP/2\r\n\r\n").is_err());
        assert!(parse_head(b"POST /report HTTP/1.1\r\nbad header\r\n\r\n").is_err());
        let old = parse_head(b"POST / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!old.keep_alive() && old.query_param(&["f"]).is_none());
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(head_end(b"a\r\n\r\nb"), Some(5));
    }
}
