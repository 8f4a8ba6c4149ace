//! HS256 access tokens: issued by `auth`, verified by every task function.

use super::AuthError;
use super::claims::{LEEWAY_SECONDS, Verified};
use super::jwks::JwksVerifier;
use crate::config::AuthConfig;
use crate::model::Subject;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

/// The claims this service issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// The body of a successful login.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// Signs this service's tokens (the `auth` function only). Built once per cold start.
pub struct TokenIssuer {
    encoding: EncodingKey,
    expires_in: u64,
    issuer: Option<String>,
    audience: Option<String>,
}

/// The `iss` and `aud` of the tokens `auth` issues when `JWT_ISSUER`/`JWT_AUDIENCE` are
/// unset. Always issued, so a verifier can tell these tokens from others signed with the
/// same secret (a Better Auth front end's); required only when configured.
pub const DEFAULT_ISSUER_AND_AUDIENCE: &str = "todo-api";

impl TokenIssuer {
    pub fn new(config: &AuthConfig) -> Self {
        let or_default =
            |claim: &Option<String>| claim.clone().or(Some(DEFAULT_ISSUER_AND_AUDIENCE.into()));
        Self {
            encoding: EncodingKey::from_secret(config.secret.expose().as_bytes()),
            expires_in: config.expires_in,
            issuer: or_default(&config.issuer),
            audience: or_default(&config.audience),
        }
    }

    /// A signed token for `sub`.
    pub fn issue(&self, sub: &str, username: &str) -> Result<IssuedToken, AuthError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            username: Some(username.to_owned()),
            iat,
            exp: iat + self.expires_in,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        self.sign(&claims).map(|access_token| IssuedToken {
            access_token,
            token_type: "bearer",
            expires_in: self.expires_in,
        })
    }

    /// Signs arbitrary claims with this service's key (tests and tools use it too).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::failed("signing a token", e))
    }
}

