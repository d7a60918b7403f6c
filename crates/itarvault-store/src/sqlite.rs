//! The embedded metadata backend: one SQLite database in WAL mode with
//! `synchronous=FULL`, so that an acknowledged write survives a crash.
//!
//! Rows that hold documents (a principal's facts, an authorization, a lockbox record)
//! keep them as JSON with a format version `v`, migrated on read by [`crate::doc`].

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use itarvault_format::Label;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::doc;
use crate::meta::*;
use crate::{BlobId, StoreError};

/// Schema migrations, in order: entry `i` takes the database from version `i` to
/// `i + 1`. Never edit a released entry; append a new one. They run with foreign keys
/// off (so a table can be rebuilt) and are checked with `foreign_key_check` after.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE principals (
  id TEXT PRIMARY KEY,
  person_status TEXT NOT NULL,
  citizenships TEXT NOT NULL,
  permanent_residence TEXT,
  roles TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE TABLE authorizations (
  principal TEXT NOT NULL REFERENCES principals(id),
  id TEXT NOT NULL,
  body TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  added INTEGER NOT NULL,
  PRIMARY KEY (principal, id)
);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL REFERENCES principals(id),
  secret_hash BLOB NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE buckets (
  name TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  backend TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE objects (
  bucket TEXT NOT NULL REFERENCES buckets(name),
  key TEXT NOT NULL,
  blob TEXT NOT NULL,
  backend TEXT NOT NULL,
  label TEXT NOT NULL,
  size INTEGER NOT NULL,
  envelope_size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
);
CREATE INDEX objects_blob ON objects(backend, blob);
"#,
    r#"
ALTER TABLE buckets ADD COLUMN owners TEXT NOT NULL DEFAULT '[]';
CREATE TABLE lockbox (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  version INTEGER NOT NULL,
  created INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX lockbox_subject ON lockbox(kind, subject);
CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
"#,
    // 3: typed, versioned documents; object versions; a per-bucket version bound.
    r#"
CREATE TABLE principals_v3 (
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
INSERT INTO principals_v3 (id, body, disabled, created)
  SELECT id, json_object('v', 1, 'person_status', person_status,
    'citizenships', json(citizenships), 'former_citizenships', json('[]'),
    'permanent_residence', permanent_residence, 'roles', json(roles)), disabled, created
  FROM principals;
DROP TABLE principals;
ALTER TABLE principals_v3 RENAME TO principals;
UPDATE authorizations SET body = json_object('v', 1, 'authorization', json(body));
UPDATE lockbox SET body = json_object('v', 1, 'record', json(body));
ALTER TABLE buckets ADD COLUMN versions_kept INTEGER NOT NULL DEFAULT 10;
CREATE TABLE object_versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  bucket TEXT NOT NULL REFERENCES buckets(name),
  key TEXT NOT NULL,
  version TEXT NOT NULL UNIQUE,
  latest INTEGER NOT NULL,
  marker INTEGER NOT NULL,
  blob TEXT,
  backend TEXT,
  label TEXT,
  size INTEGER,
  envelope_size INTEGER,
  created INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  legacy INTEGER NOT NULL DEFAULT 0,
  binding TEXT
);
INSERT INTO object_versions (bucket, key, version, latest, marker, blob, backend, label,
    size, envelope_size, created, created_by, legacy)
  SELECT bucket, key, lower(hex(randomblob(10))), 1, 0, blob, backend, label, size,
    envelope_size, created, created_by, 1 FROM objects ORDER BY created;
DROP TABLE objects;
CREATE INDEX versions_latest ON object_versions(bucket, latest, key);
CREATE INDEX versions_key ON object_versions(bucket, key, seq);
CREATE INDEX versions_blob ON object_versions(backend, blob);
CREATE INDEX versions_legacy ON object_versions(legacy, seq);
ALTER TABLE tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access';
"#,
];

/// Metadata in a SQLite file.
#[derive(Debug)]
pub struct SqliteMetadata {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn ts(t: OffsetDateTime) -> i64 {
    // Nanoseconds fit an i64 until 2262.
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_ts(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn unique(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Exists(what())
        }
        other => other.into(),
    }
}

impl SqliteMetadata {
    /// Opens (creating if needed) the database at `path` and migrates it to the current
    /// schema. A database from a newer release is refused rather than misread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let current = MIGRATIONS.len() as i64;
        if version > current {
            return Err(StoreError::SchemaTooNew(path.to_owned(), version));
        }
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if let Some(table) = broken {
                return Err(StoreError::Corrupt(format!(
                    "migrating `{}` to schema {} left a dangling reference in table `{table}`",
                    path.display(),
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One row or none, through the statement cache: the hot lookups (token,
    /// principal, bucket, object) run on every request.
    fn one<R, T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        row: impl FnOnce(&Row<'_>) -> rusqlite::Result<R>,
        typed: impl FnOnce(R) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let found = {
            let db = self.db();
            let mut st = db.prepare_cached(sql)?;
            st.query_row(p, row).optional()?
        };
        found.map(typed).transpose()
    }

    /// Every row, each made typed.
    fn all<R, T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
        typed: impl FnMut(R) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let raw: Vec<R> = {
            let db = self.db();
            let mut st = db.prepare_cached(sql)?;
            let rows = st.query_map(p, row)?;
            rows.collect::<Result<_, _>>()?
        };
        raw.into_iter().map(typed).collect()
    }
}

/// The stored form of a principal's facts and roles.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalBody {
    person_status: itarvault_policy::PersonStatus,
    citizenships: Vec<itarvault_policy::data::Country>,
    former_citizenships: Vec<itarvault_policy::data::Country>,
    permanent_residence: Option<itarvault_policy::data::Country>,
    roles: Vec<Role>,
    #[serde(default)]
    bindings: Bindings,
}

const PRINCIPAL_BODY: u32 = 1;

struct RawPrincipal {
    id: String,
    body: String,
    disabled: bool,
    created: i64,
}

fn principal_row(r: &Row<'_>) -> rusqlite::Result<RawPrincipal> {
    Ok(RawPrincipal {
        id: r.get(0)?,
        body: r.get(1)?,
        disabled: r.get(2)?,
        created: r.get(3)?,
    })
}

fn principal_typed(raw: RawPrincipal) -> Result<PrincipalRecord, StoreError> {
    let what = || format!("principal `{}`", raw.id);
    let b: PrincipalBody = doc::decode(&raw.body, PRINCIPAL_BODY, &[], what)?;
    Ok(PrincipalRecord {
        id: raw.id,
        facts: PersonFacts {
            person_status: b.person_status,
            citizenships: b.citizenships,
            former_citizenships: b.former_citizenships,
            permanent_residence: b.permanent_residence,
        },
        roles: b.roles,
        bindings: b.bindings,
        disabled: raw.disabled,
        created: from_ts(raw.created),
    })
}

fn principal_body(p: &PrincipalRecord) -> Result<String, StoreError> {
    doc::encode(
        PRINCIPAL_BODY,
        &PrincipalBody {
            person_status: p.facts.person_status,
            citizenships: p.facts.citizenships.clone(),
            former_citizenships: p.facts.former_citizenships.clone(),
            permanent_residence: p.facts.permanent_residence,
            roles: p.roles.clone(),
            bindings: p.bindings.clone(),
        },
    )
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationBody {
    authorization: itarvault_policy::Authorization,
}

const AUTHORIZATION_BODY: u32 = 1;

type RawAuthorization = (String, String, String, bool, i64);

fn auth_row(r: &Row<'_>) -> rusqlite::Result<RawAuthorization> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn auth_typed(raw: RawAuthorization) -> Result<AuthorizationRecord, StoreError> {
    let (principal, id, body, revoked, added) = raw;
    let b: AuthorizationBody = doc::decode(&body, AUTHORIZATION_BODY, &[], || {
        format!("authorization `{id}` of `{principal}`")
    })?;
    if b.authorization.id != id {
        return Err(StoreError::Corrupt(format!(
            "authorization row `{id}` of `{principal}` holds authorization `{}`",
            b.authorization.id
        )));
    }
    Ok(AuthorizationRecord {
        principal,
        authorization: b.authorization,
        revoked,
        added: from_ts(added),
    })
}

const TOKEN_COLS: &str = "id, principal, secret_hash, created, expires, revoked, purpose";

fn token_row(r: &Row<'_>) -> rusqlite::Result<(TokenRecord, Vec<u8>, String)> {
    Ok((
        TokenRecord {
            id: r.get(0)?,
            principal: r.get(1)?,
            purpose: TokenPurpose::Access,
            secret_hash: [0; 32],
            created: from_ts(r.get(3)?),
            expires: r.get::<_, Option<i64>>(4)?.map(from_ts),
            revoked: r.get(5)?,
        },
        r.get(2)?,
        r.get(6)?,
    ))
}

fn token_typed(
    (mut t, hash, purpose): (TokenRecord, Vec<u8>, String),
) -> Result<TokenRecord, StoreError> {
    let damaged = |why: String| StoreError::Corrupt(format!("token `{}`: {why}", t.id));
    t.secret_hash = hash
        .as_slice()
        .try_into()
        .map_err(|_| damaged(format!("a {}-byte secret hash, not 32", hash.len())))?;
    t.purpose = match purpose.as_str() {
        "access" => TokenPurpose::Access,
        "enrollment" => TokenPurpose::Enrollment,
        other => return Err(damaged(format!("unknown purpose `{other}`"))),
    };
    Ok(t)
}

const BUCKET_COLS: &str = "name, key_id, backend, created, owners, versions_kept";

fn bucket_row(r: &Row<'_>) -> rusqlite::Result<(BucketRecord, String)> {
    Ok((
        BucketRecord {
            name: r.get(0)?,
            key_id: r.get(1)?,
            backend: r.get(2)?,
            created: from_ts(r.get(3)?),
            owners: Vec::new(),
            versions_kept: r.get(5)?,
        },
        r.get(4)?,
    ))
}

fn bucket_typed((mut b, owners): (BucketRecord, String)) -> Result<BucketRecord, StoreError> {
    b.owners = serde_json::from_str(&owners)
        .map_err(|e| StoreError::Corrupt(format!("bucket `{}` owners: {e}", b.name)))?;
    Ok(b)
}

const LOCKBOX_COLS: &str = "id, kind, subject, version, created, body";

fn lockbox_row(r: &Row<'_>) -> rusqlite::Result<(LockboxRecord, String, String)> {
    Ok((
        LockboxRecord {
            id: r.get(0)?,
            kind: LockboxKind::Access,
            subject: r.get(2)?,
            version: r.get(3)?,
            created: from_ts(r.get(4)?),
            body: serde_json::Value::Null,
        },
        r.get(1)?,
        r.get(5)?,
    ))
}

fn lockbox_typed(
    (mut rec, kind, body): (LockboxRecord, String, String),
) -> Result<LockboxRecord, StoreError> {
    rec.kind = match kind.as_str() {
        "access" => LockboxKind::Access,
        "quorum" => LockboxKind::Quorum,
        other => {
            return Err(StoreError::Corrupt(format!(
                "lockbox record `{}` has unknown kind `{other}`",
                rec.id
            )))
        }
    };
    rec.body = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("lockbox record `{}`: {e}", rec.id)))?;
    Ok(rec)
}

const VERSION_COLS: &str = "seq, bucket, key, version, marker, blob, backend, label, size, \
     envelope_size, created, created_by, legacy, binding";

/// A version row as stored, before its fields are checked.
struct RawVersion {
    seq: i64,
    bucket: String,
    key: String,
    version: String,
    marker: bool,
    blob: Option<String>,
    backend: Option<String>,
    label: Option<String>,
    size: Option<i64>,
    envelope_size: Option<i64>,
    created: i64,
    created_by: String,
    legacy: bool,
    binding: Option<String>,
}

fn version_row(r: &Row<'_>) -> rusqlite::Result<RawVersion> {
    Ok(RawVersion {
        seq: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        version: r.get(3)?,
        marker: r.get(4)?,
        blob: r.get(5)?,
        backend: r.get(6)?,
        label: r.get(7)?,
        size: r.get(8)?,
        envelope_size: r.get(9)?,
        created: r.get(10)?,
        created_by: r.get(11)?,
        legacy: r.get(12)?,
        binding: r.get(13)?,
    })
}

/// A binding as stored: `<key version>:<64 hex>`.
fn binding_text(key_version: u32, tag: &[u8; 32]) -> String {
    format!("{key_version}:{}", hex::encode(tag))
}

fn binding_parse(s: &str) -> Option<Legacy> {
    let (v, t) = s.split_once(':')?;
    let mut tag = [0u8; 32];
    hex::decode_to_slice(t, &mut tag).ok()?;
    Some(Legacy::Bound {
        key_version: v.parse().ok()?,
        tag,
    })
}

fn version_typed(raw: RawVersion) -> Result<(i64, Version), StoreError> {
    let damaged = |why: &str| {
        StoreError::Corrupt(format!(
            "object `{}` version `{}` in bucket `{}`: {why}",
            raw.key, raw.version, raw.bucket
        ))
    };
    let version = VersionId::parse(&raw.version).ok_or_else(|| damaged("bad version id"))?;
    if raw.marker {
        return Ok((
            raw.seq,
            Version::DeleteMarker(DeleteMarker {
                bucket: raw.bucket.clone(),
                key: raw.key.clone(),
                version,
                created: from_ts(raw.created),
                created_by: raw.created_by.clone(),
            }),
        ));
    }
    let blob = raw
        .blob
        .as_deref()
        .and_then(|b| BlobId::parse(b).ok())
        .ok_or_else(|| damaged("bad blob id"))?;
    let label: Label = raw
        .label
        .as_deref()
        .ok_or_else(|| damaged("no label"))?
        .parse()
        .map_err(|e| damaged(&format!("label does not parse: {e}")))?;
    let legacy = match (raw.legacy, raw.binding.as_deref()) {
        (false, _) => None,
        (true, None) => Some(Legacy::Unbound),
        (true, Some(b)) => Some(binding_parse(b).ok_or_else(|| damaged("bad binding"))?),
    };
    let size = |v: Option<i64>, what: &str| {
        v.and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| damaged(&format!("bad {what}")))
    };
    Ok((
        raw.seq,
        Version::Object(ObjectRecord {
            size: size(raw.size, "size")?,
            envelope_size: size(raw.envelope_size, "envelope size")?,
            backend: raw.backend.clone().ok_or_else(|| damaged("no backend"))?,
            bucket: raw.bucket,
            key: raw.key,
            version,
            blob,
            label,
            created: from_ts(raw.created),
            created_by: raw.created_by,
            legacy,
        }),
    ))
}

fn object_only(v: Version) -> Result<ObjectRecord, StoreError> {
    match v {
        Version::Object(o) => Ok(o),
        Version::DeleteMarker(m) => Err(StoreError::Corrupt(format!(
            "delete marker `{}` of `{}` listed as an object",
            m.version, m.key
        ))),
    }
}

fn insert_version(tx: &rusqlite::Transaction<'_>, v: &Version) -> Result<(), StoreError> {
    let sql = "INSERT INTO object_versions (bucket, key, version, latest, marker, blob, backend, label, \
         size, envelope_size, created, created_by) VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    let res = match v {
        Version::Object(o) => tx.execute(
            sql,
            params![
                o.bucket,
                o.key,
                o.version.as_str(),
                false,
                o.blob.as_str(),
                o.backend,
                o.label.to_string(),
                i64::try_from(o.size).unwrap_or(i64::MAX),
                i64::try_from(o.envelope_size).unwrap_or(i64::MAX),
                ts(o.created),
                o.created_by
            ],
        ),
        Version::DeleteMarker(m) => tx.execute(
            sql,
            params![
                m.bucket,
                m.key,
                m.version.as_str(),
                true,
                Option::<String>::None,
                Option::<String>::None,
                Option::<String>::None,
                Option::<i64>::None,
                Option::<i64>::None,
                ts(m.created),
                m.created_by
            ],
        ),
    };
    res.map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::NotFound(format!(
                "bucket `{}` (or version `{}` exists)",
                bucket_of(v),
                v.version()
            ))
        }
        other => other.into(),
    })?;
    Ok(())
}

