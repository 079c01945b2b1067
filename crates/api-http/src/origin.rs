//! In `open` auth mode anyone who reaches the port is the default tenant, so the port must be
//! reachable only from this machine: the listener is on a loopback address, and requests that
//! a web page of another site makes through the operator's browser are refused. A browser
//! names the page's site in `Origin` (and `Sec-Fetch-Site`); a DNS-rebinding page reaches the
//! port under its own host name, which shows in `Host`. So in open mode a request must name a
//! loopback host, and may come from no page but one served from a loopback address.

use std::net::IpAddr;

use crate::error::ApiError;

/// Whether `host` (a `Host` header's host, without its port) is this machine's.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of a `Host` header value (`name:port`, `[v6]:port`, or either without a port).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Whether an `Origin` value is a page served from this machine.
fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.contains(['/', '@', '?', '#'])
        && is_loopback_host(host_of(rest))
}

/// Checks one request of `open` mode by its `Host`, `Origin` and `Sec-Fetch-Site` headers.
pub fn check_open_mode_request(
    host: Option<&str>,
    origin: Option<&str>,
    fetch_site: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(host) = host
        && !is_loopback_host(host_of(host))
    {
        return Err(ApiError::Forbidden(
            "auth mode 'open' answers requests for a loopback host only (localhost, 127.0.0.1, \
             [::1]); use auth mode 'keys' to serve other hosts"
                .into(),
        ));
    }
    let cross_site = origin.is_some_and(|o| !is_loopback_origin(o))
        || fetch_site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site"));
    if cross_site {
        return Err(ApiError::Forbidden(
            "auth mode 'open' refuses requests from web pages of other sites".into(),
        ));
    }
    Ok(())
}

/// The refusal of `req` in `open` mode, if it is refused.
pub fn refusal(req: &actix_web::HttpRequest) -> Option<ApiError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"))
    };
    check_open_mode_request(header("host"), header("origin"), header("sec-fetch-site")).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(host: Option<&str>, origin: Option<&str>, site: Option<&str>) -> bool {
        check_open_mode_request(host, origin, site).is_ok()
    }

    #[test]
    fn loopback_hosts_pass_and_others_are_refused() {
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "localhost.",
            "[::1]:8080",
            "127.3.4.5:99",
        ] {
            assert!(allowed(Some(host), None, None), "{host}");
        }
        for host in [
            "evil.example:8080",
            "evil.example",
            "10.0.0.1:8080",
            "localhost.evil.example",
            "[::2]:80",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!allowed(Some(host), None, None), "{host}");
        }
        // A client that names no host (HTTP/1.0) is no browser.
        assert!(allowed(None, None, None));
    }

    #[test]
    fn pages_of_other_sites_are_refused() {
        let host = Some("127.0.0.1:8080");
        for origin in [
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "https://[::1]",
        ] {
            assert!(allowed(host, Some(origin), Some("same-origin")), "{origin}");
        }
        for origin in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "http://evil.example@127.0.0.1",
            "file://",
        ] {
            assert!(!allowed(host, Some(origin), None), "{origin}");
        }
        assert!(!allowed(host, None, Some("cross-site")));
        assert!(allowed(host, None, Some("none")));
        let e = check_open_mode_request(Some("evil.example"), None, None).unwrap_err();
        assert_eq!(e.class().row().status.as_u16(), 403);
    }
}
