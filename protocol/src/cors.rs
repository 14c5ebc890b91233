//! Which CORS rule answers a browser's request, and the headers it gets.
//!
//! S3's rules: the first rule whose origin pattern matches the `Origin`
//! header, whose methods include the (requested) method, and — for a
//! preflight — whose allowed-header patterns cover every header named in
//! `Access-Control-Request-Headers`, answers. Patterns hold at most one `*`,
//! which matches any run of characters; header names compare without case.

use crate::xml::{CorsConfiguration, CorsRule};

/// What a browser asks: its origin, the method of the (actual) request,
/// and, for a preflight, the headers it wants to send.
#[derive(Debug, Clone, Copy)]
pub struct CorsRequest<'a> {
    /// The `Origin` header.
    pub origin: &'a str,
    /// The request method, or a preflight's `Access-Control-Request-Method`.
    pub method: &'a str,
    /// A preflight's `Access-Control-Request-Headers`, comma-separated.
    pub request_headers: Option<&'a str>,
}

/// The response headers a matching rule gives, in the order S3 sends them.
pub fn response_headers(
    rule: &CorsRule,
    req: &CorsRequest<'_>,
    preflight: bool,
) -> Vec<(&'static str, String)> {
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    let mut out = vec![(
        "access-control-allow-origin",
        if any_origin {
            "*".to_string()
        } else {
            req.origin.to_string()
        },
    )];
    out.push((
        "access-control-allow-methods",
        rule.allowed_methods.join(", "),
    ));
    if preflight {
        if let Some(h) = req.request_headers.filter(|h| !h.trim().is_empty()) {
            out.push((
                "access-control-allow-headers",
                requested(h).collect::<Vec<_>>().join(", "),
            ));
        }
    }
    if !rule.expose_headers.is_empty() {
        out.push((
            "access-control-expose-headers",
            rule.expose_headers.join(", "),
        ));
    }
    if let Some(age) = rule.max_age_seconds {
        out.push(("access-control-max-age", age.to_string()));
    }
    // With a specific origin, S3 also allows credentials (cookies, auth).
    if !any_origin {
        out.push(("access-control-allow-credentials", "true".to_string()));
    }
    out.push((
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
    ));
    out
}

/// The first rule of `config` that allows `req`.
pub fn find<'c>(config: &'c CorsConfiguration, req: &CorsRequest<'_>) -> Option<&'c CorsRule> {
    config.rules.iter().find(|r| allows(r, req))
}

fn allows(rule: &CorsRule, req: &CorsRequest<'_>) -> bool {
    rule.allowed_origins
        .iter()
        .any(|o| wildcard(o, req.origin, false))
        && rule.allowed_methods.iter().any(|m| m == req.method)
        && req.request_headers.is_none_or(|hs| {
            requested(hs).all(|h| rule.allowed_headers.iter().any(|p| wildcard(p, &h, true)))
        })
}

/// The header names of an `Access-Control-Request-Headers` value, lowercase.
fn requested(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

/// Whether `value` matches `pattern`, whose one `*` (if any) matches any run
/// of characters.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match p.split_once('*') {
        None => p == v,
        Some((head, tail)) => {
            v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CorsConfiguration {
        CorsConfiguration::parse(
            br#"<CORSConfiguration>
              <CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>
                <AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>
                <AllowedHeader>Content-*</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader>
                <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
              <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
            </CORSConfiguration>"#,
        )
        .unwrap()
    }

    fn req<'a>(origin: &'a str, method: &'a str, headers: Option<&'a str>) -> CorsRequest<'a> {
        CorsRequest {
            origin,
            method,
            request_headers: headers,
        }
    }

    #[test]
    fn first_matching_rule_answers() {
        let c = config();
        let put = req(
            "https://app.example.com",
            "PUT",
            Some("Content-Type, X-Amz-Date"),
        );
        assert_eq!(find(&c, &put).unwrap().max_age_seconds, Some(600));
        // The wildcard origin rule allows only GET.
        assert!(find(&c, &req("https://evil.test", "PUT", None)).is_none());
        assert!(find(&c, &req("https://evil.test", "GET", None)).is_some());
        // `*.example.com` does not match the bare domain or another scheme.
        assert!(find(&c, &req("https://example.com", "PUT", None)).is_none());
        assert!(find(&c, &req("http://app.example.com", "PUT", None)).is_none());
        // A header no pattern covers refuses the preflight.
        let bad = req(
            "https://app.example.com",
            "PUT",
            Some("content-type, authorization"),
        );
        assert!(find(&c, &bad).is_none());
    }

    #[test]
    fn headers_follow_the_rule() {
        let c = config();
        let put = req("https://app.example.com", "PUT", Some("Content-Type"));
        let h = response_headers(find(&c, &put).unwrap(), &put, true);
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(
            get("access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(get("access-control-allow-methods"), Some("PUT, POST"));
        assert_eq!(get("access-control-allow-headers"), Some("content-type"));
        assert_eq!(get("access-control-expose-headers"), Some("ETag"));
        assert_eq!(get("access-control-max-age"), Some("600"));
        assert_eq!(get("access-control-allow-credentials"), Some("true"));
        let any = req("https://x.test", "GET", None);
        let h = response_headers(find(&c, &any).unwrap(), &any, false);
        assert!(h.contains(&("access-control-allow-origin", "*".to_string())));
        assert!(!h
            .iter()
            .any(|(k, _)| *k == "access-control-allow-credentials"));
    }

    #[test]
    fn wildcards_match_one_run() {
        assert!(wildcard("*", "", false));
        assert!(wildcard("a*c", "abbc", false));
        assert!(!wildcard("a*c", "ac-", false));
        assert!(!wildcard("ab*ba", "aba", false));
        assert!(wildcard("X-Amz-*", "x-amz-date", true));
    }
}