fn bucket_of(v: &Version) -> &str {
    match v {
        Version::Object(o) => &o.bucket,
        Version::DeleteMarker(m) => &m.bucket,
    }
}

impl Registry for SqliteMetadata {
    fn add_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError> {
        let body = principal_body(p)?;
        self.db()
            .execute(
                "INSERT INTO principals (id, body, disabled, created) VALUES (?1, ?2, ?3, ?4)",
                params![p.id, body, p.disabled, ts(p.created)],
            )
            .map_err(|e| unique(e, || format!("principal `{}`", p.id)))?;
        Ok(())
    }

    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.one(
            "SELECT id, body, disabled, created FROM principals WHERE id = ?1",
            [id],
            principal_row,
            principal_typed,
        )
    }

    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        self.all(
            "SELECT id, body, disabled, created FROM principals ORDER BY id",
            [],
            principal_row,
            principal_typed,
        )
    }

    fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        let n = self.db().execute(
            "UPDATE principals SET disabled = ?2 WHERE id = ?1",
            params![id, disabled],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("principal `{id}`")));
        }
        Ok(())
    }

    fn add_authorization(&self, a: &AuthorizationRecord) -> Result<(), StoreError> {
        if self.principal(&a.principal)?.is_none() {
            return Err(StoreError::NotFound(format!("principal `{}`", a.principal)));
        }
        let body = doc::encode(
            AUTHORIZATION_BODY,
            &AuthorizationBody {
                authorization: a.authorization.clone(),
            },
        )?;
        self.db()
            .execute(
                "INSERT INTO authorizations VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    a.principal,
                    a.authorization.id,
                    body,
                    a.revoked,
                    ts(a.added)
                ],
            )
            .map_err(|e| {
                unique(e, || {
                    format!(
                        "authorization `{}` of `{}`",
                        a.authorization.id, a.principal
                    )
                })
            })?;
        Ok(())
    }

    fn revoke_authorization(&self, principal: &str, id: &str) -> Result<(), StoreError> {
        let n = self.db().execute(
            "UPDATE authorizations SET revoked = 1 WHERE principal = ?1 AND id = ?2",
            params![principal, id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "authorization `{id}` of `{principal}`"
            )));
        }
        Ok(())
    }

    fn authorizations(&self, principal: &str) -> Result<Vec<AuthorizationRecord>, StoreError> {
        self.all(
            "SELECT principal, id, body, revoked, added FROM authorizations WHERE principal = ?1 ORDER BY id",
            [principal],
            auth_row,
            auth_typed,
        )
    }
}

