//! Field errors, and reading a JSON object's fields into validated types while
//! collecting every problem, so a client learns about all of them at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One offending input: a body field, a query parameter or a path parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors so a client learns about all of them at once. As an error it
/// means "this input is invalid, for these reasons".
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// One error.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        write!(f, "invalid input: {}", list.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Keeps `Ok` values, records `Err` messages under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.push(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The errors, in the order they were found.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// Adds another set's errors after these.
    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }
}

/// A type a client sends as a JSON string, checked as it is read: `parse` answers the
/// value, or the message the client sees.
pub trait Text: Sized {
    fn parse(raw: &str) -> Result<Self, String>;
}

/// A type a JSON value is read into, or the message the client sees.
pub trait FromJson: Sized {
    fn from_json(value: &Value) -> Result<Self, String>;
}

impl<T: Text> FromJson for T {
    fn from_json(value: &Value) -> Result<Self, String> {
        T::parse(value.as_str().ok_or("must be a string")?)
    }
}

/// Only `true`/`false`, not `"true"` or `1`.
impl FromJson for bool {
    fn from_json(value: &Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| "must be a boolean".to_owned())
    }
}

/// Any string (a confirmation compared with another field).
impl Text for String {
    fn parse(raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }
}

/// One field of a typed request body, as read: a body type derives `Deserialize` with
/// `Field`s, so reading never stops at the first bad field; its validation then asks
/// each field for its value with [`Field::required`] or [`Field::optional`], which
/// record every problem, so a client learns about all of them at once.
#[derive(Debug, Default)]
pub enum Field<T> {
    /// Absent, or `null`.
    #[default]
    Missing,
    Valid(T),
    /// Present but not a valid `T`: why.
    Invalid(String),
}

impl<'de, T: FromJson> Deserialize<'de> for Field<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Self::Missing,
            value => match T::from_json(&value) {
                Ok(value) => Self::Valid(value),
                Err(message) => Self::Invalid(message),
            },
        })
    }
}

impl<T> Field<T> {
    /// The value of a field that must be present and not null; `None` once the
    /// problem is recorded under `name`.
    pub fn required(self, name: &str, errors: &mut FieldErrors) -> Option<T> {
        match self {
            Self::Valid(value) => Some(value),
            Self::Missing => errors.check(name, Err("is required".into())),
            Self::Invalid(message) => errors.check(name, Err(message)),
        }
    }

    /// The value of a field that may be absent or null (`Some(None)`); `None` once the
    /// problem is recorded under `name`.
    pub fn optional(self, name: &str, errors: &mut FieldErrors) -> Option<Option<T>> {
        match self {
            Self::Valid(value) => Some(Some(value)),
            Self::Missing => Some(None),
            Self::Invalid(message) => errors.check(name, Err(message)),
        }
    }
}
