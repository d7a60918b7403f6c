//! API tokens: `itv_<id>_<secret>`. The id (16 hex digits) finds the row; the secret
//! (256 random bits, 64 hex digits) is kept only as its SHA-256 and compared in
//! constant time.

use zeroize::Zeroizing;

/// A freshly minted token: the text to hand to its owner once, and what to store.
pub struct NewToken {
    pub text: Zeroizing<String>,
    pub id: String,
    pub secret_hash: [u8; 32],
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn hash(secret: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn mint() -> Result<NewToken, aws_lc_rs::error::Unspecified> {
    let mut id = [0u8; 8];
    let mut secret = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut id)?;
    aws_lc_rs::rand::fill(secret.as_mut())?;
    let id = hex::encode(id);
    Ok(NewToken {
        text: Zeroizing::new(format!("itv_{id}_{}", hex::encode(secret.as_ref()))),
        secret_hash: hash(secret.as_ref()),
        id,
    })
}

/// Splits a presented token into id and secret bytes; `None` if malformed.
pub fn parse(text: &str) -> Option<(&str, Zeroizing<Vec<u8>>)> {
    let rest = text.strip_prefix("itv_")?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() != 64 {
        return None;
    }
    Some((id, Zeroizing::new(hex::decode(secret).ok()?)))
}

/// Whether `secret` is the one whose hash is stored, in constant time.
pub fn matches(stored: &[u8; 32], secret: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(stored, &hash(secret)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_parses_and_matches_and_a_forged_one_does_not() {
        let t = mint().unwrap();
        let (id, secret) = parse(&t.text).unwrap();
        assert_eq!(id, t.id);
        assert!(matches(&t.secret_hash, &secret));
        let mut forged = t.text.to_string();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        let (_, s2) = parse(&forged).unwrap();
        assert!(!matches(&t.secret_hash, &s2));
        for bad in [
            "",
            "itv_",
            "itv_zz_00",
            "tok_0123456789abcdef_00",
            &t.text[..t.text.len() - 1],
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{t:?}").contains(&t.text[21..]));
    }
}
