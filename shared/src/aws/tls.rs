//! The SDK's HTTPS client with hubtune's own trust store.
//!
//! By default the SDK loads and parses the system's whole root store (~140 certificates on Debian, more on Amazon
//! Linux) when the first connector is built: measured, more than half of launch-finetune's cold start. Every AWS
//! endpoint hubtune calls chains to Amazon Trust Services' roots, so those five (roots/README.md: source and
//! SHA-256 fingerprints) are compiled in and are all it trusts. `HUBTUNE_TRUST_SYSTEM_ROOTS=1` adds the system
//! store back, for a proxy or a private CA in front of a custom `AWS_ENDPOINT_URL` (plain-http endpoints, such
//! as the local stack, use no trust store at all). The SDK's warm-up of that store while each client is built
//! (a whole connector, built and dropped) is skipped: see `NoWarmUp`.

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

/// The environment variable that adds the system's root store to the compiled-in roots.
pub const TRUST_SYSTEM_ROOTS_ENV: &str = "HUBTUNE_TRUST_SYSTEM_ROOTS";

/// Amazon Root CA 1-4 and Starfield Services Root CA G2, PEM, as shipped in Mozilla's root store.
pub const AWS_ROOTS: [(&str, &[u8]); 5] = [
    (
        "Amazon Root CA 1",
        include_bytes!("roots/amazon-root-ca-1.pem"),
    ),
    (
        "Amazon Root CA 2",
        include_bytes!("roots/amazon-root-ca-2.pem"),
    ),
    (
        "Amazon Root CA 3",
        include_bytes!("roots/amazon-root-ca-3.pem"),
    ),
    (
        "Amazon Root CA 4",
        include_bytes!("roots/amazon-root-ca-4.pem"),
    ),
    (
        "Starfield Services Root Certificate Authority - G2",
        include_bytes!("roots/starfield-services-root-ca-g2.pem"),
    ),
];

/// Which roots the HTTPS client trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// Only `AWS_ROOTS`: the default.
    AwsOnly,
    /// `AWS_ROOTS` and the system's store (the escape hatch).
    AwsAndSystem,
}

impl Roots {
    /// The decision from the escape hatch's value: only an explicit yes ("1", "true", "yes") opens the system
    /// store, so a typo or an empty value keeps the small one.
    pub fn from_env_value(value: Option<&str>) -> Roots {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("1" | "true" | "yes") => Roots::AwsAndSystem,
            _ => Roots::AwsOnly,
        }
    }

    /// The decision from this process's environment.
    pub fn from_env() -> Roots {
        Roots::from_env_value(std::env::var(TRUST_SYSTEM_ROOTS_ENV).ok().as_deref())
    }

    /// The SDK's trust store for this choice: never the SDK's default (which is the system store).
    pub fn trust_store(self) -> TrustStore {
        AWS_ROOTS
            .iter()
            .fold(TrustStore::empty(), |store, (_, pem)| {
                store.with_pem_certificate(*pem)
            })
            .with_native_roots(self == Roots::AwsAndSystem)
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc, as `default-https-client` builds it) trusting `roots`.
pub fn https_client(roots: Roots) -> SharedHttpClient {
    // `build` only fails on an invalid server name list, and none is given; the default context is the
    // fallback that cannot fail, so there is no panic path here.
    let context = TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
        .unwrap_or_default();
    let sdk = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https();
    match roots {
        Roots::AwsOnly => NoWarmUp(sdk).into_shared(),
        // Reading the system store is what the SDK's warm-up is for: keep it.
        Roots::AwsAndSystem => sdk,
    }
}

/// The SDK's HTTPS client without its warm-up.
///
/// While each SDK client is built, the SDK's HTTPS client builds a whole connector and drops it, so that the system
/// store is read then rather than at the first request (`validate_base_client_config`). The connector requests use
/// is built at the first request all the same, once, and shared by every client with the same timeouts. With the
/// compiled-in roots there is nothing to warm up, and each throw-away connector decodes the five PEM roots and
/// builds a TLS configuration: measured, 0.26 M instructions per SDK client, 0.78 M of a cold start's 5 M.
#[derive(Debug)]
struct NoWarmUp(SharedHttpClient);

impl HttpClient for NoWarmUp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_yes_adds_the_system_store() {
        for yes in ["1", "true", "TRUE", " yes "] {
            assert_eq!(
                Roots::from_env_value(Some(yes)),
                Roots::AwsAndSystem,
                "{yes}"
            );
        }
        for no in [
            None,
            Some(""),
            Some("0"),
            Some("false"),
            Some("no"),
            Some("ture"),
        ] {
            assert_eq!(Roots::from_env_value(no), Roots::AwsOnly, "{no:?}");
        }
    }

    #[test]
    fn the_compiled_in_roots_are_five_single_certificates() {
        for (name, pem) in AWS_ROOTS {
            let text = std::str::from_utf8(pem).expect("PEM is ASCII");
            assert_eq!(
                text.matches("-----BEGIN CERTIFICATE-----").count(),
                1,
                "{name}"
            );
            assert_eq!(
                text.matches("-----END CERTIFICATE-----").count(),
                1,
                "{name}"
            );
        }
    }

    /// The store's fields are private to the SDK; its Debug form is the only window on them. What must hold:
    /// the system store is off unless asked for, and the five PEMs are in either way.
    #[test]
    fn the_trust_store_is_the_compiled_in_roots_unless_the_escape_hatch_is_set() {
        let aws_only = format!("{:?}", Roots::AwsOnly.trust_store());
        assert!(
            aws_only.contains("enable_native_roots: false"),
            "{aws_only}"
        );
        let with_system = format!("{:?}", Roots::AwsAndSystem.trust_store());
        assert!(
            with_system.contains("enable_native_roots: true"),
            "{with_system}"
        );
        for store in [&aws_only, &with_system] {
            assert_eq!(
                store.matches("CertificatePEM(").count(),
                AWS_ROOTS.len(),
                "{store}"
            );
        }
    }
}

/// An HTTPS endpoint whose certificate no compiled-in root signed is refused at the handshake (offline: a TLS
/// server on 127.0.0.1 with a self-signed certificate from roots/test/).
#[cfg(test)]
mod refusal {
    use std::sync::Arc;

    use aws_smithy_types::error::display::DisplayErrorContext;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{crypto::aws_lc_rs, ServerConfig};

    use crate::aws::Aws;

    const CERT: &[u8] = include_bytes!("roots/test/self-signed-127.0.0.1.pem");
    const KEY: &[u8] = include_bytes!("roots/test/self-signed-127.0.0.1.key");

    /// Serves TLS handshakes with the self-signed certificate until the test ends; returns the port.
    async fn self_signed_server() -> u16 {
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(CERT).unwrap()],
                PrivateKeyDer::from_pem_slice(KEY).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // The client aborts the handshake; that failure is the point, not the server's concern.
                let _ = acceptor.accept(stream).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn a_certificate_from_an_unknown_issuer_is_refused() {
        let port = self_signed_server().await;
        let aws = Aws::for_endpoint(&format!("https://127.0.0.1:{port}"), "us-east-1").await;
        let err = aws.s3.list_buckets().send().await.unwrap_err();
        let message = format!("{}", DisplayErrorContext(&err));
        // The handshake reached certificate verification and failed there: not a refused connection or a timeout.
        assert!(message.contains("UnknownIssuer"), "{message}");
    }
}
