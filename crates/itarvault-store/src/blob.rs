//! Blob backends: where envelopes (ciphertext only) are kept.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// A blob's name: 32 lowercase hex digits, random, never derived from content or key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId(String);

impl BlobId {
    fn random() -> Result<Self, StoreError> {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b).map_err(|_| {
            StoreError::Io(
                PathBuf::new(),
                io::Error::other("random number generator failed"),
            )
        })?;
        Ok(Self(hex::encode(b)))
    }

    /// Checks a stored id before it becomes part of a path.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(StoreError::BadBlobId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A blob being written. Dropping it without [`BlobWriter::commit`] discards it: a
/// failed or abandoned upload leaves nothing visible.
pub trait BlobWriter: Write + Send {
    /// Makes the blob durable and returns its id.
    fn commit(self: Box<Self>) -> Result<BlobId, StoreError>;
}

/// A place for envelopes. Implementations must make `commit` durable (a committed blob
/// survives a crash) and must never expose a blob before it is committed.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// The backend's configured name, stored with each object.
    fn name(&self) -> &str;
    fn create(&self) -> Result<Box<dyn BlobWriter>, StoreError>;
    fn open(&self, id: &BlobId) -> Result<Box<dyn Read + Send>, StoreError>;
    /// Removes a blob; removing one that is already gone is not an error.
    fn delete(&self, id: &BlobId) -> Result<(), StoreError>;
    /// Every committed blob (for the orphan sweep).
    fn list(&self) -> Result<Vec<BlobId>, StoreError>;
}

/// Blobs as files under a directory: `objects/ab/<id>`, written through `tmp/`.
#[derive(Debug)]
pub struct LocalBlobStore {
    name: String,
    root: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |e| StoreError::Io(path.to_owned(), e)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

impl LocalBlobStore {
    /// Opens (creating if needed) a store named `local` at `root`.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        Self::open_named("local", root)
    }

    /// Opens a store with a configured backend name. Leftover temporary files of
    /// interrupted uploads are removed.
    pub fn open_named(name: &str, root: &Path) -> Result<Self, StoreError> {
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let objects = root.join("objects");
        fs::create_dir_all(&objects).map_err(io_err(&objects))?;
        Ok(Self {
            name: name.to_owned(),
            root: root.to_owned(),
        })
    }

    fn path_of(&self, id: &BlobId) -> PathBuf {
        self.root.join("objects").join(&id.0[..2]).join(&id.0)
    }
}

struct LocalWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    id: BlobId,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("blob already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> Result<BlobId, StoreError> {
        let file = self.file.take().ok_or_else(|| {
            StoreError::Io(self.tmp.clone(), io::Error::other("blob committed twice"))
        })?;
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        let dir = self.dest.parent().unwrap_or(Path::new("/")).to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.dest))?;
        sync_dir(&dir)?;
        Ok(self.id.clone())
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl BlobStore for LocalBlobStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn create(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let id = BlobId::random()?;
        let tmp = self.root.join("tmp").join(&id.0);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        Ok(Box::new(LocalWriter {
            file: Some(file),
            dest: self.path_of(&id),
            tmp,
            id,
        }))
    }

    fn open(&self, id: &BlobId) -> Result<Box<dyn Read + Send>, StoreError> {
        let p = self.path_of(id);
        match File::open(&p) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound(format!(
                "blob `{id}` in backend `{}`",
                self.name
            ))),
            Err(e) => Err(StoreError::Io(p, e)),
        }
    }

    fn delete(&self, id: &BlobId) -> Result<(), StoreError> {
        let p = self.path_of(id);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io(p, e)),
        }
    }

    fn list(&self) -> Result<Vec<BlobId>, StoreError> {
        let objects = self.root.join("objects");
        let mut out = Vec::new();
        for shard in fs::read_dir(&objects).map_err(io_err(&objects))? {
            let shard = shard.map_err(io_err(&objects))?.path();
            if !shard.is_dir() {
                continue;
            }
            for f in fs::read_dir(&shard).map_err(io_err(&shard))? {
                let f = f.map_err(io_err(&shard))?;
                if let Some(id) = f.file_name().to_str().and_then(|n| BlobId::parse(n).ok()) {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }
}
