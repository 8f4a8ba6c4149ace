//! Tokens signed by Better Auth's own keys (its `jwt` plugin, `/api/auth/jwks`).
//!
//! The key set is fetched when first needed and kept for as long as its response's
//! `Cache-Control: max-age` says (bounded to 1–60 minutes; 10 without one), and again,
//! at most once a minute, when a token names a `kid` the cache does not know. The fetch
//! follows no redirect and reads at most 64 KiB. Only asymmetric keys are taken (an
//! `oct` key in a public key set would let anyone mint tokens), and a token's `alg`
//! must be its key's own.

use super::AuthError;
use super::claims::{LEEWAY_SECONDS, Verified};
use crate::config::JwksConfig;
use crate::model::Subject;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use lambda_http::http::{self, header::CACHE_CONTROL};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A fetched key and the one algorithm it verifies.
#[derive(Clone)]
struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
    expires_at: Option<Instant>,
}

/// Refetch for an unknown `kid` at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(60);
/// How long fetched keys are kept: the response's `max-age` within these bounds.
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Longest a key-set fetch may take (connecting included) before the request is
/// answered 503. It runs inside the request's deadline (`REQUEST_BUDGET`), which the
/// database work after it shares.
pub const KEY_SET_BUDGET: Duration = Duration::from_secs(2);
/// A key set larger than this is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The project's one outbound client (`outbound`): HTTP/1.1, follows no redirect.
type HttpClient = Client<crate::outbound::Connector, Empty<Bytes>>;

pub struct JwksVerifier {
    config: JwksConfig,
    http: HttpClient,
    cache: Mutex<Cache>,
}

fn rejected(detail: &str) -> AuthError {
    AuthError::rejected(detail)
}

impl JwksVerifier {
    pub fn new(config: JwksConfig) -> Self {
        // The configuration accepts http:// only for loopback (JwksConfig).
        let http = crate::outbound::client(Some(KEY_SET_BUDGET / 2));
        Self {
            config,
            http,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The subject of a token signed by a key of the set.
    pub async fn verify(&self, token: &str, header: &Header) -> Result<Subject, AuthError> {
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| rejected("The token names no key (kid)."))?;
        let key = self
            .key(kid)
            .await?
            .ok_or_else(|| rejected("The token's key is not in the key set."))?;
        if header.alg != key.algorithm {
            return Err(rejected("The token's algorithm is not its key's."));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Verified>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    rejected("The token has expired.")
                }
                _ => rejected("The token is invalid."),
            },
        )?;
        data.claims.subject()
    }

    async fn key(&self, kid: &str) -> Result<Option<Key>, AuthError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if cache.expires_at.is_some_and(|at| now >= at) {
            cache.keys.clear();
            cache.expires_at = None;
            cache.fetched_at = None;
        }
        if let Some(key) = cache.keys.get(kid) {
            return Ok(Some(key.clone()));
        }
        if cache
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < REFETCH_AFTER)
        {
            return Ok(None);
        }
        // Count a failed fetch too, so a down key server is not hammered.
        cache.fetched_at = Some(now);
        let (keys, max_age) = self.fetch().await?;
        cache.keys = keys;
        cache.expires_at = Some(now + max_age);
        Ok(cache.keys.get(kid).cloned())
    }

    /// The key set and how long to keep it.
    async fn fetch(&self) -> Result<(HashMap<String, Key>, Duration), AuthError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            AuthError::KeySetUnavailable(format!("fetching {}: {e}", self.config.url).into())
        };
        let request = http::Request::get(&self.config.url)
            .body(Empty::new())
            .map_err(|e| unavailable(&e))?;
        let fetched = tokio::time::timeout(KEY_SET_BUDGET, async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unavailable(&e))?;
            // A redirect is not followed: it is an answer other than the key set.
            if !response.status().is_success() {
                return Err(unavailable(&response.status()));
            }
            let max_age = response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map_or(DEFAULT_MAX_AGE, max_age);
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| unavailable(&e))?
                .to_bytes();
            Ok((body, max_age))
        })
        .await;
        let (body, max_age) = fetched.map_err(|_| {
            unavailable(&format!("no key set within {} s", KEY_SET_BUDGET.as_secs()))
        })??;
        let set: serde_json::Value = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        let keys = parse_key_set(&set);
        tracing::info!(keys = keys.len(), ?max_age, "JWKS fetched");
        Ok((keys, max_age))
    }
}

