//! The inventory (spec edition 2026-12-02): who has access, where systems and data
//! live, who operates them, which vendors and AI tools touch them.
//!
//! The JSON Schema in `docs/inventory.schema.json` is generated from these types and
//! is what the loader enforces, so the documented contract and the checked one cannot
//! drift apart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A calendar date, `YYYY-MM-DD`.
pub type Date = String;
/// An ISO 3166-1 alpha-2 country code.
pub type CountryCode = String;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "itarvault assessment inventory")]
pub struct Inventory {
    pub organization: Organization,
    #[serde(default)]
    pub people: Vec<Person>,
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
    #[serde(default)]
    pub systems: Vec<System>,
    #[serde(default)]
    pub vendors: Vec<Vendor>,
    #[serde(default)]
    pub ai_tools: Vec<AiTool>,
    #[serde(default)]
    pub incidents: Vec<Incident>,
    /// Who vouches for the checklist items no inventory fact can prove.
    #[serde(default)]
    pub attestations: Vec<Attestation>,
    /// Accepted risks: a finding that is excepted stays in the report, marked.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    /// The date the assessment is made for (default: today).
    #[schemars(extend("format" = "date"))]
    pub as_of: Option<Date>,
    /// What the organisation does with defense articles and services. Registration with
    /// DDTC is required of manufacturers and exporters (22 CFR 122.1) and brokers
    /// (22 CFR 129.3), not of a service provider; absent: not recorded.
    pub activities: Option<Vec<Activity>>,
    /// Registered with DDTC (22 CFR part 122).
    pub ddtc_registered: Option<bool>,
    #[schemars(extend("format" = "date"))]
    pub ddtc_registration_expires: Option<Date>,
    pub residency_mode: Option<ResidencyMode>,
    /// The technology control program.
    pub tcp: Option<Tcp>,
    pub cmmc: Option<Cmmc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Manufacturer,
    Exporter,
    Broker,
    ServiceProvider,
}

