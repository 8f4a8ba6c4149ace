//! bcrypt hashing, run on the blocking pool so a slow hash never stalls the runtime.

use super::AuthError;
use crate::model::Password;

/// Hashes of random, forgotten passwords, one per allowed cost (10–14). A login for an
/// unknown account is verified against the one of the configured cost, so it takes as
/// long as a wrong password for a real account and timing does not reveal who exists.
/// Constants rather than a hash at cold start: that would add a bcrypt hash to every start.
const DUMMY_HASHES: [&str; 5] = [
    "$2b$10$n7cleCdZ3PyIiZXlEk1K1.9vU5aJ28QWduO1.pcQUlBO4bMMy3vLO",
    "$2b$11$.hsK5hiiwu/n4Y1ikuRVkOSvoexNM3yGhWliWbI2nBlNgfiwIfOfG",
    "$2b$12$SP/lN1QtLk0pV7vDV0Zi1Ofq9mOl3iOVFujoiyEm1W20surCfI.Wy",
    "$2b$13$k1K5os5N0vJ272q9mFOMTOQbiptKa7hg8a9YmUVk6nmh4TzkAw/bK",
    "$2b$14$qyu6c3NPM/BSROrZcsvoput/jxS.FGZ.atRErUFhsMDly0mDyPBz2",
];

#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
}

impl Passwords {
    /// `cost` is 10–14 (checked by the configuration).
    pub fn new(cost: u32) -> Self {
        Self {
            cost: cost.clamp(10, 14),
        }
    }

    pub async fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let password = password.expose().to_owned();
        let cost = self.cost;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await
            .map_err(|e| AuthError::failed("the hashing task", e))?
            .map_err(|e| AuthError::failed("hashing a password", e))
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) the work is
    /// done against a dummy hash all the same and the answer is `false`.
    pub async fn verify(&self, password: &str, hash: Option<String>) -> Result<bool, AuthError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash().to_owned());
        // Longer than bcrypt reads can never match (signup refuses it); verify a
        // truncated copy anyway so the time is the same.
        let too_long = password.len() > Password::MAX_BYTES;
        let password: Vec<u8> = password.bytes().take(Password::MAX_BYTES).collect();
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .map_err(|e| AuthError::failed("the verifying task", e))?
            // A stored hash that does not parse is data corruption, not a client error.
            .map_err(|e| AuthError::failed("verifying a password", e))?;
        Ok(known && matched && !too_long)
    }

    /// Whether a stored hash was made at another cost than the configured one: then it
    /// is rehashed at the next successful login, so that raising `BCRYPT_COST` leaves
    /// no old, faster hashes whose logins take less time than unknown accounts'.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.parse::<bcrypt::HashParts>()
            .map_or(true, |parts| parts.get_cost() != self.cost)
    }

    fn dummy_hash(&self) -> &'static str {
        DUMMY_HASHES[(self.cost - 10) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Text;

    #[test]
    fn dummy_hashes_have_their_cost() {
        for (i, hash) in DUMMY_HASHES.iter().enumerate() {
            let parts: bcrypt::HashParts = hash.parse().unwrap();
            assert_eq!(parts.get_cost(), 10 + i as u32);
        }
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let passwords = Passwords::new(10);
        let pw = Password::parse("correct horse").unwrap();
        let hash = passwords.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$2b$10$"));
        assert!(!hash.contains("correct horse"));
        assert!(
            passwords
                .verify("correct horse", Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse", Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("correct horse", None).await.unwrap());
        let long = format!("correct horse{}", "x".repeat(80));
        assert!(!passwords.verify(&long, Some(hash)).await.unwrap());
    }
}