/// How long a response with this `Cache-Control` may be kept, within the bounds.
fn max_age(cache_control: &str) -> Duration {
    let seconds = cache_control
        .split(',')
        .filter_map(|directive| directive.trim().split_once('='))
        .find(|(name, _)| name.eq_ignore_ascii_case("max-age"))
        .and_then(|(_, value)| value.trim().trim_matches('"').parse::<u64>().ok());
    seconds.map_or(DEFAULT_MAX_AGE, |s| {
        Duration::from_secs(s).clamp(MIN_MAX_AGE, MAX_MAX_AGE)
    })
}

/// The usable keys of a JWKS document, by `kid`; anything else is skipped.
fn parse_key_set(set: &serde_json::Value) -> HashMap<String, Key> {
    let Some(entries) = set.get("keys").and_then(|k| k.as_array()) else {
        return HashMap::new();
    };
    entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algorithm = key_algorithm(&jwk)?;
            let decoding = DecodingKey::from_jwk(&jwk).ok()?;
            Some((
                kid,
                Key {
                    decoding,
                    algorithm,
                },
            ))
        })
        .collect()
}

/// The algorithm a key verifies: its `alg` when given, else the one its curve implies.
/// Symmetric keys and unsupported curves give none.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::RSA(_) => None,
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::ES384) => Some(Algorithm::ES384),
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
        Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
        Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
        Some(KeyAlgorithm::PS384) => Some(Algorithm::PS384),
        Some(KeyAlgorithm::PS512) => Some(Algorithm::PS512),
        Some(_) => return None,
        None => None,
    };
    match (declared, implied) {
        // A declared alg must fit the key's type.
        (Some(d), Some(i)) => (d == i).then_some(d),
        (Some(d), None) if matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) => Some(d),
        (None, implied) => implied,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_asymmetric_keys_with_a_clear_algorithm_are_taken() {
        let set = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "liar", "alg": "ES256"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "weird", "kid": "w"}
        ]});
        let keys = parse_key_set(&set);
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ed"]);
        assert_eq!(keys["ed"].algorithm, Algorithm::EdDSA);
        assert!(parse_key_set(&json!({"nope": 1})).is_empty());
    }

    mod served {
        use crate::auth::{AuthError, IssuedToken, TokenIssuer, TokenVerifier};
        use crate::config::{AuthConfig, JwksConfig, Secret};
        use crate::model::Subject;
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        use base64::Engine;
        use jsonwebtoken::{Algorithm, EncodingKey, Header};
        use serde_json::{Value, json};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        const SECRET: &str = "test-secret-test-secret-test-secret!";

        /// A key server on loopback that counts its fetches.
        async fn serve(jwks: Value) -> (String, Arc<AtomicUsize>) {
            serve_raw("200 OK", "", jwks.to_string()).await
        }

        /// A server answering every request with `status`, extra `headers` (each line
        /// ending in CRLF) and `body`; it counts the requests.
        async fn serve_raw(
            status: &'static str,
            headers: &str,
            body: String,
        ) -> (String, Arc<AtomicUsize>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/api/auth/jwks", listener.local_addr().unwrap());
            let hits = Arc::new(AtomicUsize::new(0));
            let counter = hits.clone();
            let headers = headers.to_owned();
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                }
            });
            (url, hits)
        }

        struct Signer {
            key: EncodingKey,
            public_x: String,
        }

        fn ed25519() -> Signer {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            Signer {
                key: EncodingKey::from_ed_der(pkcs8.as_ref()),
                public_x: base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(pair.public_key().as_ref()),
            }
        }

        /// Issues and verifies with one configuration, as `auth` and a task function do.
        struct Service(TokenIssuer, TokenVerifier);

        impl Service {
            fn issue(&self, sub: &str, username: &str) -> Result<IssuedToken, AuthError> {
                self.0.issue(sub, username)
            }
            async fn verify(&self, token: &str) -> Result<Subject, AuthError> {
                self.1.verify(token).await
            }
        }

        fn service(url: &str) -> (Service, String) {
            let origin = url.trim_end_matches("/api/auth/jwks").to_owned();
            let config = AuthConfig {
                secret: Secret::new(SECRET),
                expires_in: 1800,
                issuer: None,
                audience: None,
                bcrypt_cost: 10,
                throttle: crate::config::Throttle {
                    max_failures: 10,
                    max_address_failures: 100,
                    window: std::time::Duration::from_secs(900),
                },
                jwks: Some(JwksConfig {
                    url: url.to_owned(),
                    issuer: origin.clone(),
                    audience: origin.clone(),
                }),
            };
            (
                Service(TokenIssuer::new(&config), TokenVerifier::new(&config)),
                origin,
            )
        }

        fn sign(signer: &Signer, alg: Algorithm, kid: &str, claims: Value) -> String {
            let mut header = Header::new(alg);
            header.kid = Some(kid.to_owned());
            jsonwebtoken::encode(&header, &claims, &signer.key).unwrap()
        }

        fn now() -> u64 {
            jsonwebtoken::get_current_timestamp()
        }

        fn is_401(result: Result<Subject, AuthError>) {
            assert!(matches!(result, Err(AuthError::Rejected(_))), "{result:?}");
        }

        #[tokio::test]
        async fn better_auth_tokens_verify_against_the_key_set() {
            let signer = ed25519();
            let (url, hits) = serve(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": signer.public_x, "kid": "k1", "alg": "EdDSA"}]})).await;
            let (service, origin) = service(&url);
            let claims = |extra: Value| {
                let mut c =
                    json!({"sub": "ba_user_7Hq", "iss": origin, "aud": origin, "exp": now() + 900});
                c.as_object_mut()
                    .unwrap()
                    .extend(extra.as_object().unwrap().clone());
                c
            };
            let good = sign(&signer, Algorithm::EdDSA, "k1", claims(json!({})));
            assert_eq!(service.verify(&good).await.unwrap().as_str(), "ba_user_7Hq");
            assert_eq!(service.verify(&good).await.unwrap().as_str(), "ba_user_7Hq");
            assert_eq!(hits.load(Ordering::SeqCst), 1, "the key set is cached");

            // Another audience, another issuer, expired: each is refused.
            for wrong in [
                json!({"aud": "https://other.example"}),
                json!({"iss": "https://evil.example"}),
                json!({"exp": now() - 300}),
            ] {
                let token = sign(&signer, Algorithm::EdDSA, "k1", claims(wrong));
                is_401(service.verify(&token).await);
            }
            let no_aud = json!({"sub": "u", "iss": origin, "exp": now() + 900});
            is_401(
                service
                    .verify(&sign(&signer, Algorithm::EdDSA, "k1", no_aud))
                    .await,
            );

            // A token from another key with a known kid fails its signature.
            let stranger = ed25519();
            is_401(
                service
                    .verify(&sign(&stranger, Algorithm::EdDSA, "k1", claims(json!({}))))
                    .await,
            );

            // An unknown kid refetches at most once a minute.
            is_401(
                service
                    .verify(&sign(&signer, Algorithm::EdDSA, "k2", claims(json!({}))))
                    .await,
            );
            is_401(
                service
                    .verify(&sign(&signer, Algorithm::EdDSA, "k3", claims(json!({}))))
                    .await,
            );
            assert_eq!(hits.load(Ordering::SeqCst), 1);

            // HS256 is only ever checked against BETTER_AUTH_SECRET, never a public key.
            let confused = jsonwebtoken::encode(
                &Header {
                    kid: Some("k1".into()),
                    ..Header::new(Algorithm::HS256)
                },
                &claims(json!({})),
                &EncodingKey::from_secret(signer.public_x.as_bytes()),
            )
            .unwrap();
            is_401(service.verify(&confused).await);
            let ours = service.issue("local-user", "ann").unwrap();
            assert_eq!(
                service.verify(&ours.access_token).await.unwrap().as_str(),
                "local-user"
            );
        }

        #[tokio::test]
        async fn a_token_must_use_its_keys_algorithm_and_name_it() {
            let signer = ed25519();
            let (url, _) = serve(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": signer.public_x, "kid": "k1"}]})).await;
            let (service, origin) = service(&url);
            let claims = json!({"sub": "u", "iss": origin, "aud": origin, "exp": now() + 900});
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = None;
            is_401(
                service
                    .verify(&jsonwebtoken::encode(&header, &claims, &signer.key).unwrap())
                    .await,
            );
            // Claiming ES256 over an Ed25519 key.
            let token = sign(&signer, Algorithm::EdDSA, "k1", claims.clone());
            let (_, rest) = token.split_once('.').unwrap();
            let forged_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#);
            is_401(service.verify(&format!("{forged_header}.{rest}")).await);
            assert!(service.verify(&token).await.is_ok());
        }

        #[tokio::test]
        async fn an_unreachable_key_set_is_a_503() {
            let signer = ed25519();
            // Nothing listens on port 1.
            let (service, origin) = service("http://127.0.0.1:1/api/auth/jwks");
            let token = sign(
                &signer,
                Algorithm::EdDSA,
                "k1",
                json!({"sub": "u", "iss": origin, "aud": origin, "exp": now() + 900}),
            );
            assert!(matches!(
                service.verify(&token).await,
                Err(AuthError::KeySetUnavailable(_))
            ));
            // Within the minute it is not asked again: the kid is simply unknown.
            is_401(service.verify(&token).await);
        }

        fn good_token(signer: &Signer, origin: &str) -> String {
            sign(
                signer,
                Algorithm::EdDSA,
                "k1",
                json!({"sub": "u", "iss": origin, "aud": origin, "exp": now() + 7200}),
            )
        }

        fn key_set(signer: &Signer) -> Value {
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": signer.public_x, "kid": "k1"}]})
        }

        /// Moves this test's clock (the cache's) forward, as if `by` had passed.
        async fn pass(by: std::time::Duration) {
            tokio::time::pause();
            tokio::time::advance(by).await;
            tokio::time::resume();
        }

        #[tokio::test]
        async fn cached_keys_expire_after_the_responses_max_age() {
            let signer = ed25519();
            let headers = "cache-control: public, max-age=300\r\n";
            let (url, hits) = serve_raw("200 OK", headers, key_set(&signer).to_string()).await;
            let (service, origin) = service(&url);
            let token = good_token(&signer, &origin);
            assert!(service.verify(&token).await.is_ok());
            pass(std::time::Duration::from_secs(290)).await;
            assert!(service.verify(&token).await.is_ok());
            assert_eq!(hits.load(Ordering::SeqCst), 1, "still fresh");
            pass(std::time::Duration::from_secs(20)).await;
            assert!(service.verify(&token).await.is_ok());
            assert_eq!(hits.load(Ordering::SeqCst), 2, "expired, fetched again");
        }

        #[test]
        fn max_age_is_bounded() {
            use super::super::max_age;
            let secs = |header: &str| max_age(header).as_secs();
            assert_eq!(secs("public, max-age=300"), 300);
            assert_eq!(secs("max-age=5"), 60);
            assert_eq!(secs("max-age=86400, immutable"), 3600);
            assert_eq!(secs("no-cache"), 600);
            assert_eq!(secs("max-age=soon"), 600);
        }

        #[tokio::test]
        async fn a_redirect_is_not_followed() {
            let signer = ed25519();
            let (elsewhere, elsewhere_hits) = serve(key_set(&signer)).await;
            let location = format!("location: {elsewhere}\r\n");
            let (url, _) = serve_raw("302 Found", &location, String::new()).await;
            let (service, origin) = service(&url);
            let result = service.verify(&good_token(&signer, &origin)).await;
            assert!(
                matches!(result, Err(AuthError::KeySetUnavailable(_))),
                "{result:?}"
            );
            assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
        }

        #[tokio::test]
        async fn a_key_set_over_64_kib_is_refused() {
            let signer = ed25519();
            let mut set = key_set(&signer);
            set["padding"] = json!("x".repeat(70 * 1024));
            let (url, _) = serve_raw("200 OK", "", set.to_string()).await;
            let (service, origin) = service(&url);
            let result = service.verify(&good_token(&signer, &origin)).await;
            assert!(
                matches!(result, Err(AuthError::KeySetUnavailable(_))),
                "{result:?}"
            );
        }
    }
}
