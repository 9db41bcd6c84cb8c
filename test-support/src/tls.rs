//! A throwaway certificate authority of the tests (rcgen, EC P-256 keys in PKCS#8).

/// What a certificate signed by [`Ca::sign`] may be used for (its extended key usage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// No extended key usage extension: any use.
    Any,
    /// `serverAuth` only.
    Server,
    /// `clientAuth` only.
    Client,
}

/// A self-signed certificate authority whose key lives as long as the value.
pub struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A new CA (fresh key) whose subject's common name is `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        Ca { issuer }
    }

    /// The CA's certificate in PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `sans` (DNS names or IP addresses), named `cn`, for `usage`, with a
    /// fresh key: `(cert PEM, key PEM)`.
    pub fn sign(&self, cn: &str, sans: &[&str], usage: Usage) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = match usage {
            Usage::Any => vec![],
            Usage::Server => vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth],
            Usage::Client => vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth],
        };
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_leaf_certificates_in_pem() {
        let ca = Ca::new("unit CA");
        assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
        for usage in [Usage::Any, Usage::Server, Usage::Client] {
            let (cert, key) = ca.sign("leaf", &["127.0.0.1", "localhost"], usage);
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
            assert!(key.contains("PRIVATE KEY"), "{key}");
        }
    }
}
