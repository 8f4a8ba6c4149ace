use super::{After, Field, FieldErrors, Text, bounded};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A task as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Raised by every write; the task's `ETag`. Not part of the task's JSON.
    #[serde(skip)]
    pub version: i64,
}

/// Trimmed, 1–200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 200;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Text for Title {
    fn parse(raw: &str) -> Result<Self, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("must not be empty".into());
        }
        bounded(value, Self::MAX_CHARS)?;
        Ok(Self(value.to_owned()))
    }
}

/// At most 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 2000;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Text for Description {
    fn parse(raw: &str) -> Result<Self, String> {
        bounded(raw, Self::MAX_CHARS)?;
        Ok(Self(raw.to_owned()))
    }
}

/// A task's body as sent (`POST`, `PUT`): every field read, unknown ones ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskBody {
    pub title: Field<Title>,
    pub description: Field<Description>,
    pub completed: Field<bool>,
}

/// `PATCH …/complete`'s body: `completed`, or nothing to toggle.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CompleteBody {
    pub completed: Field<bool>,
}

/// The fields a create or a full replacement writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChanges {
    pub title: Title,
    pub description: Option<Description>,
    pub completed: bool,
}

impl TaskChanges {
    /// POST body: `title` required, `description` optional, `completed` defaults to false.
    pub fn for_create(body: TaskBody) -> Result<Self, FieldErrors> {
        Self::read(body, false)
    }

    /// PUT body: `title` and `completed` required, absent `description` becomes null.
    pub fn for_replace(body: TaskBody) -> Result<Self, FieldErrors> {
        Self::read(body, true)
    }

    fn read(body: TaskBody, completed_required: bool) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = body.title.required("title", &mut errors);
        let description = body.description.optional("description", &mut errors);
        let completed = if completed_required {
            body.completed.required("completed", &mut errors)
        } else {
            let completed = body.completed.optional("completed", &mut errors);
            completed.map(|c| c.unwrap_or(false))
        };
        match (title, description, completed) {
            (Some(title), Some(description), Some(completed)) => Ok(Self {
                title,
                description,
                completed,
            }),
            _ => Err(errors),
        }
    }
}

/// `page` ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page(u32);

impl Page {
    /// A page number from a cursor: any page after the first may be reached by cursor.
    pub fn new(n: u32) -> Option<Self> {
        (n >= 1).then_some(Self(n))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Ok(Self(n)),
            _ => Err("must be a whole number from 1 to 1000000".into()),
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// `page_size` 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const MAX: u32 = 100;
    pub fn new(n: u32) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse::<u32>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("must be a whole number from 1 to {}", Self::MAX))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The columns a list may be sorted by; never text from the request in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    CreatedAt,
    UpdatedAt,
    Title,
}

impl SortBy {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "created_at" => Ok(Self::CreatedAt),
            "updated_at" => Ok(Self::UpdatedAt),
            "title" => Ok(Self::Title),
            _ => Err("must be one of created_at, updated_at, title".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Title => "title",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            _ => Err("must be asc or desc".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// A validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: Page,
    pub page_size: PageSize,
    pub sort_by: SortBy,
    pub sort_order: SortOrder,
    pub completed: Option<bool>,
    /// From a cursor: the page starts after this task (and `page` is the number it
    /// stands for). Otherwise the page is found by its number.
    pub after: Option<After>,
}

impl ListQuery {
    /// Reads the query parameters through `get`, and a `cursor` through `open` (which
    /// gives the listing a cursor continues, if it is one of the owner's); reports every
    /// invalid parameter by name.
    ///
    /// A cursor stands for a whole listing and its page, so `page` beside it is refused,
    /// and `page_size`, `sort_by`, `sort_order` or `completed` beside it must be the
    /// cursor's own (a client may keep them in its URLs).
    pub fn read<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
        open: impl FnOnce(&str) -> Option<ListQuery>,
    ) -> Result<Self, FieldErrors> {
        let query = Self::parse(&get)?;
        let Some(cursor) = get("cursor") else {
            return Ok(query);
        };
        if get("page").is_some() {
            return Err(FieldErrors::one(
                "cursor",
                "cannot be combined with page: a cursor stands for its own page",
            ));
        }
        let Some(continued) = open(cursor) else {
            return Err(FieldErrors::one(
                "cursor",
                "is not a cursor of this listing: send the next_cursor of one of its pages",
            ));
        };
        let differs = [
            ("page_size", query.page_size != continued.page_size),
            ("sort_by", query.sort_by != continued.sort_by),
            ("sort_order", query.sort_order != continued.sort_order),
            ("completed", query.completed != continued.completed),
        ];
        if let Some((name, _)) = differs
            .into_iter()
            .find(|&(name, differs)| differs && get(name).is_some())
        {
            return Err(FieldErrors::one(
                "cursor",
                format!(
                    "continues a listing with another {name}: leave {name} out, or send the same"
                ),
            ));
        }
        Ok(continued)
    }

    /// The parameters besides `cursor`, validated, with their defaults.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, FieldErrors> {
        fn param<T>(
            errors: &mut FieldErrors,
            name: &str,
            raw: Option<&str>,
            default: T,
            parse: fn(&str) -> Result<T, String>,
        ) -> Option<T> {
            match raw {
                None => Some(default),
                Some(raw) => errors.check(name, parse(raw)),
            }
        }
        let mut errors = FieldErrors::default();
        let page = param(&mut errors, "page", get("page"), Page(1), Page::parse);
        let page_size = param(
            &mut errors,
            "page_size",
            get("page_size"),
            PageSize(20),
            PageSize::parse,
        );
        let sort_by = param(
            &mut errors,
            "sort_by",
            get("sort_by"),
            SortBy::CreatedAt,
            SortBy::parse,
        );
        let sort_order = param(
            &mut errors,
            "sort_order",
            get("sort_order"),
            SortOrder::Desc,
            SortOrder::parse,
        );
        let completed = param(&mut errors, "completed", get("completed"), None, |r| {
            parse_bool(r).map(Some)
        });
        match (page, page_size, sort_by, sort_order, completed) {
            (Some(page), Some(page_size), Some(sort_by), Some(sort_order), Some(completed))
                if errors.is_empty() =>
            {
                Ok(Self {
                    page,
                    page_size,
                    sort_by,
                    sort_order,
                    completed,
                    after: None,
                })
            }
            _ => Err(errors),
        }
    }