impl Activity {
    /// Whether the activity needs DDTC registration (22 CFR 122.1(a), 129.3).
    pub fn needs_registration(self) -> bool {
        matches!(self, Self::Manufacturer | Self::Exporter | Self::Broker)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResidencyMode {
    UsOnly,
    CarveOut,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    pub documented: bool,
    #[schemars(extend("format" = "date"))]
    pub last_reviewed: Option<Date>,
    /// Controlled data has been identified and labelled.
    pub data_classified: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cmmc {
    /// 0 when no DoD contract requires CMMC.
    #[schemars(range(max = 3))]
    pub level_required: u8,
    pub status: CmmcStatus,
    #[schemars(range(min = -203, max = 110))]
    pub sprs_score: Option<i16>,
    #[schemars(extend("format" = "date"))]
    pub assessed: Option<Date>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CmmcStatus {
    None,
    #[serde(rename = "self")]
    SelfAssessed,
    Conditional,
    Final,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    UsCitizen,
    UsNational,
    PermanentResident,
    ProtectedIndividual,
    ForeignPerson,
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: String,
    /// Legal name, for restricted-party screening.
    pub name: Option<String>,
    pub role: Option<String>,
    pub person_status: PersonStatus,
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[A-Z]{2}$"}))]
    pub citizenships: Vec<CountryCode>,
    /// Citizenships once held: the ITAR attributes them like current ones (22 CFR
    /// 120.50(b)).
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[A-Z]{2}$"}))]
    pub former_citizenships: Vec<CountryCode>,
    /// A foreign person's country of permanent residence.
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub permanent_residence: Option<CountryCode>,
    /// Where the person works and receives data: decrypting abroad is an export, even
    /// for a US person (22 CFR 120.56(a)(4)).
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub work_country: CountryCode,
    /// System ids.
    #[serde(default)]
    pub access: Vec<String>,
    /// Administers the systems in `access`.
    #[serde(default)]
    pub privileged: bool,
    /// Nationality / US-person status verified on this date.
    #[schemars(extend("format" = "date"))]
    pub screened: Option<Date>,
    /// Export-control training.
    #[schemars(extend("format" = "date"))]
    pub trained: Option<Date>,
    /// Ids from `authorizations`.
    #[serde(default)]
    pub authorizations: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AuthorizationType {
    #[serde(rename = "DSP-5")]
    Dsp5,
    #[serde(rename = "DSP-61")]
    Dsp61,
    #[serde(rename = "DSP-73")]
    Dsp73,
    #[serde(rename = "DSP-85")]
    Dsp85,
    #[serde(rename = "TAA")]
    Taa,
    #[serde(rename = "MLA")]
    Mla,
    #[serde(rename = "WDA")]
    Wda,
    #[serde(rename = "exemption")]
    Exemption,
    #[serde(rename = "EAR-license")]
    EarLicense,
    #[serde(rename = "EAR-exception")]
    EarException,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AuthorizationType,
    /// With type `exemption`: the section claimed (`125.4(b)(9)`, `126.18`, `126.5`).
    pub exemption: Option<String>,
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[A-Z]{2}$"}))]
    pub countries: Vec<CountryCode>,
    #[serde(default)]
    pub usml_categories: Vec<String>,
    #[serde(default)]
    pub eccns: Vec<String>,
    #[schemars(extend("format" = "date"))]
    pub valid_from: Option<Date>,
    /// Required: an authorization without an end date cannot be checked (fail closed).
    #[schemars(extend("format" = "date"))]
    pub expires: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    Application,
    Storage,
    CloudTenant,
    Endpoint,
    Network,
    Collaboration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Aws,
    Azure,
    Gcp,
    M365,
    GoogleWorkspace,
    #[serde(rename = "self")]
    SelfHosted,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Govcloud,
    AzureGovernment,
    GccHigh,
    Commercial,
    OnPrem,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub id: String,
    pub kind: SystemKind,
    /// The most sensitive data it holds (labels.md); empty when none is controlled.
    #[serde(default)]
    pub labels: Vec<String>,
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub location_country: Option<CountryCode>,
    pub provider: Option<Provider>,
    pub environment: Option<Environment>,
    #[serde(default)]
    pub data_regions: Vec<String>,
    pub encryption: Option<Encryption>,
    pub remote_access: Option<RemoteAccess>,
    pub provider_support_access: Option<SupportAccess>,
    pub audit_logging: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    pub at_rest: AtRest,
    pub in_transit: InTransit,
    pub keys: KeyCustody,
    #[serde(default)]
    pub end_to_end: bool,
    /// The FIPS 140 standard the module is validated against. The CMVP moves every
    /// FIPS 140-2 certificate to its Historical list on 2026-09-21.
    pub fips_standard: Option<FipsStandard>,
    /// The CMVP certificate number.
    pub fips_certificate: Option<Certificate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FipsStandard {
    #[serde(rename = "140-3")]
    Fips140_3,
    #[serde(rename = "140-2")]
    Fips140_2,
    #[serde(rename = "none")]
    None,
}

/// A CMVP certificate number, quoted (`"4816"`) or not (`4816`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Certificate {
    Number(u64),
    Text(String),
}

impl std::fmt::Display for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AtRest {
    FipsValidated,
    NonFips,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InTransit {
    TlsFips,
    Tls,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyCustody {
    CustomerHsm,
    CustomerKms,
    ProviderManaged,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteAccess {
    pub enabled: bool,
    /// Empty: no geographic restriction.
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[A-Z]{2}$"}))]
    pub allowed_countries: Vec<CountryCode>,
    #[serde(default)]
    pub us_persons_only: bool,
    #[serde(default)]
    pub mfa: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportAccess {
    None,
    Lockbox,
    Standing,
}

/// `true`, `false` or `unknown` (which counts as a finding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Tristate {
    Known(bool),
    Unknown(UnknownWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownWord {
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    pub id: String,
    /// Legal name, for restricted-party screening.
    pub name: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
    /// System ids the vendor touches.
    #[serde(default)]
    pub systems: Vec<String>,
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub ownership_country: Option<CountryCode>,
    pub foreign_person_access: Tristate,
    pub offshore_support: Tristate,
    pub itar_contract_clause: Tristate,
    pub flows_down_to_subcontractors: Tristate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAccess {
    None,
    Lockbox,
    Standing,
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiTool {
    pub id: String,
    pub provider: Option<Provider>,
    pub environment: Option<Environment>,
    #[serde(default)]
    pub data_regions: Vec<String>,
    pub processes_controlled_data: Tristate,
    #[serde(default)]
    pub approved_for_controlled_data: bool,
    pub operator_access: OperatorAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    None,
    Initial,
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub id: String,
    #[schemars(extend("format" = "date"))]
    pub discovered: Date,
    pub summary: Option<String>,
    /// Countries the incident involves. A 126.1 country makes disclosure mandatory and
    /// immediate (22 CFR 126.1(e)(2)).
    #[serde(default)]
    #[schemars(extend("items" = {"type": "string", "pattern": "^[A-Z]{2}$"}))]
    pub countries: Vec<CountryCode>,
    pub voluntary_disclosure: Disclosure,
    #[schemars(extend("format" = "date"))]
    pub disclosure_date: Option<Date>,
}

/// A person's statement that a MANUAL checklist item is met (training content, contract
/// terms). It satisfies the item until it expires, and no longer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub id: String,
    /// A checklist item id (`itarvault assess --list-checklist`).
    pub item: String,
    /// Who attests, by name and role.
    pub by: String,
    #[schemars(extend("format" = "date"))]
    pub date: Date,
    #[schemars(extend("format" = "date"))]
    pub expires: Date,
    pub statement: String,
    /// Where the supporting evidence is kept.
    pub evidence: Option<String>,
}

/// An accepted risk: the findings of `rule` (for `subject`, or every subject when it is
/// omitted) stop counting against the checklist until `expires`, and stay listed with
/// the exception's reason and approver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub id: String,
    /// A rule id (`itarvault assess --list-rules`).
    pub rule: String,
    /// `list/id` (`vendors/msp1`) or `organization`; omitted: every subject of the rule.
    pub subject: Option<String>,
    pub reason: String,
    pub approver: String,
    #[schemars(extend("format" = "date"))]
    pub approved: Option<Date>,
    #[schemars(extend("format" = "date"))]
    pub expires: Date,
}

/// The JSON Schema of the inventory (draft 2020-12).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Inventory)).unwrap_or_default()
}