impl Credentials for SqliteMetadata {
    fn set_bindings(&self, principal: &str, bindings: &Bindings) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let raw = tx
            .query_row(
                "SELECT id, body, disabled, created FROM principals WHERE id = ?1",
                [principal],
                principal_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("principal `{principal}`")))?;
        let mut p = principal_typed(raw)?;
        p.bindings = bindings.clone();
        tx.execute(
            "UPDATE principals SET body = ?2 WHERE id = ?1",
            params![principal, principal_body(&p)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                &format!("INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    t.id,
                    t.principal,
                    t.secret_hash.as_slice(),
                    ts(t.created),
                    t.expires.map(ts),
                    t.revoked,
                    match t.purpose {
                        TokenPurpose::Access => "access",
                        TokenPurpose::Enrollment => "enrollment",
                    }
                ],
            )
            .map_err(|e| unique(e, || format!("token `{}`", t.id)))?;
        Ok(())
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.one(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE id = ?1"),
            [id],
            token_row,
            token_typed,
        )
    }

    fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("token `{id}`")));
        }
        Ok(())
    }

    fn tokens(&self, principal: &str) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(
            &format!("SELECT {TOKEN_COLS} FROM tokens WHERE principal = ?1 ORDER BY created"),
            [principal],
            token_row,
            token_typed,
        )
    }
}

