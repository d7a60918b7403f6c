//! The server's configuration: a TOML file whose every key is documented here and in
//! `docs/config.md`. Unknown keys are errors: a typo must not silently weaken a control.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use itarvault_policy::data::Country;
pub use itarvault_policy::ResidencyMode;
use serde::Deserialize;

/// Everything `itarvault server` can be told. All keys are optional; the defaults make a
/// single-machine server with TLS on, a US-only residency mode and a local backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the server keeps its state: metadata database, blobs, keystore, audit log,
    /// TLS material. Created on first start (mode 0700).
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    pub location: LocationConfig,
    pub residency: ResidencyConfig,
    /// Storage backends for ciphertext. Default: one `local` backend under
    /// `data_dir/blobs`, declared in the US and operated by the organisation.
    pub backends: Vec<BackendConfig>,
    pub audit: AuditConfig,
    pub limits: LimitsConfig,
    /// Cedar organisation policies (files or directories of `*.cedar`) that narrow the
    /// regulatory floor for every decision the server makes.
    pub policies: Vec<PathBuf>,
    /// OIDC issuers whose bearer JWTs identify principals.
    pub oidc: Vec<OidcConfig>,
    pub lockbox: LockboxConfig,
    pub quorum: QuorumConfig,
    pub scan: ScanConfig,
    /// The CMVP certificate number of the FIPS 140-3 module this build links (AWS-LC
    /// FIPS), as the evidence pack of `itarvault assess --vault --evidence` reports it.
    /// The number comes from the module's validation, not from the code: record it here.
    pub fips_certificate: Option<String>,
}

/// The content check every upload passes as it streams through (the rules and the
/// extraction of `itarvault scan`). A classification banner is always refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// What happens to an upload whose content implies a more restrictive label than
    /// the one it was given (content marked USML Category XI uploaded as EAR99).
    pub on_mismatch: OnMismatch,
    /// Plaintext one upload's check may hold in memory, in bytes (zip archives and PDFs
    /// are buffered whole: their index is at the end). Never on disk. A container over
    /// it cannot be checked: refused under EAR99 and PUBLIC, stored and noted under an
    /// ITAR or EAR label.
    pub memory_budget: usize,
    /// Containers opened inside one another (a zip in a docx in a tar.gz is 3).
    pub max_depth: u32,
}

impl Default for ScanConfig {
    fn default() -> Self {
        let budget = itarvault_scan::Budget::default();
        Self {
            on_mismatch: OnMismatch::default(),
            memory_budget: budget.memory,
            max_depth: budget.depth,
        }
    }
}

impl ScanConfig {
    /// The extraction budget of one upload.
    pub fn budget(&self) -> itarvault_scan::Budget {
        itarvault_scan::Budget {
            memory: self.memory_budget,
            depth: self.max_depth,
            ..itarvault_scan::Budget::default()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnMismatch {
    /// Refuse the upload (HTTP 422); nothing is stored.
    #[default]
    Reject,
    /// Store it under the given label and record the mismatch in its audit record.
    Flag,
}

/// Access requests: how long grants last and how many owners approve one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockboxConfig {
    /// Longest grant an approval gives, in hours.
    pub max_grant_hours: u32,
    /// Hours an undecided request waits before it lapses.
    pub pending_hours: u32,
    /// Distinct owners (never the requester) who must approve a request.
    pub approvals_required: u32,
    /// Where to POST a JSON notification of every request, proposal and decision
    /// (`https://`, or `http://` to a loopback address).
    pub webhook_url: Option<String>,
}

impl Default for LockboxConfig {
    fn default() -> Self {
        Self {
            max_grant_hours: 8,
            pending_hours: 96,
            approvals_required: 1,
            webhook_url: None,
        }
    }
}

/// The quorum (M of N) that dangerous operations need.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuorumConfig {
    /// The N principals who may approve. Empty: no dangerous operation can run.
    pub approvers: Vec<String>,
    /// M: distinct approvers, never counting the proposer.
    pub required: u32,
    /// Hours within which all M approvals must arrive.
    pub window_hours: u32,
    /// Also require the quorum to register any principal, not only administrators:
    /// whoever registers a US person creates someone the export decision will allow.
    pub principals: bool,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        Self {
            approvers: Vec::new(),
            required: 2,
            window_hours: 24,
            principals: false,
        }
    }
}

