//! Where a request comes from: the client address (through trusted proxies only) and
//! its country, from the organisation's own ranges first, then a GeoIP database. An
//! address no source places is unknown, and unknown is denied for controlled data.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use itarvault_policy::data::Country;

/// Why the location sources could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error(
        "ranges file `{0}` line {1}: {2}\neach line is `cidr,country`, e.g. `10.20.0.0/16,US`"
    )]
    Ranges(PathBuf, usize, String),
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("GeoIP database `{0}` is not a MaxMind DB country file: {1}")]
    Geoip(PathBuf, String),
    #[error("trusted proxy `{0}` is not an address or CIDR")]
    Proxy(String),
}

/// The source country of an address, and which source said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub addr: IpAddr,
    pub country: Option<Country>,
    /// `ranges`, `geoip`, `none`, or `forwarding-unreadable` (the proxy headers could
    /// not be believed; `addr` is then the proxy's).
    pub source: &'static str,
    /// The addresses an authentication failure of this request counts against: `addr`,
    /// or for a chain that could not be believed the clients its headers claim, so that
    /// a client behind a proxy cannot spend the proxy's allowance for everyone.
    pub counted_as: Vec<IpAddr>,
}

/// The forwarding headers of a request, every line of each.
#[derive(Debug, Default)]
pub struct Forwarding<'a> {
    pub x_forwarded_for: Vec<&'a str>,
    pub forwarded: Vec<&'a str>,
}

impl<'a> Forwarding<'a> {
    /// A line that is not visible ASCII cannot be read and counts as an unreadable hop.
    pub fn from_headers(headers: &'a axum::http::HeaderMap) -> Self {
        let lines = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or("not-ascii"))
                .collect()
        };
        Self {
            x_forwarded_for: lines("x-forwarded-for"),
            forwarded: lines("forwarded"),
        }
    }
}

/// The client address a request's forwarding chain names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    Known(IpAddr),
    /// `claimed`: the clients the readable chains name (at most one per header).
    Unknown {
        why: &'static str,
        claimed: [Option<IpAddr>; 2],
    },
}

/// The address in one `Forwarded` element's `for=` parameter (RFC 7239 section 4):
/// `for=192.0.2.1`, `for="192.0.2.1:4711"`, `for="[2001:db8::1]:4711"`. `None` when
/// the element has no `for`, or it is obfuscated (`_hidden`, `unknown`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
    })?;
    let v = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if let Some(rest) = v.strip_prefix('[') {
        let (ip, _port) = rest.split_once(']')?;
        return ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(ip);
    }
    let (ip, port) = v.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

pub struct Locator {
    ranges: Vec<(IpNet, Country)>,
    geoip: Option<maxminddb::Reader<Vec<u8>>>,
    proxies: Vec<IpNet>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("ranges", &self.ranges.len())
            .field("geoip", &self.geoip.is_some())
            .field("proxies", &self.proxies)
            .finish()
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Parses the ranges CSV. Blank lines and `#` comments are skipped, as is a header
/// line starting with `cidr`.
pub fn parse_ranges(path: &Path, text: &str) -> Result<Vec<(IpNet, Country)>, LocationError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("cidr")) {
            continue;
        }
        let err = |m: String| LocationError::Ranges(path.to_owned(), i + 1, m);
        let (net, cc) = line
            .split_once(',')
            .ok_or_else(|| err("expected two fields separated by a comma".into()))?;
        let net =
            parse_net(net.trim()).ok_or_else(|| err(format!("`{}` is not a CIDR", net.trim())))?;
        let cc = cc.trim();
        let country = Country::parse(cc)
            .ok_or_else(|| err(format!("`{cc}` is not an ISO 3166-1 alpha-2 country code")))?;
        out.push((net.trunc(), country));
    }
    // Most specific first, so the longest prefix wins.
    out.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
    Ok(out)
}