    /// Rows skipped before the page: none after a cursor (the page starts at its task).
    pub fn offset(&self) -> i64 {
        match self.after {
            Some(_) => 0,
            None => i64::from(self.page.get() - 1) * i64::from(self.page_size.get()),
        }
    }
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FromJson;
    use serde_json::{Value, json};

    fn body(v: Value) -> TaskBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  milk ").unwrap().as_str(), "milk");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"ß".repeat(200)).is_ok());
        assert!(Title::parse(&"ß".repeat(201)).is_err());
        assert!(Title::parse("a\0b").is_err());
        assert!(Title::from_json(&json!(5)).is_err());
        assert!(bool::from_json(&json!("true")).is_err());
    }

    #[test]
    fn descriptions_are_bounded() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"x".repeat(2000)).is_ok());
        assert!(Description::parse(&"x".repeat(2001)).is_err());
        assert!(Description::parse("\0").is_err());
    }

    #[test]
    fn create_defaults_and_replace_requires() {
        let c = TaskChanges::for_create(body(json!({"title": " a "}))).unwrap();
        assert_eq!(
            c,
            TaskChanges {
                title: Title("a".into()),
                description: None,
                completed: false
            }
        );
        let err = TaskChanges::for_replace(body(json!({"title": "a"}))).unwrap_err();
        assert_eq!(err.as_slice()[0].field, "completed");
        let err = TaskChanges::for_create(body(
            json!({"title": "", "completed": "yes", "description": 1}),
        ))
        .unwrap_err();
        let fields: Vec<_> = err.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "description", "completed"]);
    }

    #[test]
    fn list_query_defaults_and_errors() {
        let q = ListQuery::parse(|_| None).unwrap();
        assert_eq!(
            (
                q.page.get(),
                q.page_size.get(),
                q.sort_by,
                q.sort_order,
                q.completed
            ),
            (1, 20, SortBy::CreatedAt, SortOrder::Desc, None)
        );
        let q = ListQuery::parse(|n| match n {
            "page" => Some("3"),
            "page_size" => Some("10"),
            "sort_by" => Some("title"),
            "sort_order" => Some("asc"),
            "completed" => Some("true"),
            _ => None,
        })
        .unwrap();
        assert_eq!(q.offset(), 20);
        assert_eq!(
            (q.sort_by, q.sort_order, q.completed),
            (SortBy::Title, SortOrder::Asc, Some(true))
        );
        let err = ListQuery::parse(|n| match n {
            "page" => Some("0"),
            "page_size" => Some("101"),
            "sort_by" => Some("id; drop"),
            "sort_order" => Some("up"),
            "completed" => Some("1"),
            _ => None,
        })
        .unwrap_err();
        let fields: Vec<_> = err.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["page", "page_size", "sort_by", "sort_order", "completed"]
        );
    }
}
