//! The Host header: the one place that splits off a port.

/// Splits `host[:port]` into the host name and the port. The port rule:
/// digits after the last `:`, and for an IPv6 literal only after its `]`
/// (`[::1]` has no port, `[::1]:9000` has one). Anything else is all name.
pub fn split_host(host: &str) -> (&str, Option<&str>) {
    let Some((name, port)) = host.rsplit_once(':') else {
        return (host, None);
    };
    let ipv6_inside = host.starts_with('[') && !name.ends_with(']');
    if ipv6_inside || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return (host, None);
    }
    (name, Some(port))
}

/// The host name without its port.
pub fn host_name(host: &str) -> &str {
    split_host(host).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(split_host("example.com"), ("example.com", None));
        assert_eq!(
            split_host("example.com:9000"),
            ("example.com", Some("9000"))
        );
        assert_eq!(split_host("[::1]"), ("[::1]", None));
        assert_eq!(split_host("[::1]:9000"), ("[::1]", Some("9000")));
        assert_eq!(split_host("b.s3.local:"), ("b.s3.local:", None));
        assert_eq!(host_name("127.0.0.1:80"), "127.0.0.1");
    }
}