impl Buckets for SqliteMetadata {
    fn add_bucket(&self, b: &BucketRecord) -> Result<(), StoreError> {
        let owners =
            serde_json::to_string(&b.owners).map_err(|e| StoreError::Database(e.to_string()))?;
        self.db()
            .execute(
                &format!("INSERT INTO buckets ({BUCKET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    b.name,
                    b.key_id,
                    b.backend,
                    ts(b.created),
                    owners,
                    b.versions_kept
                ],
            )
            .map_err(|e| unique(e, || format!("bucket `{}`", b.name)))?;
        Ok(())
    }

    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.one(
            &format!("SELECT {BUCKET_COLS} FROM buckets WHERE name = ?1"),
            [name],
            bucket_row,
            bucket_typed,
        )
    }

    fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        self.all(
            &format!("SELECT {BUCKET_COLS} FROM buckets ORDER BY name"),
            [],
            bucket_row,
            bucket_typed,
        )
    }
}

impl Objects for SqliteMetadata {
    fn put_version(&self, v: &Version) -> Result<Option<Version>, StoreError> {
        let (bucket, key) = (bucket_of(v), v.key());
        let mut db = self.db();
        let tx = db.transaction()?;
        let previous = tx
            .query_row(
                &format!(
                    "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 AND key = ?2 AND latest = 1"
                ),
                params![bucket, key],
                version_row,
            )
            .optional()?;
        tx.execute(
            "UPDATE object_versions SET latest = 0 WHERE bucket = ?1 AND key = ?2 AND latest = 1",
            params![bucket, key],
        )?;
        insert_version(&tx, v)?;
        tx.commit()?;
        drop(db);
        Ok(previous.map(version_typed).transpose()?.map(|(_, v)| v))
    }

