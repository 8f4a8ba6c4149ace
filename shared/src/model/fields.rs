//! Field errors, and reading a JSON object's fields into validated types while
//! collecting every problem, so a client learns about all of them at once.

use serde::Serialize;
use serde_json::{Map, Value};

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

/// Reads the fields of a JSON object, collecting every problem before answering.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Self {
            object,
            errors: FieldErrors::default(),
        }
    }

    /// A field that must be present and not null.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.push(name, "is required");
                None
            }
            Some(value) => self.errors.check(name, parse(value)),
        }
    }

    /// A field that may be absent or null (`Some(None)`).
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.errors.check(name, parse(value)).map(Some),
        }
    }

    /// Records a problem found across fields (e.g. a confirmation that differs).
    pub fn reject(&mut self, name: &str, message: &str) {
        self.errors.push(name, message);
    }

    /// The parsed values when every field was valid, else every problem found.
    /// Pass `(|| Some((a?, b?)))()`: it is `Some` exactly when no field failed.
    pub fn finish<T>(self, values: Option<T>) -> Result<T, FieldErrors> {
        match values {
            Some(values) if self.errors.is_empty() => Ok(values),
            _ => {
                let mut errors = self.errors;
                if errors.is_empty() {
                    errors.push("body", "is invalid");
                }
                Err(errors)
            }
        }
    }
}

/// The string inside a JSON value, or a message for the client.
pub fn json_string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

/// The boolean inside a JSON value (only `true`/`false`, not `"true"` or `1`).
pub fn json_bool(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be a boolean".to_owned())
}
