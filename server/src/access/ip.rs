//! The client's address and IP allow-lists.
//!
//! `X-Forwarded-For` is believed only when the TCP peer is a configured
//! proxy, and then only as far as the chain stays inside trusted proxies:
//! walking from the right, the first address that is not a trusted proxy is
//! the client. Anyone else could simply write the header themselves.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The TCP peer of a connection, put into each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The address of the client that sent the request.
pub fn client_ip(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Several X-Forwarded-For headers form one list, in order.
    let mut hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if hops.is_empty() {
        hops = forwarded_for(headers);
    }
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage in the chain: stop at the last address we could trust.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// The `for=` addresses of RFC 7239 `Forwarded` headers, in order
/// (`for="[2001:db8::1]:4711"` and `for=192.0.2.60` alike; obfuscated
/// identifiers and `unknown` stay in, to stop the walk).
fn forwarded_for(headers: &http::HeaderMap) -> Vec<&str> {
    headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            })
        })
        .collect()
}

/// An X-Forwarded-For entry: an address, possibly `[v6]` or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let bare = hop.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if let Ok(ip) = bare.unwrap_or(hop).parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// Whether `ip` may use a key with this allow-list (empty: from anywhere).
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    allow.is_empty() || allow.iter().any(|net| net.contains(&canonical(ip)))
}

/// Parses a CIDR range; a bare address means just that address.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("invalid IP range {s:?} (expected e.g. 203.0.113.0/24 or 2001:db8::/32)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(xff: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = vec![parse_net("10.0.0.1").unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        let h = hm("203.0.113.5, 10.0.0.1");
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        // Not from the proxy: the header is ignored.
        assert_eq!(client_ip(other, &h, &trusted), other);
        // A spoofed entry left of the real client is not believed.
        let h = hm("1.2.3.4, 203.0.113.5");
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &http::HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn rfc7239_forwarded_when_there_is_no_x_forwarded_for() {
        let trusted = vec![parse_net("10.0.0.1").unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::FORWARDED,
            r#"for=1.2.3.4, for="[2001:db8::7]:4711";proto=https, for=10.0.0.1"#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        // From an untrusted peer the header means nothing.
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(client_ip(other, &h, &trusted), other);
    }

    #[test]
    fn allow_lists_v4_v6_and_mapped() {
        let allow = vec![
            parse_net("127.0.0.0/8").unwrap(),
            parse_net("::1/128").unwrap(),
        ];
        assert!(allowed("127.0.0.1".parse().unwrap(), &allow));
        assert!(allowed("::1".parse().unwrap(), &allow));
        assert!(allowed("::ffff:127.0.0.1".parse().unwrap(), &allow));
        assert!(!allowed("192.0.2.1".parse().unwrap(), &allow));
        assert!(allowed("192.0.2.1".parse().unwrap(), &[]));
        assert!(parse_net("nonsense").is_err());
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
