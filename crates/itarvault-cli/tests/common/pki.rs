//! A test certificate authority: client certificates it issues (by common name, with
//! an optional e-mail subject alternative name) and the revocation lists it signs.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SanType,
    SerialNumber,
};

pub struct Ca {
    dir: PathBuf,
    params: CertificateParams,
    key: KeyPair,
    next_serial: u64,
}

impl Ca {
    /// A CA whose certificate is `<dir>/ca.pem`.
    pub fn new(dir: &Path) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Acme badge CA");
        std::fs::write(dir.join("ca.pem"), params.self_signed(&key).unwrap().pem()).unwrap();
        Self {
            dir: dir.to_owned(),
            params,
            key,
            next_serial: 1,
        }
    }

    /// Issues `<dir>/<file>.crt` and `.key` with common name `cn`; returns its serial.
    pub fn issue(&mut self, file: &str, cn: &str, email: Option<&str>) -> u64 {
        let serial = self.next_serial;
        self.next_serial += 1;
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.serial_number = Some(SerialNumber::from(serial));
        if let Some(e) = email {
            p.subject_alt_names = vec![SanType::Rfc822Name(e.try_into().unwrap())];
        }
        let issuer = Issuer::from_params(&self.params, &self.key);
        std::fs::write(
            self.dir.join(format!("{file}.crt")),
            p.signed_by(&key, &issuer).unwrap().pem(),
        )
        .unwrap();
        super::write_private(&self.dir.join(format!("{file}.key")), &key.serialize_pem());
        serial
    }

    /// Writes `<dir>/crl.pem` revoking `serials`.
    pub fn revoke(&self, serials: &[u64]) -> PathBuf {
        let now = time::OffsetDateTime::now_utc();
        let crl = CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(1),
            next_update: now + time::Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: now - time::Duration::minutes(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&self.params, &self.key);
        let path = self.dir.join("crl.pem");
        std::fs::write(&path, crl.signed_by(&issuer).unwrap().pem().unwrap()).unwrap();
        path
    }
}
