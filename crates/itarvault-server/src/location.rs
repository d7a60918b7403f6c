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
    /// `ranges`, `geoip`, or `none`.
    pub source: &'static str,
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
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_addr(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        let Some(xff) = forwarded_for else {
            return peer;
        };
        let mut addr = peer;
        for hop in xff.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    addr = ip;
                    if !self.trusted(ip) {
                        break;
                    }
                }
                // An unparseable hop ends what can be believed.
                Err(_) => break,
            }
        }
        addr
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
                };
            }
        }
        Located {
            addr,
            country: None,
            source: "none",
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

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let l = loc("", &["127.0.0.1/32", "10.0.0.0/8"]);
        let a =
            |peer: &str, xff: Option<&str>| l.client_addr(peer.parse().unwrap(), xff).to_string();
        assert_eq!(a("192.0.2.9", Some("203.0.113.7")), "192.0.2.9");
        assert_eq!(a("127.0.0.1", Some("203.0.113.7")), "203.0.113.7");
        // A client cannot prepend a fake hop: the right-most untrusted entry wins.
        assert_eq!(
            a("127.0.0.1", Some("1.2.3.4, 203.0.113.7, 10.1.1.1")),
            "203.0.113.7"
        );
        assert_eq!(a("127.0.0.1", Some("garbage")), "127.0.0.1");
        assert_eq!(a("127.0.0.1", None), "127.0.0.1");
    }
}
