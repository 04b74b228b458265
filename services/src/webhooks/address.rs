//! Where webhooks may go. A URL from a workspace member must not reach the instance's
//! own network (SSRF): loopback, private, link-local (cloud metadata), shared, reserved
//! and multicast addresses are refused — in the URL, in what its name resolves to when
//! it is saved, and again in what it resolves to at each delivery (the resolver below
//! drops them, so a name re-pointed later cannot get through). The operator may allow
//! chosen networks (`VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS`), e.g. an internal receiver.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

/// Which addresses webhooks may reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Networks allowed even though they are internal.
    pub allowed: Vec<IpNet>,
}

/// Why a URL is refused, with a code for programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

fn refusal(code: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
    }
}

impl AddressPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// Checks a URL a member gave: http(s), no credentials, a host whose every address
    /// is permitted. Resolves the name (so it is async); the same rule applies again
    /// at delivery.
    pub async fn check(&self, raw: &str) -> Result<Url, Refusal> {
        let url = self.check_form(raw)?;
        if literal_ip(&url).is_some() {
            return Ok(url);
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| {
                refusal(
                    "WEBHOOK_URL_UNRESOLVED",
                    format!("the webhook host {host:?} does not resolve: {e}"),
                )
            })?
            .collect();
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(internal(&host, bad.ip()));
        }
        Ok(url)
    }

    /// The checks that need no network: scheme, credentials, host, and a host written
    /// as an address (which no resolver is asked about, at save or at delivery).
    pub fn check_form(&self, raw: &str) -> Result<Url, Refusal> {
        let url = Url::parse(raw.trim())
            .map_err(|e| refusal("WEBHOOK_URL_INVALID", format!("{raw:?} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(refusal(
                "WEBHOOK_URL_INVALID",
                format!("a webhook URL is http or https, not {:?}", url.scheme()),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refusal(
                "WEBHOOK_URL_INVALID",
                "a webhook URL carries no user name or password (they would be shown to every admin and logged); verify the signature instead",
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refusal("WEBHOOK_URL_INVALID", "a webhook URL names a host"));
        }
        if raw.len() > 2048 {
            return Err(refusal(
                "WEBHOOK_URL_INVALID",
                "a webhook URL is at most 2048 characters",
            ));
        }
        match literal_ip(&url) {
            Some(ip) if !self.permits(ip) => Err(internal(url.host_str().unwrap_or_default(), ip)),
            _ => Ok(url),
        }
    }

    /// A resolver for the delivery client that never hands out a refused address.
    pub fn resolver(&self) -> Arc<PermittedResolver> {
        Arc::new(PermittedResolver {
            policy: self.clone(),
        })
    }
}

fn internal(host: &str, ip: IpAddr) -> Refusal {
    refusal(
        "WEBHOOK_URL_REFUSED",
        format!(
            "{host:?} is {ip}, an internal address (loopback, private, link-local, shared or reserved); webhooks go to public addresses unless the operator allows the network (VALIDIBOT_WEBHOOK_ALLOWED_NETWORKS)"
        ),
    )
}

/// The URL's host as an address, when it is written as one (no resolving happens then).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Addresses no webhook may reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64
        return internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        // 6to4
        return internal_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible and other ::/96
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
}

/// The delivery client's resolver: the system's answer without refused addresses; an
/// error when none is left, so the request never connects to one.
pub struct PermittedResolver {
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for PermittedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                let shown = found
                    .first()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|| "nothing".into());
                return Err(format!(
                    "{host:?} resolves to {shown}, an internal address webhooks may not reach"
                )
                .into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &AddressPolicy, url: &str) -> &'static str {
        policy.check_form(url).err().map_or("", |r| r.code)
    }

    #[test]
    fn internal_addresses_are_refused_in_every_spelling() {
        let p = AddressPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0.0.0.0:8080/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:7f00:1::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
        ] {
            assert_eq!(refused(&p, url), "WEBHOOK_URL_REFUSED", "{url}");
        }
        for url in [
            "https://93.184.215.14/hook",
            "https://[2606:4700::1111]/",
            "https://hooks.example.com/x",
        ] {
            assert_eq!(refused(&p, url), "", "{url}");
        }
        for url in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
            "file:///etc/passwd",
            "http://",
        ] {
            assert_eq!(refused(&p, url), "WEBHOOK_URL_INVALID", "{url}");
        }
    }

    #[test]
    fn an_allowed_network_opens_only_itself() {
        let p = AddressPolicy {
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(!p.permits("127.0.0.2".parse().unwrap()));
        assert!(!p.permits("10.0.0.1".parse().unwrap()));
        assert!(p.permits("8.8.8.8".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_name_is_judged_by_what_it_resolves_to() {
        let p = AddressPolicy::default();
        let err = p.check("http://localhost:9/").await.unwrap_err();
        assert_eq!(err.code, "WEBHOOK_URL_REFUSED", "{err:?}");
        // The delivery resolver drops the same addresses.
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(p.resolver().resolve(name).await.is_err());
        let open = AddressPolicy {
            allowed: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(open
            .resolver()
            .resolve(name)
            .await
            .unwrap()
            .next()
            .is_some());
    }
}
