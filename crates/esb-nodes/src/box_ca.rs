//! The box's CA (made by the gateway in `<state>/certs`, key kept in `ca-key.pem`) as
//! the signer of node and gateway certificates. What each certificate may do is in its
//! extended key usage: a node's is serverAuth only (it cannot drive another node as the
//! gateway does), the gateway's clientAuth only (it cannot pose as a node).

use std::net::IpAddr;

use esb_state::StateDir;
use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::error::NodesError;
use crate::store_file::write_private;

/// The DNS name every node certificate carries, whatever address the node has: the
/// name to verify a node by (`ClientTlsConfig::domain_name`) when its address is not
/// an IP the certificate names.
pub fn node_domain(node_name: &str) -> String {
    format!("{node_name}.node.esb")
}

/// Hex SHA-256 of the DER of the first certificate in `pem`: the fingerprint a join
/// token carries so a node can tell the box that issued it.
pub fn ca_sha256_of_pem(pem: &str) -> Result<String, NodesError> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| NodesError::Pem(format!("not a PEM certificate: {e}")))?;
    Ok(hex::encode(Sha256::digest(der.as_ref())))
}

pub struct BoxCa {
    state: StateDir,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl BoxCa {
    /// Reads `certs/ca.pem` and `certs/ca-key.pem`.
    pub fn load(state: &StateDir) -> Result<BoxCa, NodesError> {
        let cert_path = state.certs().join("ca.pem");
        let key_path = state.certs().join("ca-key.pem");
        if !cert_path.is_file() || !key_path.is_file() {
            return Err(NodesError::NoCa(key_path));
        }
        let cert_pem = std::fs::read_to_string(&cert_path).map_err(NodesError::io(&cert_path))?;
        let key_pem = std::fs::read_to_string(&key_path).map_err(NodesError::io(&key_path))?;
        let key = KeyPair::from_pem(&key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(BoxCa {
            state: state.clone(),
            cert_pem,
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Hex SHA-256 of the CA certificate's DER.
    pub fn ca_sha256(&self) -> String {
        ca_sha256_of_pem(&self.cert_pem).unwrap_or_default()
    }

    /// Signs the public key of `csr_pem` (its signature checked) as node `node_name`:
    /// SANs `ips` and `<node_name>.node.esb` plus `dns_names`, serverAuth only. Nothing
    /// else the CSR asks for is taken.
    pub fn sign_node(
        &self,
        csr_pem: &str,
        node_name: &str,
        ips: &[IpAddr],
        dns_names: &[String],
    ) -> Result<String, NodesError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)?;
        let own = node_domain(node_name);
        let mut names = vec![own.clone()];
        names.extend(dns_names.iter().filter(|n| **n != own).cloned());
        let mut params = CertificateParams::new(names)?;
        params
            .subject_alt_names
            .extend(ips.iter().copied().map(SanType::IpAddress));
        params
            .distinguished_name
            .push(DnType::CommonName, node_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let request = CertificateSigningRequestParams {
            params,
            public_key: csr.public_key,
        };
        Ok(request.signed_by(&self.issuer)?.pem())
    }

    /// The gateway's client identity towards nodes (`nodes/gateway.pem`,
    /// `gateway-key.pem`): made once, and again when the CA changed under it.
    pub fn gateway_identity(&self) -> Result<(String, String), NodesError> {
        let dir = self.state.nodes();
        let cert_path = dir.join("gateway.pem");
        let key_path = dir.join("gateway-key.pem");
        let ca_path = dir.join("gateway-ca-sha256");
        let ca_sha = self.ca_sha256();
        let _lock = crate::store_file::lock(&dir)?;
        let same_ca = std::fs::read_to_string(&ca_path).is_ok_and(|s| s == ca_sha);
        if same_ca
            && let (Ok(cert), Ok(key)) = (
                std::fs::read_to_string(&cert_path),
                std::fs::read_to_string(&key_path),
            )
        {
            return Ok((cert, key));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "esb-gateway");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?.pem();
        let key_pem = key.serialize_pem();
        write_private(&key_path, key_pem.as_bytes()).map_err(NodesError::io(&key_path))?;
        std::fs::write(&cert_path, &cert).map_err(NodesError::io(&cert_path))?;
        std::fs::write(&ca_path, &ca_sha).map_err(NodesError::io(&ca_path))?;
        Ok((cert, key_pem))
    }
}