/// Checks bearer tokens: ours (HS256 under `BETTER_AUTH_SECRET`) and, when configured,
/// Better Auth's (its key set). Built once per cold start.
pub struct TokenVerifier {
    jwks: Option<JwksVerifier>,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(config: &AuthConfig) -> Self {
        // Exactly HS256: `none`, RS*, ES*, EdDSA and HS384/512 are refused under this key.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            jwks: config.jwks.clone().map(JwksVerifier::new),
            decoding: DecodingKey::from_secret(config.secret.expose().as_bytes()),
            validation,
        }
    }

    /// The subject of a valid token, or why it was refused, without leaking detail.
    ///
    /// HS256 tokens are checked against `BETTER_AUTH_SECRET` only; with a JWKS
    /// configured, asymmetric ones against its keys; anything else is refused.
    pub async fn verify(&self, token: &str) -> Result<Subject, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::rejected("The token is invalid."))?;
        match (header.alg, &self.jwks) {
            (Algorithm::HS256, _) => self.verify_hs256(token),
            (_, Some(jwks)) => jwks.verify(token, &header).await,
            _ => Err(AuthError::rejected("The token must be signed with HS256.")),
        }
    }

    fn verify_hs256(&self, token: &str) -> Result<Subject, AuthError> {
        let data = jsonwebtoken::decode::<Verified>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                AuthError::rejected(match e.kind() {
                    ErrorKind::ExpiredSignature => "The token has expired.",
                    ErrorKind::ImmatureSignature => "The token is not valid yet.",
                    ErrorKind::InvalidAlgorithm => "The token must be signed with HS256.",
                    _ => "The token is invalid.",
                })
            })?;
        data.claims.subject()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use serde_json::json;

    const SECRET: &str = "test-secret-test-secret-test-secret!";

    fn config() -> AuthConfig {
        AuthConfig {
            secret: Secret::new(SECRET),
            expires_in: 1800,
            issuer: None,
            audience: None,
            bcrypt_cost: 10,
            jwks: None,
            throttle: crate::config::Throttle {
                max_failures: 10,
                max_address_failures: 100,
                window: std::time::Duration::from_secs(900),
            },
        }
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn sign_with(alg: Algorithm, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn detail(err: AuthError) -> String {
        match err {
            AuthError::Rejected(detail) => detail,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Issues and verifies with one configuration, as `auth` and a task function do.
    struct Service(TokenIssuer, TokenVerifier);

    impl Service {
        fn new(config: &AuthConfig) -> Self {
            Self(TokenIssuer::new(config), TokenVerifier::new(config))
        }
        fn issue(&self, sub: &str, username: &str) -> Result<IssuedToken, AuthError> {
            self.0.issue(sub, username)
        }
        async fn verify(&self, token: &str) -> Result<Subject, AuthError> {
            self.1.verify(token).await
        }
    }

    #[tokio::test]
    async fn issued_tokens_carry_the_claims_and_verify() {
        let service = Service::new(&config());
        let issued = service.issue("user-1", "ann").unwrap();
        assert_eq!(issued.expires_in, 1800);
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(
            &issued.access_token,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.username.as_deref(), Some("ann"));
        assert_eq!(claims.exp - claims.iat, 1800);
        assert!(claims.iat.abs_diff(now()) <= 2);
        // Always issued, so tokens from elsewhere under the same secret can be told apart.
        let ours = Some(DEFAULT_ISSUER_AND_AUDIENCE.to_owned());
        assert_eq!((claims.iss, claims.aud), (ours.clone(), ours));
        assert_eq!(
            service.verify(&issued.access_token).await.unwrap().as_str(),
            "user-1"
        );
    }

    #[tokio::test]
    async fn only_hs256_is_accepted() {
        let service = Service::new(&config());
        let claims = json!({"sub": "u", "exp": now() + 600});
        assert!(
            service
                .verify(&sign_with(Algorithm::HS256, claims.clone()))
                .await
                .is_ok()
        );
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            detail(
                service
                    .verify(&sign_with(alg, claims.clone()))
                    .await
                    .unwrap_err(),
            );
        }
        // alg "none": header and claims, empty signature.
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&claims.to_string())
        );
        detail(service.verify(&none).await.unwrap_err());
        // An RS256 header over an HMAC signature must not be accepted either.
        let hs = sign_with(Algorithm::HS256, claims.clone());
        let sig = hs.rsplit('.').next().unwrap();
        let forged = format!(
            "{}.{}.{sig}",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(&claims.to_string())
        );
        detail(service.verify(&forged).await.unwrap_err());
    }

    #[tokio::test]
    async fn time_claims_are_enforced() {
        let service = Service::new(&config());
        let t = now();
        // (claims, the refusal's detail; None: accepted)
        let cases = [
            (
                json!({"sub": "u", "exp": t - 120}),
                Some("The token has expired."),
            ),
            // Within the leeway still passes.
            (json!({"sub": "u", "exp": t - 30}), None),
            // exp is required.
            (json!({"sub": "u"}), Some("")),
            (
                json!({"sub": "u", "exp": t + 600, "nbf": t + 300}),
                Some("The token is not valid yet."),
            ),
            (json!({"sub": "u", "exp": t + 600, "nbf": t - 5}), None),
        ];
        for (claims, refusal) in cases {
            let verified = service
                .verify(&sign_with(Algorithm::HS256, claims.clone()))
                .await;
            match (verified, refusal) {
                (Ok(_), None) => {}
                (Err(err), Some(expected)) => {
                    let detail = detail(err);
                    assert!(
                        expected.is_empty() || detail == expected,
                        "{claims}: {detail}"
                    );
                }
                (verified, _) => panic!("{claims}: {verified:?}"),
            }
        }
    }

    #[tokio::test]
    async fn subject_rules() {
        let service = Service::new(&config());
        let exp = now() + 600;
        detail(
            service
                .verify(&sign_with(Algorithm::HS256, json!({"exp": exp})))
                .await
                .unwrap_err(),
        );
        detail(
            service
                .verify(&sign_with(Algorithm::HS256, json!({"sub": "", "exp": exp})))
                .await
                .unwrap_err(),
        );
        detail(
            service
                .verify(&sign_with(Algorithm::HS256, json!({"sub": 42, "exp": exp})))
                .await
                .unwrap_err(),
        );
        detail(
            service
                .verify(&sign_with(
                    Algorithm::HS256,
                    json!({"sub": "x".repeat(129), "exp": exp}),
                ))
                .await
                .unwrap_err(),
        );
        assert!(
            service
                .verify(&sign_with(
                    Algorithm::HS256,
                    json!({"sub": "x".repeat(128), "exp": exp})
                ))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn wrong_key_and_garbage_are_refused() {
        let service = Service::new(&config());
        let other = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "u", "exp": now() + 60}),
            &EncodingKey::from_secret(b"another-secret-another-secret-another"),
        )
        .unwrap();
        detail(service.verify(&other).await.unwrap_err());
        detail(service.verify("not.a.token").await.unwrap_err());
    }

    #[tokio::test]
    async fn issuer_and_audience_when_configured() {
        let mut cfg = config();
        cfg.issuer = Some("https://todo.example".into());
        cfg.audience = Some("todo-api".into());
        let service = Service::new(&cfg);
        let issued = service.issue("u", "ann").unwrap();
        assert!(service.verify(&issued.access_token).await.is_ok());
        let exp = now() + 600;
        detail(
            service
                .verify(&sign_with(
                    Algorithm::HS256,
                    json!({"sub": "u", "exp": exp}),
                ))
                .await
                .unwrap_err(),
        );
        detail(service.verify(&sign_with(Algorithm::HS256, json!({"sub": "u", "exp": exp, "iss": "https://evil.example", "aud": "todo-api"}))).await.unwrap_err());
        detail(
            service
                .verify(&sign_with(
                    Algorithm::HS256,
                    json!({"sub": "u", "exp": exp, "iss": "https://todo.example", "aud": "other"}),
                ))
                .await
                .unwrap_err(),
        );
        assert!(service.verify(&sign_with(Algorithm::HS256, json!({"sub": "u", "exp": exp, "iss": "https://todo.example", "aud": "todo-api"}))).await.is_ok());
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }
}