/// An OIDC issuer. Its tokens name a principal of the registry; the person's
/// export-control facts come from the registry unless `trusted_for_person_facts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Exact `iss` value.
    pub issuer: String,
    /// Required `aud` value.
    pub audience: String,
    /// The issuer's JWKS as a file...
    pub jwks_file: Option<PathBuf>,
    /// ...or as an HTTPS URL (fetched at start and every 10 minutes).
    pub jwks_url: Option<String>,
    /// The claim that holds the principal id.
    #[serde(default = "default_principal_claim")]
    pub principal_claim: String,
    /// Take `person_status` and `citizenships` from the token's claims instead of the
    /// registry. Only for an identity provider that screens nationality itself.
    #[serde(default)]
    pub trusted_for_person_facts: bool,
}

fn default_principal_claim() -> String {
    "sub".into()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("itarvault-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls: TlsConfig::default(),
            location: LocationConfig::default(),
            residency: ResidencyConfig::default(),
            backends: Vec::new(),
            audit: AuditConfig::default(),
            limits: LimitsConfig::default(),
            policies: Vec::new(),
            oidc: Vec::new(),
            lockbox: LockboxConfig::default(),
            quorum: QuorumConfig::default(),
            scan: ScanConfig::default(),
            fips_certificate: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Without it the server generates a self-signed certificate
    /// in `data_dir/tls/` on first start (development only) and prints its fingerprint.
    pub cert_file: Option<PathBuf>,
    /// PEM private key for `cert_file` (must be mode 0600).
    pub key_file: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS. Refused unless `listen` is a loopback
    /// address: for a local reverse proxy that terminates TLS, never for a network.
    pub insecure_http: bool,
    /// PEM CA certificates that issue client certificates (CAC/PIV or an internal CA).
    /// With it, a client may authenticate with a certificate instead of a token.
    pub client_ca_file: Option<PathBuf>,
    /// Which certificate field names the principal: `cn` (subject common name) or
    /// `email` (the first rfc822Name subject alternative name). The principal must also
    /// be bound to the certificate (its SHA-256 or a SAN): a name alone is not enough.
    pub client_cert_principal: CertField,
    /// PEM certificate revocation lists of the client CA: a revoked client certificate
    /// is refused in the handshake. Not a quorum setting (it only narrows access).
    pub client_crl_files: Vec<PathBuf>,
}

/// A certificate field that names a principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertField {
    #[default]
    Cn,
    Email,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocationConfig {
    /// CSV of the organisation's own ranges, `cidr,country` per line (sites, VPN pools).
    /// Takes precedence over the GeoIP database.
    pub ranges_file: Option<PathBuf>,
    /// A country database in the MaxMind DB format (GeoLite2-Country, DB-IP, IPinfo).
    pub geoip_db: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs). From anyone else the header
    /// is ignored.
    pub trusted_proxies: Vec<String>,
}

/// Where the organisation lets ciphertext be stored: `us_only` (the default) or
/// `carve_out` (abroad too, under 22 CFR 120.54(a)(5), never in a proscribed country).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResidencyConfig {
    pub mode: ResidencyMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Name stored with each object; buckets choose a backend by name.
    pub name: String,
    /// `local` (a directory). S3-compatible and cloud backends come with their own kinds.
    pub kind: String,
    /// For `local`: the directory (relative paths are under `data_dir`).
    pub path: Option<PathBuf>,
    /// ISO 3166-1 code of the country where the data physically is.
    pub country: Country,
    /// Who operates the storage (`self`, or the provider's name): recorded as evidence
    /// that no third party holds keys, since only ciphertext reaches it.
    pub operator: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between signed checkpoints while records are being written.
    pub checkpoint_interval_secs: u64,
    /// Where the trail's signed heads are witnessed, outside the data directory. Without
    /// a witness, whoever holds this host can roll the log and its head back together
    /// unseen.
    pub witness: Option<WitnessConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_secs: 60,
            witness: None,
        }
    }
}

