//! `POST /api/auth/signup`, `/api/auth/login`, `/api/v1/auth/register`, `/api/v1/auth/token`.

use crate::AuthState;
use crate::auth::IssuedToken;
use crate::db::logins::{self, Reserved};
use crate::db::users::{self, CreateError, Taken};
use crate::http::{
    ApiError, ApiResult, Params, client_address, form_body, json, json_body, no_store,
};
use crate::metrics;
use crate::model::{AccountBody, Email, FieldErrors, LoginBody, Password, Text, User, Username};
use lambda_http::{Request, http::StatusCode};
use serde::Serialize;

/// Signup's answer: the new user and a token, so the client is logged in at once.
#[derive(Serialize)]
struct Session {
    user: User,
    #[serde(flatten)]
    token: IssuedToken,
}

/// A validated new account.
struct NewAccount {
    username: Username,
    email: Email,
    password: Password,
}

fn read_account(req: &Request, with_confirmation: bool) -> Result<NewAccount, ApiError> {
    let body: AccountBody = json_body(req)?;
    let mut errors = FieldErrors::default();
    let username = body.username.required("username", &mut errors);
    let email = body.email.required("email", &mut errors);
    let password = body.password.required("password", &mut errors);
    if with_confirmation {
        let confirmation = body
            .confirm_password
            .required("confirm_password", &mut errors);
        if let (Some(password), Some(confirmation)) = (&password, confirmation)
            && password.expose() != confirmation
        {
            errors.push("confirm_password", "must match password");
        }
    }
    match (username, email, password) {
        (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(NewAccount {
            username,
            email,
            password,
        }),
        _ => Err(errors.into()),
    }
}

/// Hashes the password and inserts the account: `Ok(Err(taken))` when the email or
/// username already belongs to someone (decided by the unique indexes, so races are safe).
async fn create_account(
    state: &AuthState,
    account: &NewAccount,
) -> Result<Result<User, Taken>, ApiError> {
    let hash = state.passwords.hash(&account.password).await?;
    match users::create(&state.db, &account.username, &account.email, &hash).await {
        Ok(user) => Ok(Ok(user)),
        Err(CreateError::Taken(taken)) => Ok(Err(taken)),
        Err(CreateError::Db(e)) => Err(e.into()),
    }
}

/// `POST /api/auth/signup`: 201 with a session, 409 when the email or username is taken.
pub async fn signup(state: &AuthState, req: &Request, _: &Params) -> ApiResult {
    let account = read_account(req, true)?;
    match create_account(state, &account).await? {
        Ok(user) => {
            metrics::event("SignupSucceeded");
            let token = state.issuer.issue(&user.id.to_string(), &user.username)?;
            json(StatusCode::CREATED, &Session { user, token }).map(no_store)
        }
        Err(taken) => Err(ApiError::Conflict(format!(
            "An account with this {} is already registered.",
            taken.field()
        ))),
    }
}

/// `POST /api/v1/auth/register`: 201 with the user; a taken email or username is a 400.
pub async fn register(state: &AuthState, req: &Request, _: &Params) -> ApiResult {
    let account = read_account(req, false)?;
    match create_account(state, &account).await? {
        Ok(user) => {
            metrics::event("SignupSucceeded");
            json(StatusCode::CREATED, &user)
        }
        Err(taken) => Err(ApiError::validation(taken.field(), "is already registered")),
    }
}

/// `POST /api/auth/login`: `username` (the username or the email) or `email`, and
/// `password`. A given identifier must not be blank; `username` wins when both are.
pub async fn login(state: &AuthState, req: &Request, _: &Params) -> ApiResult {
    let body: LoginBody = json_body(req)?;
    let mut errors = FieldErrors::default();
    let username = body.username.optional("username", &mut errors);
    let email = body.email.optional("email", &mut errors);
    let password = body.password.required("password", &mut errors);
    let (field, identifier) = match (username, email) {
        (Some(Some(username)), _) => ("username", Some(username)),
        (Some(None), Some(Some(email))) => ("email", Some(email)),
        (Some(None), Some(None)) => {
            errors.push("username", "give a username or an email address");
            ("username", None)
        }
        _ => ("username", None),
    };
    let (Some(identifier), Some(password), true) = (identifier, password, errors.is_empty()) else {
        return Err(errors.into());
    };
    let user = check_credentials(state, req, field, identifier.as_str(), password.expose()).await?;
    let token = state.issuer.issue(&user.id.to_string(), &user.username)?;
    json(StatusCode::OK, &Session { user, token }).map(no_store)
}

/// `POST /api/v1/auth/token`: the OAuth2 password grant, as Swagger UI's dialog sends it.
pub async fn token(state: &AuthState, req: &Request, _: &Params) -> ApiResult {
    let form = form_body(req)?;
    let get = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let mut errors = FieldErrors::default();
    if let Some(grant) = get("grant_type")
        && grant != "password"
    {
        errors.push("grant_type", "must be password");
    }
    let username = get("username").map(str::trim).filter(|u| !u.is_empty());
    let password = get("password").filter(|p| !p.is_empty());
    if username.is_none() {
        errors.push("username", "is required");
    }
    if password.is_none() {
        errors.push("password", "is required");
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(errors.into());
    };
    errors.into_result()?;
    let user = check_credentials(state, req, "username", username, password).await?;
    let token = state.issuer.issue(&user.id.to_string(), &user.username)?;
    json(StatusCode::OK, &token).map(no_store)
}

/// The longest identifier that can name an account: an email address's limit, counted
/// the same way (characters, after NFKC normalisation).
const MAX_IDENTIFIER_CHARS: usize = 254;

/// A login identifier as it is compared with accounts: NFKC-normalised like the emails
/// signup stores, then trimmed; an error (a 400) when no account could have it.
fn identifier(raw: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let normalized: String = raw.nfkc().collect::<String>().trim().to_owned();
    crate::model::bounded(&normalized, MAX_IDENTIFIER_CHARS)?;
    Ok(normalized)
}

/// The account for these credentials, or the same 401 whether the account is missing or
/// the password wrong; both paths run one bcrypt verification, so they take as long.
///
/// Throttled per (account, client address) and per client address (db::logins): the
/// attempt is counted before the password is checked, and past a limit the answer is a
/// 429 without a check. A success takes its count back (and stores a rehash, if one is
/// due) in a second statement; if that fails, the login still succeeds, and the
/// attempt stays counted as a failure.
async fn check_credentials(
    state: &AuthState,
    req: &Request,
    field: &str,
    identifier_text: &str,
    password: &str,
) -> Result<User, ApiError> {
    let identifier = identifier(identifier_text).map_err(|e| ApiError::validation(field, e))?;
    let address = client_address(req);
    let (account, keys) =
        match logins::reserve(&state.db, &identifier, &address, &state.throttle).await? {
            Reserved::Throttled { retry_after } => {
                metrics::event("LoginThrottled");
                return Err(ApiError::TooManyRequests { retry_after });
            }
            Reserved::Counted { account, keys } => (account, keys),
        };
    let hash = account.as_ref().map(|(_, hash)| hash.clone());
    let matched = state.passwords.verify(password, hash).await?;
    let Some((user, hash)) = account.filter(|_| matched) else {
        metrics::event("LoginFailed");
        return Err(ApiError::Unauthorized {
            detail: "Invalid username or password.".into(),
            token_sent: false,
        });
    };
    metrics::event("LoginSucceeded");
    let new_hash = match state.passwords.needs_rehash(&hash) {
        true => rehash(state, password).await,
        false => None,
    };
    match logins::succeeded(&state.db, &keys, user.id, new_hash.as_deref()).await {
        Ok(()) if new_hash.is_some() => {
            tracing::info!(user = %user.id, "password rehashed at the configured cost")
        }
        Ok(()) => {}
        Err(error) => tracing::warn!(
            user = %user.id,
            error = %crate::http::chain(&error),
            "could not take a successful login's count back (or store its rehash)"
        ),
    }
    Ok(user)
}

/// The password hashed at the configured cost. A failure is logged, not answered: the
/// login itself succeeded, and the next one tries again.
async fn rehash(state: &AuthState, password: &str) -> Option<String> {
    let result = async {
        let password = Password::parse(password).map_err(ApiError::internal)?;
        Ok::<_, ApiError>(state.passwords.hash(&password).await?)
    };
    match result.await {
        Ok(hash) => Some(hash),
        Err(error) => {
            tracing::warn!(error = %crate::http::chain(&error), "could not rehash the password");
            None
        }
    }
}
