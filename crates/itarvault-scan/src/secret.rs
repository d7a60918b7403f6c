//! A growable plaintext buffer that never leaves an unzeroed copy behind.
//!
//! A `Vec` that grows reallocates and frees its old allocation, plaintext and all,
//! without zeroing it. This buffer grows by copying into a new zeroizing allocation and
//! letting the old one be zeroed as it drops; every byte it ever held is zeroed once it
//! is gone. `Debug` shows sizes only.

use std::fmt;
use zeroize::Zeroizing;

/// The smallest allocation a growing buffer makes: small entries stay small.
const MIN_CAPACITY: usize = 4 << 10;

pub(crate) struct SecretBuf {
    bytes: Zeroizing<Vec<u8>>,
    /// Growth stops doubling here (the memory budget): what is held may reach it, never
    /// twice it.
    cap: usize,
}

impl SecretBuf {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::new()),
            cap,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        let need = self.bytes.len().saturating_add(data.len());
        if need > self.bytes.capacity() {
            let doubled = self.bytes.capacity().saturating_mul(2).max(MIN_CAPACITY);
            let mut bigger = Zeroizing::new(Vec::with_capacity(doubled.min(self.cap).max(need)));
            bigger.extend_from_slice(&self.bytes);
            // The old allocation is zeroed as it drops here.
            self.bytes = bigger;
        }
        self.bytes.extend_from_slice(data);
    }

    /// Hands the bytes over (still zeroizing) and leaves the buffer empty.
    pub(crate) fn take(&mut self) -> Zeroizing<Vec<u8>> {
        std::mem::take(&mut self.bytes)
    }
}

impl fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBuf")
            .field("len", &self.bytes.len())
            .field("capacity", &self.bytes.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_copies_and_never_reallocates_in_place() {
        let mut buf = SecretBuf::new(1 << 20);
        let mut capacities = Vec::new();
        for i in 0..5000u32 {
            let before = buf.bytes.capacity();
            let pointer = buf.bytes.as_ptr();
            buf.extend(&i.to_le_bytes());
            if buf.bytes.capacity() == before {
                assert_eq!(buf.bytes.as_ptr(), pointer, "no hidden reallocation");
            } else {
                capacities.push(buf.bytes.capacity());
            }
        }
        assert_eq!(buf.len(), 20_000);
        assert_eq!(capacities, [4096, 8192, 16_384, 32_768]);
        assert_eq!(&buf.as_slice()[4..8], &1u32.to_le_bytes());
    }

    #[test]
    fn growth_stops_doubling_at_the_cap() {
        let mut buf = SecretBuf::new(10_000);
        buf.extend(&[1; 5000]);
        buf.extend(&[2; 4000]);
        assert_eq!(buf.bytes.capacity(), 10_000);
        buf.extend(&[3; 3000]);
        assert_eq!(
            buf.bytes.capacity(),
            12_000,
            "past the cap: exactly what is needed"
        );
    }

    #[test]
    fn debug_shows_sizes_only() {
        let mut buf = SecretBuf::new(64);
        buf.extend(b"turbine blade");
        let shown = format!("{buf:?}");
        assert!(
            !shown.contains("turbine") && !shown.contains("116"),
            "{shown}"
        );
        assert!(shown.contains("len: 13"), "{shown}");
    }
}