impl Locator {
    pub fn new(
        ranges_file: Option<&Path>,
        geoip_db: Option<&Path>,
        trusted_proxies: &[String],
    ) -> Result<Self, LocationError> {
        let ranges = match ranges_file {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| LocationError::Read(p.to_owned(), e))?;
                parse_ranges(p, &text)?
            }
            None => Vec::new(),
        };
        let geoip = match geoip_db {
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|e| LocationError::Read(p.to_owned(), e))?;
                Some(
                    maxminddb::Reader::from_source(bytes)
                        .map_err(|e| LocationError::Geoip(p.to_owned(), e.to_string()))?,
                )
            }
            None => None,
        };
        let proxies = trusted_proxies
            .iter()
            .map(|s| parse_net(s).ok_or_else(|| LocationError::Proxy(s.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ranges,
            geoip,
            proxies,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client address: the peer, or — when the peer is a trusted proxy — the
    /// right-most hop of the forwarding chain that is not itself a trusted proxy.
    ///
    /// Every `X-Forwarded-For` line and every `Forwarded` (RFC 7239) line is read, in
    /// order: a proxy that appends its own line leaves the client's lines before it,
    /// so reading only the first line would believe what the client wrote. When both
    /// headers are sent they must name the same client, and a hop that cannot be read
    /// (an obfuscated `for=_hidden`, garbage) ends what can be believed: either way the
    /// client is unknown, which is denied for controlled data.
    pub fn client_addr(&self, peer: IpAddr, forwarding: &Forwarding<'_>) -> ClientAddr {
        if !self.trusted(peer) {
            return ClientAddr::Known(peer);
        }
        let xff = (!forwarding.x_forwarded_for.is_empty()).then(|| {
            let hops = forwarding
                .x_forwarded_for
                .iter()
                .flat_map(|line| line.split(','))
                .map(|h| h.trim().parse::<IpAddr>().ok());
            self.walk(peer, hops.collect())
        });
        let fwd = (!forwarding.forwarded.is_empty()).then(|| {
            let hops = forwarding
                .forwarded
                .iter()
                .flat_map(|line| line.split(','))
                .map(forwarded_for);
            self.walk(peer, hops.collect())
        });
        let known = |c: ClientAddr| match c {
            ClientAddr::Known(a) => Some(a),
            ClientAddr::Unknown { .. } => None,
        };
        match (xff, fwd) {
            (None, None) => ClientAddr::Known(peer),
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) if a == b => a,
            (Some(a), Some(b)) => ClientAddr::Unknown {
                why: "the X-Forwarded-For and Forwarded headers name different clients",
                claimed: [known(a), known(b)],
            },
        }
    }

    /// Walks a chain from the right: trusted proxies are skipped, the first other
    /// address is the client. A chain of only trusted proxies names its left-most.
    fn walk(&self, peer: IpAddr, hops: Vec<Option<IpAddr>>) -> ClientAddr {
        let mut addr = peer;
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop else {
                // Every hop to its right is a trusted proxy's: what it wrote cannot be
                // read, and nothing the client sent is believed past it.
                return ClientAddr::Unknown {
                    why: "a forwarding header has a hop that is not an IP address",
                    claimed: [None, None],
                };
            };
            addr = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        ClientAddr::Known(addr)
    }

    /// Where a request comes from: the client's country, or unknown when its address
    /// cannot be believed.
    pub fn place(&self, peer: IpAddr, forwarding: &Forwarding<'_>) -> Located {
        match self.client_addr(peer, forwarding) {
            ClientAddr::Known(addr) => self.locate(addr),
            ClientAddr::Unknown { why, claimed } => {
                tracing::warn!(%peer, why, "client address unknown");
                let claimed: Vec<IpAddr> = claimed.iter().flatten().copied().collect();
                Located {
                    addr: peer,
                    country: None,
                    source: "forwarding-unreadable",
                    counted_as: if claimed.is_empty() {
                        vec![peer]
                    } else {
                        claimed
                    },
                }
            }
        }
    }

    /// The country of an address.
    pub fn locate(&self, addr: IpAddr) -> Located {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        if let Some((_, c)) = self.ranges.iter().find(|(n, _)| n.contains(&addr)) {
            return Located {
                addr,
                country: Some(*c),
                source: "ranges",
                counted_as: vec![addr],
            };
        }
        if let Some(db) = &self.geoip {
            let code = db
                .lookup::<maxminddb::geoip2::Country>(addr)
                .ok()
                .flatten()
                .and_then(|c| c.country.and_then(|c| c.iso_code))
                .and_then(Country::parse);
            if let Some(c) = code {
                return Located {
                    addr,
                    country: Some(c),
                    source: "geoip",
                    counted_as: vec![addr],
                };
            }
        }
        Located {
            addr,
            country: None,
            source: "none",
            counted_as: vec![addr],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(ranges: &str, proxies: &[&str]) -> Locator {
        Locator {
            ranges: parse_ranges(Path::new("r.csv"), ranges).unwrap(),
            geoip: None,
            proxies: proxies.iter().map(|p| parse_net(p).unwrap()).collect(),
        }
    }

    #[test]
    fn the_longest_prefix_wins_and_unknown_stays_unknown() {
        let l = loc(
            "cidr,country\n127.0.0.0/8,US\n127.0.0.5/32,CN\n# vpn\n10.0.0.0/8,GB\n",
            &[],
        );
        let c = |a: &str| l.locate(a.parse().unwrap()).country.map(|c| c.to_string());
        assert_eq!(c("127.0.0.1").as_deref(), Some("US"));
        assert_eq!(c("127.0.0.5").as_deref(), Some("CN"));
        assert_eq!(c("10.1.2.3").as_deref(), Some("GB"));
        assert_eq!(c("192.0.2.1"), None);
        assert_eq!(c("::ffff:127.0.0.5").as_deref(), Some("CN"));
    }

    #[test]
    fn bad_ranges_name_the_line() {
        for (text, want) in [
            ("10.0.0.0/8", "comma"),
            ("10.0.0.0/33,US", "not a CIDR"),
            ("10.0.0.0/8,XX", "country code"),
            ("10.0.0.0/8,usa", "country code"),
        ] {
            let e = parse_ranges(Path::new("r.csv"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 1") && e.contains(want), "{text}: {e}");
        }
    }

    fn client(l: &Locator, peer: &str, xff: &[&str], fwd: &[&str]) -> String {
        let f = Forwarding {
            x_forwarded_for: xff.to_vec(),
            forwarded: fwd.to_vec(),
        };
        match l.client_addr(peer.parse().unwrap(), &f) {
            ClientAddr::Known(a) => a.to_string(),
            ClientAddr::Unknown { .. } => "unknown".into(),
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let l = loc("", &["127.0.0.1/32", "10.0.0.0/8"]);
        let a = |peer: &str, xff: &[&str]| client(&l, peer, xff, &[]);
        assert_eq!(a("192.0.2.9", &["203.0.113.7"]), "192.0.2.9");
        assert_eq!(a("127.0.0.1", &["203.0.113.7"]), "203.0.113.7");
        // A client cannot prepend a fake hop: the right-most untrusted entry wins.
        assert_eq!(
            a("127.0.0.1", &["1.2.3.4, 203.0.113.7, 10.1.1.1"]),
            "203.0.113.7"
        );
        assert_eq!(a("127.0.0.1", &[]), "127.0.0.1");
        // Only trusted hops: the left-most of them.
        assert_eq!(a("127.0.0.1", &["10.9.9.9, 10.1.1.1"]), "10.9.9.9");
    }

    #[test]
    fn every_forwarded_for_line_is_read_and_the_proxys_line_wins() {
        let l = loc("", &["127.0.0.1/32"]);
        // The client sent its own line; the proxy appended a second one.
        assert_eq!(
            client(&l, "127.0.0.1", &["198.51.100.1", "203.0.113.7"], &[]),
            "203.0.113.7"
        );
        assert_eq!(
            client(
                &l,
                "127.0.0.1",
                &["198.51.100.1, 198.51.100.2", "203.0.113.7"],
                &[]
            ),
            "203.0.113.7"
        );
    }

    #[test]
    fn forwarded_rfc7239_is_read_like_x_forwarded_for() {
        let l = loc("", &["127.0.0.1/32", "10.0.0.0/8"]);
        let f = |fwd: &[&str]| client(&l, "127.0.0.1", &[], fwd);
        assert_eq!(f(&["for=203.0.113.7"]), "203.0.113.7");
        assert_eq!(f(&["for=\"203.0.113.7:4711\";proto=https"]), "203.0.113.7");
        assert_eq!(f(&["For=\"[2001:db8::7]:4711\""]), "2001:db8::7");
        assert_eq!(f(&["for=\"[2001:db8::7]\""]), "2001:db8::7");
        assert_eq!(
            f(&[
                "for=198.51.100.1",
                "for=203.0.113.7;by=10.0.0.1, for=10.2.2.2"
            ]),
            "203.0.113.7"
        );
        // Obfuscated or missing identifiers cannot be believed.
        assert_eq!(f(&["for=_hidden"]), "unknown");
        assert_eq!(f(&["for=unknown"]), "unknown");
        assert_eq!(f(&["proto=https"]), "unknown");
    }

    #[test]
    fn unreadable_or_conflicting_chains_leave_the_client_unknown() {
        let l = loc("", &["127.0.0.1/32"]);
        assert_eq!(client(&l, "127.0.0.1", &["garbage"], &[]), "unknown");
        assert_eq!(
            client(&l, "127.0.0.1", &["203.0.113.7, nonsense"], &[]),
            "unknown"
        );
        assert_eq!(
            client(&l, "127.0.0.1", &["203.0.113.7"], &["for=198.51.100.1"]),
            "unknown"
        );
        assert_eq!(
            client(&l, "127.0.0.1", &["203.0.113.7"], &["for=203.0.113.7"]),
            "203.0.113.7"
        );
        // From an untrusted peer nothing in the headers matters.
        assert_eq!(
            client(&l, "192.0.2.9", &["garbage"], &["for=x"]),
            "192.0.2.9"
        );
        let placed = l.place(
            "127.0.0.1".parse().unwrap(),
            &Forwarding {
                x_forwarded_for: vec!["garbage"],
                forwarded: vec![],
            },
        );
        assert_eq!(
            (placed.country, placed.source),
            (None, "forwarding-unreadable")
        );
        // An unreadable hop written by the proxy: the proxy's allowance is all there is.
        assert_eq!(
            placed.counted_as,
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        // Conflicting headers: failures count against both clients they name, never
        // against the proxy that every other client shares.
        let placed = l.place(
            "127.0.0.1".parse().unwrap(),
            &Forwarding {
                x_forwarded_for: vec!["203.0.113.7"],
                forwarded: vec!["for=198.51.100.1"],
            },
        );
        assert_eq!(placed.source, "forwarding-unreadable");
        assert_eq!(
            placed.counted_as,
            ["203.0.113.7", "198.51.100.1"]
                .map(|a| a.parse::<IpAddr>().unwrap())
                .to_vec()
        );
    }
}