/// The audit witness: exactly one of `dir` and `url`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessConfig {
    /// An append-only directory outside the data directory, on a mount this host can
    /// add files to but not rewrite (another machine's export, a WORM or `chattr +a`
    /// directory owned by someone else).
    pub dir: Option<PathBuf>,
    /// A witness service on another host (`itarvault witness serve`): `https://`, or
    /// `http://` to a loopback address.
    pub url: Option<String>,
    /// PEM certificates to trust for `url` (the service's own, when self-signed).
    pub ca_file: Option<PathBuf>,
    /// While records arrive, the head is sent at least this often (every checkpoint's
    /// head is sent at once).
    pub interval_secs: u64,
    /// When the witness has not taken the trail's newest head for this long, the server
    /// refuses operations (HTTP 503) until it does: a trail the witness cannot see can
    /// be cut unseen.
    pub max_lag_secs: u64,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        Self {
            dir: None,
            url: None,
            ca_file: None,
            interval_secs: 10,
            max_lag_secs: 300,
        }
    }
}

impl WitnessConfig {
    /// Checks what can be checked without touching the system; `data_dir` is where the
    /// witness must not be.
    fn validate(&self, data_dir: &Path) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        match (&self.dir, &self.url) {
            (Some(_), Some(_)) | (None, None) => {
                return bad("`audit.witness` needs exactly one of `dir` and `url`".into())
            }
            (Some(dir), None) => {
                if within(dir, data_dir) {
                    return bad(format!(
                        "`audit.witness.dir` `{}` is inside the data directory `{}`\na witness must be somewhere this host cannot rewrite: another mount or another machine",
                        dir.display(),
                        data_dir.display()
                    ));
                }
            }
            (None, Some(url)) => {
                if !(url.starts_with("https://") || loopback_http(url)) {
                    return bad(format!(
                        "`audit.witness.url` `{url}` must be an https:// URL, or http:// to 127.0.0.1, [::1] or localhost"
                    ));
                }
            }
        }
        if self.interval_secs == 0 || self.max_lag_secs <= self.interval_secs {
            return bad(format!(
                "`audit.witness.interval_secs` ({}) must be at least 1 and less than `max_lag_secs` ({})",
                self.interval_secs, self.max_lag_secs
            ));
        }
        Ok(())
    }
}

/// Whether `path` lies inside `dir`, comparing absolute forms (resolved through
/// symbolic links where they exist).
fn within(path: &Path, dir: &Path) -> bool {
    let abs = |p: &Path| {
        p.canonicalize().unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|c| c.join(p))
                .unwrap_or_else(|_| p.to_owned())
        })
    };
    abs(path).starts_with(abs(dir))
}

