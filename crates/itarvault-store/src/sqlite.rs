//! The embedded metadata backend: one SQLite database in WAL mode with
//! `synchronous=FULL`, so that an acknowledged write survives a crash.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};
use time::OffsetDateTime;

use crate::meta::*;
use crate::StoreError;

/// Schema migrations, in order: entry `i` takes the database from version `i` to
/// `i + 1`. Never edit a released entry; append a new one.
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

fn list(s: &[String]) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "[]".into())
}

fn unlist(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn not_found(what: String) -> StoreError {
    StoreError::NotFound(what)
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
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let current = MIGRATIONS.len() as i64;
        if version > current {
            return Err(StoreError::SchemaTooNew(path.to_owned(), version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
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
    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached(sql)?;
        Ok(st.query_row(p, f).optional()?)
    }
}

fn principal_row(r: &Row<'_>) -> rusqlite::Result<PrincipalRecord> {
    Ok(PrincipalRecord {
        id: r.get(0)?,
        person_status: r.get(1)?,
        citizenships: unlist(&r.get::<_, String>(2)?),
        permanent_residence: r.get(3)?,
        roles: unlist(&r.get::<_, String>(4)?),
        disabled: r.get(5)?,
        created: from_ts(r.get(6)?),
    })
}

fn auth_row(r: &Row<'_>) -> rusqlite::Result<AuthorizationRecord> {
    let body: String = r.get(2)?;
    Ok(AuthorizationRecord {
        principal: r.get(0)?,
        id: r.get(1)?,
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        revoked: r.get(3)?,
        added: from_ts(r.get(4)?),
    })
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let h: Vec<u8> = r.get(2)?;
    let mut secret_hash = [0u8; 32];
    if h.len() == 32 {
        secret_hash.copy_from_slice(&h);
    }
    Ok(TokenRecord {
        id: r.get(0)?,
        principal: r.get(1)?,
        secret_hash,
        created: from_ts(r.get(3)?),
        expires: r.get::<_, Option<i64>>(4)?.map(from_ts),
        revoked: r.get(5)?,
    })
}

fn bucket_row(r: &Row<'_>) -> rusqlite::Result<BucketRecord> {
    Ok(BucketRecord {
        name: r.get(0)?,
        key_id: r.get(1)?,
        backend: r.get(2)?,
        created: from_ts(r.get(3)?),
        owners: unlist(&r.get::<_, String>(4)?),
    })
}

const LOCKBOX_COLS: &str = "id, kind, subject, version, created, body";

fn lockbox_row(r: &Row<'_>) -> rusqlite::Result<LockboxRecord> {
    let body: String = r.get(5)?;
    Ok(LockboxRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        subject: r.get(2)?,
        version: r.get(3)?,
        created: from_ts(r.get(4)?),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    })
}

const OBJECT_COLS: &str =
    "bucket, key, blob, backend, label, size, envelope_size, created, created_by";

fn object_row(r: &Row<'_>) -> rusqlite::Result<ObjectRecord> {
    Ok(ObjectRecord {
        bucket: r.get(0)?,
        key: r.get(1)?,
        blob: r.get(2)?,
        backend: r.get(3)?,
        label: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        envelope_size: r.get::<_, i64>(6)? as u64,
        created: from_ts(r.get(7)?),
        created_by: r.get(8)?,
    })
}

impl Metadata for SqliteMetadata {
    fn add_principal(&self, p: &PrincipalRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO principals VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    p.id,
                    p.person_status,
                    list(&p.citizenships),
                    p.permanent_residence,
                    list(&p.roles),
                    p.disabled,
                    ts(p.created)
                ],
            )
            .map_err(|e| unique(e, || format!("principal `{}`", p.id)))?;
        Ok(())
    }

    fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, StoreError> {
        self.one(
            "SELECT * FROM principals WHERE id = ?1",
            [id],
            principal_row,
        )
    }

    fn principals(&self) -> Result<Vec<PrincipalRecord>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached("SELECT * FROM principals ORDER BY id")?;
        let rows = st.query_map([], principal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        let n = self.db().execute(
            "UPDATE principals SET disabled = ?2 WHERE id = ?1",
            params![id, disabled],
        )?;
        if n == 0 {
            return Err(not_found(format!("principal `{id}`")));
        }
        Ok(())
    }

    fn add_authorization(&self, a: &AuthorizationRecord) -> Result<(), StoreError> {
        if self.principal(&a.principal)?.is_none() {
            return Err(not_found(format!("principal `{}`", a.principal)));
        }
        self.db()
            .execute(
                "INSERT INTO authorizations VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    a.principal,
                    a.id,
                    a.body.to_string(),
                    a.revoked,
                    ts(a.added)
                ],
            )
            .map_err(|e| {
                unique(e, || {
                    format!("authorization `{}` of `{}`", a.id, a.principal)
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
            return Err(not_found(format!("authorization `{id}` of `{principal}`")));
        }
        Ok(())
    }

    fn authorizations(&self, principal: &str) -> Result<Vec<AuthorizationRecord>, StoreError> {
        let db = self.db();
        let mut st =
            db.prepare_cached("SELECT * FROM authorizations WHERE principal = ?1 ORDER BY id")?;
        let rows = st.query_map([principal], auth_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO tokens VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    t.id,
                    t.principal,
                    t.secret_hash.as_slice(),
                    ts(t.created),
                    t.expires.map(ts),
                    t.revoked
                ],
            )
            .map_err(|e| unique(e, || format!("token `{}`", t.id)))?;
        Ok(())
    }

    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.one("SELECT * FROM tokens WHERE id = ?1", [id], token_row)
    }

    fn revoke_token(&self, id: &str) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute("UPDATE tokens SET revoked = 1 WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(not_found(format!("token `{id}`")));
        }
        Ok(())
    }

    fn tokens(&self, principal: &str) -> Result<Vec<TokenRecord>, StoreError> {
        let db = self.db();
        let mut st =
            db.prepare_cached("SELECT * FROM tokens WHERE principal = ?1 ORDER BY created")?;
        let rows = st.query_map([principal], token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_bucket(&self, b: &BucketRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO buckets (name, key_id, backend, created, owners) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![b.name, b.key_id, b.backend, ts(b.created), list(&b.owners)],
            )
            .map_err(|e| unique(e, || format!("bucket `{}`", b.name)))?;
        Ok(())
    }

    fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.one(
            "SELECT name, key_id, backend, created, owners FROM buckets WHERE name = ?1",
            [name],
            bucket_row,
        )
    }

    fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached(
            "SELECT name, key_id, backend, created, owners FROM buckets ORDER BY name",
        )?;
        let rows = st.query_map([], bucket_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_object(&self, o: &ObjectRecord) -> Result<Option<ObjectRecord>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let old = tx
            .query_row(
                &format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                params![o.bucket, o.key],
                object_row,
            )
            .optional()?;
        tx.execute(
            &format!("INSERT OR REPLACE INTO objects ({OBJECT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                o.bucket,
                o.key,
                o.blob,
                o.backend,
                o.label,
                o.size as i64,
                o.envelope_size as i64,
                ts(o.created),
                o.created_by
            ],
        )?;
        tx.commit()?;
        Ok(old)
    }

    fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        self.one(
            &format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2"),
            params![bucket, key],
            object_row,
        )
    }

    fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let old = tx
            .query_row(
                &format!("SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND key = ?2"),
                params![bucket, key],
                object_row,
            )
            .optional()?;
        tx.execute(
            "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
            params![bucket, key],
        )?;
        tx.commit()?;
        Ok(old)
    }

    fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ObjectPage, StoreError> {
        let db = self.db();
        // Prefix match with `substr` rather than LIKE: keys may contain `%` and `_`.
        let mut st = db.prepare_cached(&format!(
            "SELECT {OBJECT_COLS} FROM objects WHERE bucket = ?1 AND substr(key, 1, length(?2)) = ?2 \
             AND key > ?3 ORDER BY key LIMIT ?4"
        ))?;
        let take = limit.max(1);
        let rows = st.query_map(
            params![bucket, prefix, after.unwrap_or(""), (take + 1) as i64],
            object_row,
        )?;
        let mut objects: Vec<ObjectRecord> = rows.collect::<Result<_, _>>()?;
        let next = if objects.len() > take {
            objects.truncate(take);
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }

    fn blob_refs(&self, backend: &str) -> Result<Vec<String>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached("SELECT blob FROM objects WHERE backend = ?1")?;
        let rows = st.query_map([backend], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        self.db()
            .execute(
                &format!("INSERT INTO lockbox ({LOCKBOX_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    r.id,
                    r.kind,
                    r.subject,
                    r.version,
                    ts(r.created),
                    r.body.to_string()
                ],
            )
            .map_err(|e| unique(e, || format!("{} `{}`", r.kind, r.id)))?;
        Ok(())
    }

    fn lockbox(&self, id: &str) -> Result<Option<LockboxRecord>, StoreError> {
        self.one(
            &format!("SELECT {LOCKBOX_COLS} FROM lockbox WHERE id = ?1"),
            [id],
            lockbox_row,
        )
    }

    fn lockbox_list(
        &self,
        kind: &str,
        subject: Option<&str>,
    ) -> Result<Vec<LockboxRecord>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached(&format!(
            "SELECT {LOCKBOX_COLS} FROM lockbox WHERE kind = ?1 AND (?2 IS NULL OR subject = ?2) \
             ORDER BY created, id"
        ))?;
        let rows = st.query_map(params![kind, subject], lockbox_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn update_lockbox(&self, r: &LockboxRecord) -> Result<(), StoreError> {
        let n = self.db().execute(
            "UPDATE lockbox SET body = ?3, version = ?2 + 1 WHERE id = ?1 AND version = ?2",
            params![r.id, r.version, r.body.to_string()],
        )?;
        if n == 0 {
            return match self.lockbox(&r.id)? {
                Some(_) => Err(StoreError::Conflict(format!("{} `{}`", r.kind, r.id))),
                None => Err(not_found(format!("{} `{}`", r.kind, r.id))),
            };
        }
        Ok(())
    }

    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.one("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
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