    fn prune(&self, bucket: &str, key: &str, keep: u32) -> Result<Vec<ObjectRecord>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let old: Vec<RawVersion> = {
            let mut st = tx.prepare_cached(&format!(
                "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 AND key = ?2 AND latest = 0 \
                 ORDER BY seq DESC LIMIT -1 OFFSET ?3"
            ))?;
            let rows = st.query_map(params![bucket, key, keep], version_row)?;
            rows.collect::<Result<_, _>>()?
        };
        for r in &old {
            tx.execute("DELETE FROM object_versions WHERE seq = ?1", [r.seq])?;
        }
        tx.commit()?;
        drop(db);
        let mut pruned = Vec::new();
        for r in old {
            if let (_, Version::Object(o)) = version_typed(r)? {
                pruned.push(o);
            }
        }
        Ok(pruned)
    }

    fn version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&VersionId>,
    ) -> Result<Option<Version>, StoreError> {
        let found = match version {
            None => self.one(
                &format!(
                    "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 AND key = ?2 AND latest = 1"
                ),
                params![bucket, key],
                version_row,
                version_typed,
            )?,
            Some(v) => self.one(
                &format!(
                    "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version = ?3"
                ),
                params![bucket, key, v.as_str()],
                version_row,
                version_typed,
            )?,
        };
        Ok(found.map(|(_, v)| v))
    }

    fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &VersionId,
    ) -> Result<Option<Version>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let found = tx
            .query_row(
                &format!(
                    "SELECT {VERSION_COLS}, latest FROM object_versions WHERE bucket = ?1 AND key = ?2 AND version = ?3"
                ),
                params![bucket, key, version.as_str()],
                |r| Ok((version_row(r)?, r.get::<_, bool>(14)?)),
            )
            .optional()?;
        let Some((raw, latest)) = found else {
            return Ok(None);
        };
        tx.execute("DELETE FROM object_versions WHERE seq = ?1", [raw.seq])?;
        if latest {
            tx.execute(
                "UPDATE object_versions SET latest = 1 WHERE seq = \
                 (SELECT max(seq) FROM object_versions WHERE bucket = ?1 AND key = ?2)",
                params![bucket, key],
            )?;
        }
        tx.commit()?;
        Ok(Some(version_typed(raw)?.1))
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError> {
        let take = limit.max(1);
        // Prefix match with `substr` rather than LIKE: keys may contain `%` and `_`.
        let mut objects = self.all(
            &format!(
                "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 AND latest = 1 AND marker = 0 \
                 AND substr(key, 1, length(?2)) = ?2 AND key > ?3 ORDER BY key LIMIT ?4"
            ),
            params![bucket, prefix, after.unwrap_or(""), (take + 1) as i64],
            version_row,
            |raw| object_only(version_typed(raw)?.1),
        )?;
        let next = if objects.len() > take {
            objects.truncate(take);
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<VersionPage, StoreError> {
        let take = limit.max(1);
        let (after_seq, after_key) = match after {
            None => (i64::MAX, String::new()),
            Some(c) => cursor(c)?,
        };
        let mut rows = self.all(
            &format!(
                "SELECT {VERSION_COLS} FROM object_versions WHERE bucket = ?1 \
                 AND substr(key, 1, length(?2)) = ?2 AND (key > ?3 OR (key = ?3 AND seq < ?4)) \
                 ORDER BY key, seq DESC LIMIT ?5"
            ),
            params![bucket, prefix, after_key, after_seq, (take + 1) as i64],
            version_row,
            version_typed,
        )?;
        let next = if rows.len() > take {
            rows.truncate(take);
            rows.last().map(|(seq, v)| format!("{seq}/{}", v.key()))
        } else {
            None
        };
        Ok(VersionPage {
            versions: rows.into_iter().map(|(_, v)| v).collect(),
            next,
        })
    }

    fn blob_refs(&self, backend: &str) -> Result<Vec<BlobId>, StoreError> {
        self.all(
            "SELECT blob FROM object_versions WHERE backend = ?1 AND marker = 0",
            [backend],
            |r| r.get::<_, String>(0),
            |s| BlobId::parse(&s),
        )
    }

    fn legacy_versions(&self, limit: usize) -> Result<Vec<ObjectRecord>, StoreError> {
        self.all(
            &format!(
                "SELECT {VERSION_COLS} FROM object_versions WHERE legacy = 1 AND marker = 0 ORDER BY seq LIMIT ?1"
            ),
            [i64::try_from(limit).unwrap_or(i64::MAX)],
            version_row,
            |raw| object_only(version_typed(raw)?.1),
        )
    }

    fn legacy_count(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self.one(
            "SELECT count(*) FROM object_versions WHERE legacy = 1 AND marker = 0",
            [],
            |r| r.get(0),
            Ok,
        )?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    fn bind_legacy(
        &self,
        o: &ObjectRecord,
        key_version: u32,
        tag: &[u8; 32],
    ) -> Result<(), StoreError> {
        self.db().execute(
            "UPDATE object_versions SET binding = ?4 WHERE bucket = ?1 AND key = ?2 AND version = ?3 \
             AND legacy = 1 AND binding IS NULL",
            params![o.bucket, o.key, o.version.as_str(), binding_text(key_version, tag)],
        )?;
        Ok(())
    }

    fn upgrade_blob(
        &self,
        o: &ObjectRecord,
        blob: &BlobId,
        envelope_size: u64,
    ) -> Result<bool, StoreError> {
        let n = self.db().execute(
            "UPDATE object_versions SET blob = ?5, envelope_size = ?6, legacy = 0, binding = NULL \
             WHERE bucket = ?1 AND key = ?2 AND version = ?3 AND blob = ?4 AND legacy = 1",
            params![
                o.bucket,
                o.key,
                o.version.as_str(),
                o.blob.as_str(),
                blob.as_str(),
                i64::try_from(envelope_size).unwrap_or(i64::MAX)
            ],
        )?;
        Ok(n == 1)
    }
}

/// A version listing's cursor: `seq/key` of the last entry returned.
fn cursor(c: &str) -> Result<(i64, String), StoreError> {
    c.split_once('/')
        .and_then(|(seq, key)| Some((seq.parse().ok()?, key.to_owned())))
        .ok_or_else(|| StoreError::BadCursor(c.to_owned()))
}

impl LockboxRecords for SqliteMetadata {
    fn add_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                &format!("INSERT INTO lockbox ({LOCKBOX_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    r.id,
                    r.kind.as_str(),
                    r.subject,
                    r.version,
                    ts(r.created),
                    r.body.to_string()
                ],
            )
            .map_err(|e| unique(e, || format!("{} `{}`", r.kind.as_str(), r.id)))?;
        Ok(())
    }

    fn lockbox(&self, id: &str) -> Result<Option<LockboxRecord>, StoreError> {
        self.one(
            &format!("SELECT {LOCKBOX_COLS} FROM lockbox WHERE id = ?1"),
            [id],
            lockbox_row,
            lockbox_typed,
        )
    }

    fn lockbox_list(
        &self,
        kind: LockboxKind,
        subject: Option<&str>,
    ) -> Result<Vec<LockboxRecord>, StoreError> {
        self.all(
            &format!(
                "SELECT {LOCKBOX_COLS} FROM lockbox WHERE kind = ?1 AND (?2 IS NULL OR subject = ?2) \
                 ORDER BY created, id"
            ),
            params![kind.as_str(), subject],
            lockbox_row,
            lockbox_typed,
        )
    }

    fn update_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        let n = self.db().execute(
            "UPDATE lockbox SET body = ?3, version = ?2 + 1 WHERE id = ?1 AND version = ?2",
            params![r.id, r.version, r.body.to_string()],
        )?;
        if n == 0 {
            let what = format!("{} `{}`", r.kind.as_str(), r.id);
            return match self.lockbox(&r.id)? {
                Some(_) => Err(StoreError::Conflict(what)),
                None => Err(StoreError::NotFound(what)),
            };
        }
        Ok(())
    }
}

impl Settings for SqliteMetadata {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.one(
            "SELECT value FROM settings WHERE name = ?1",
            [name],
            |r| r.get(0),
            Ok,
        )
    }

    fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.db().execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) \
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }
}