/// Longest span an hours setting (grant, pending request, quorum window) may give: a
/// year. Dates computed from requests and these settings then stay in the calendar.
pub const MAX_HOURS: u32 = 24 * 365;
/// Longest token lifetime the config may allow: ten years.
pub const MAX_TOKEN_DAYS: u32 = 3650;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest object accepted, in bytes.
    pub max_object_bytes: u64,
    /// Longest object key, in bytes.
    pub max_key_bytes: usize,
    /// Most objects one list call returns.
    pub max_list: usize,
    /// Longest lifetime of an API token, in days.
    pub max_token_days: u32,
    /// A request body that sends nothing for this long is cut off (408).
    pub body_idle_secs: u64,
    /// A request body slower than this on average, once the server has waited
    /// `body_idle_secs` for it in all, is cut off (408). 0 turns the check off.
    pub body_min_bytes_per_sec: u64,
    /// Uploads running at once, in total; more get 503 with `Retry-After`.
    pub max_uploads: usize,
    /// Uploads one principal may run at once; more get 429 with `Retry-After`.
    pub max_uploads_per_principal: usize,
    /// Failed authentications one client address may make per minute; more are
    /// refused (429) without checking the credential, and counted rather than
    /// recorded one by one in the audit log.
    pub auth_failures_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_object_bytes: 64 << 30,
            max_key_bytes: 1024,
            max_list: 1000,
            max_token_days: 365,
            body_idle_secs: 30,
            body_min_bytes_per_sec: 1024,
            max_uploads: 64,
            max_uploads_per_principal: 8,
            auth_failures_per_minute: 30,
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file `{0}`: {1}")]
    Parse(PathBuf, String),
    #[error("config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e.to_string()))
    }

    /// The backends, with the default local one when none is configured.
    pub fn effective_backends(&self) -> Vec<BackendConfig> {
        if self.backends.is_empty() {
            vec![BackendConfig {
                name: "local".into(),
                kind: "local".into(),
                path: Some(PathBuf::from("blobs")),
                country: Country::US,
                operator: "self".into(),
            }]
        } else {
            self.backends.clone()
        }
    }

    /// A path from the config, relative to the data directory when not absolute.
    pub fn in_data_dir(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.data_dir.join(p)
        }
    }

    /// Checks what can be checked without touching the system.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls.insecure_http && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "`tls.insecure_http` is only allowed on a loopback address, not `{}`\nserve HTTPS, or listen on 127.0.0.1 behind a TLS-terminating proxy",
                self.listen
            )));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "`tls.cert_file` and `tls.key_file` go together\nset both, or neither for a generated development certificate".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for b in &self.backends {
            if !names.insert(b.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "backend `{}` is declared twice",
                    b.name
                )));
            }
            if b.kind != "local" {
                return Err(ConfigError::Invalid(format!(
                    "backend `{}`: kind `{}` is not supported by this build (supported: local)",
                    b.name, b.kind
                )));
            }
        }
        if !self.tls.client_crl_files.is_empty() && self.tls.client_ca_file.is_none() {
            return Err(ConfigError::Invalid(
                "`tls.client_crl_files` needs `tls.client_ca_file` (the CA whose revocations they list)".into(),
            ));
        }
        if self.tls.insecure_http && self.tls.client_ca_file.is_some() {
            return Err(ConfigError::Invalid(
                "client certificates (`tls.client_ca_file`) need TLS; remove `insecure_http`"
                    .into(),
            ));
        }
        if !(1..=MAX_HOURS).contains(&self.lockbox.max_grant_hours)
            || !(1..=MAX_HOURS).contains(&self.lockbox.pending_hours)
            || self.lockbox.approvals_required == 0
        {
            return Err(ConfigError::Invalid(format!(
                "`lockbox.max_grant_hours` and `lockbox.pending_hours` must be 1 to {MAX_HOURS} (a year), and `lockbox.approvals_required` at least 1"
            )));
        }
        if !(1..=MAX_TOKEN_DAYS).contains(&self.limits.max_token_days) || self.limits.max_list == 0
        {
            return Err(ConfigError::Invalid(format!(
                "`limits.max_token_days` must be 1 to {MAX_TOKEN_DAYS} (ten years) and `limits.max_list` at least 1"
            )));
        }
        if let Some(u) = &self.lockbox.webhook_url {
            check_webhook(u)?;
        }
        let l = &self.limits;
        if !(1..=3600).contains(&l.body_idle_secs)
            || l.max_uploads == 0
            || l.max_uploads_per_principal == 0
            || l.auth_failures_per_minute == 0
        {
            return Err(ConfigError::Invalid(
                "`limits.body_idle_secs` must be 1 to 3600, and `limits.max_uploads`, `limits.max_uploads_per_principal` and `limits.auth_failures_per_minute` at least 1".into(),
            ));
        }
        if !self.quorum.approvers.is_empty() {
            let distinct: std::collections::BTreeSet<_> = self.quorum.approvers.iter().collect();
            if distinct.len() != self.quorum.approvers.len() {
                return Err(ConfigError::Invalid(
                    "`quorum.approvers` names someone twice".into(),
                ));
            }
            // Every proposer may be an approver too, and never counts: M < N.
            if self.quorum.required == 0
                || self.quorum.required as usize >= self.quorum.approvers.len()
            {
                return Err(ConfigError::Invalid(format!(
                    "`quorum.required` is {} with {} approvers; it must be at least 1 and less than the number of approvers, so that a proposer who is an approver still needs others",
                    self.quorum.required,
                    self.quorum.approvers.len()
                )));
            }
        }
        if !(1..=MAX_HOURS).contains(&self.quorum.window_hours) {
            return Err(ConfigError::Invalid(format!(
                "`quorum.window_hours` must be 1 to {MAX_HOURS} (a year)"
            )));
        }
        if !(1 << 20..=4 << 30).contains(&self.scan.memory_budget)
            || !(1..=16).contains(&self.scan.max_depth)
        {
            return Err(ConfigError::Invalid(format!(
                "`scan.memory_budget` must be 1 MiB to 4 GiB (it is {} bytes) and `scan.max_depth` 1 to 16 (it is {})",
                self.scan.memory_budget, self.scan.max_depth
            )));
        }
        if self.audit.checkpoint_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "`audit.checkpoint_interval_secs` must be at least 1".into(),
            ));
        }
        if let Some(w) = &self.audit.witness {
            w.validate(&self.data_dir)?;
        }
        Ok(())
    }
}

/// A webhook gets request details (who asks for what), so it must not travel in clear
/// over a network.
fn check_webhook(u: &str) -> Result<(), ConfigError> {
    // A webhook URL often carries its credential in the path (chat webhooks): the
    // message names only the scheme and host.
    let shown = u.split('/').take(3).collect::<Vec<_>>().join("/");
    let bad = || {
        ConfigError::Invalid(format!(
            "`lockbox.webhook_url` `{shown}/...` must be an https:// URL, or http:// to 127.0.0.1, [::1] or localhost"
        ))
    };
    if u.starts_with("https://") {
        return Ok(());
    }
    if loopback_http(u) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// An `http://` URL to a loopback address.
fn loopback_http(u: &str) -> bool {
    let Some(rest) = u.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    ["127.0.0.1", "[::1]", "localhost"].contains(&host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(), String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())
    }

    #[test]
    fn a_webhook_never_travels_in_clear_over_a_network() {
        for ok in [
            "https://hooks.example.com/x",
            "http://127.0.0.1:9000/h",
            "http://localhost/h",
            "http://[::1]:80/h",
        ] {
            assert!(
                parse(&format!("[lockbox]\nwebhook_url = {ok:?}\n")).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://hooks.example.com/x",
            "http://127.0.0.1.evil.com/x",
            "ftp://127.0.0.1/x",
            "hooks.example.com",
        ] {
            let e = parse(&format!("[lockbox]\nwebhook_url = {bad:?}\n")).unwrap_err();
            assert!(e.contains("webhook_url"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_witness_is_outside_the_data_directory_and_one_place() {
        assert!(parse("data_dir = \"/srv/v\"\n[audit.witness]\ndir = \"/mnt/w\"\n").is_ok());
        assert!(parse("[audit.witness]\nurl = \"https://w.example.com\"\n").is_ok());
        for bad in [
            "data_dir = \"/srv/v\"\n[audit.witness]\ndir = \"/srv/v/witness\"\n",
            "[audit.witness]\n",
            "[audit.witness]\ndir = \"/mnt/w\"\nurl = \"https://w\"\n",
            "[audit.witness]\nurl = \"http://w.example.com\"\n",
            "[audit.witness]\ndir = \"/mnt/w\"\ninterval_secs = 30\nmax_lag_secs = 30\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("witness"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_quorum_always_needs_someone_besides_the_proposer() {
        assert!(parse("[quorum]\napprovers = [\"a\", \"b\"]\nrequired = 1\n").is_ok());
        for bad in [
            "[quorum]\napprovers = [\"a\", \"b\"]\nrequired = 2\n",
            "[quorum]\napprovers = [\"a\", \"b\"]\nrequired = 0\n",
            "[quorum]\napprovers = [\"a\", \"a\", \"b\"]\nrequired = 1\n",
            "[quorum]\nwindow_hours = 0\n",
            "[lockbox]\napprovals_required = 0\n",
            // Spans that would put a computed date past the calendar (issue 21).
            "[quorum]\nwindow_hours = 4294967295\n",
            "[lockbox]\nmax_grant_hours = 4294967295\n",
            "[lockbox]\npending_hours = 8761\n",
            "[limits]\nmax_token_days = 3651\n",
            "[limits]\nmax_list = 0\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
