//! The listing's cursor: where the next page of one owner's listing starts.
//!
//! A cursor is `payload.tag`, both base64url. The payload names the listing it continues
//! (sort, order, filter and page size), the page number it stands for, and the last task
//! of the page before it (its sort key and id), from which the next page is read off the
//! index. The tag is HMAC-SHA-256 over the owner and the payload, under a key of its own
//! derived from the signing secret, cut to 128 bits: a cursor that was edited, made up or
//! taken from another user's listing fails it. The payload is not encrypted; it holds
//! nothing its owner has not seen.

use super::{ListQuery, Page, PageSize, SortBy, SortOrder, Subject, Task};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// Bytes of the tag a cursor carries.
const TAG_BYTES: usize = 16;
/// The key's purpose, so it differs from every other use of the signing secret.
const PURPOSE: &[u8] = b"todo-api listing cursor v1";

/// The key that tags and checks cursors, derived once per cold start.
#[derive(Clone)]
pub struct CursorKey(Hmac<Sha256>);

impl CursorKey {
    pub fn derive(signing_secret: &[u8]) -> Self {
        let mut derive = Hmac::<Sha256>::new_from_slice(signing_secret).expect("any key length");
        derive.update(PURPOSE);
        let key = derive.finalize().into_bytes();
        Self(Hmac::new_from_slice(&key).expect("any key length"))
    }

    fn tag(&self, owner: &Subject, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(owner.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// The value of the sort column of the last task of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Title(String),
}

/// Where a page starts: after this task, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub key: SortKey,
    pub id: Uuid,
}

impl After {
    /// Where the page after `task` starts, in a listing sorted by `sort_by`.
    pub fn task(task: &Task, sort_by: SortBy) -> Self {
        let key = match sort_by {
            SortBy::CreatedAt => SortKey::Time(task.created_at),
            SortBy::UpdatedAt => SortKey::Time(task.updated_at),
            SortBy::Title => SortKey::Title(task.title.clone()),
        };
        Self { key, id: task.id }
    }
}

/// A cursor's payload, with short names: it travels in every next-page URL.
#[derive(Serialize, Deserialize)]
struct Payload {
    /// sort_by
    s: String,
    /// sort_order
    o: String,
    /// completed
    c: Option<bool>,
    /// page_size
    n: u32,
    /// the page number
    p: u32,
    /// the sort key: microseconds since the epoch, or a title
    k: Key,
    /// the id
    i: Uuid,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Key {
    Micros(i64),
    Title(String),
}

/// The cursor of the page after `query`'s, which ended with a task whose sort key and
/// id are `last`.
pub fn next_cursor(key: &CursorKey, owner: &Subject, query: &ListQuery, last: After) -> String {
    let payload = Payload {
        s: query.sort_by.as_str().into(),
        o: query.sort_order.as_str().into(),
        c: query.completed,
        n: query.page_size.get(),
        p: query.page.get().saturating_add(1),
        k: match last.key {
            SortKey::Time(at) => Key::Micros(at.timestamp_micros()),
            SortKey::Title(title) => Key::Title(title),
        },
        i: last.id,
    };
    let payload = serde_json::to_vec(&payload).expect("a payload always serialises");
    let tag = key.tag(owner, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        BASE64.encode(&payload),
        BASE64.encode(&tag[..TAG_BYTES])
    )
}

/// The listing `cursor` continues, if `key` tagged it for `owner`; `None` for anything
/// else (so a client learns nothing about why).
pub fn open_cursor(key: &CursorKey, owner: &Subject, cursor: &str) -> Option<ListQuery> {
    let (payload, tag) = cursor.split_once('.')?;
    let payload = BASE64.decode(payload).ok()?;
    let tag = BASE64.decode(tag).ok()?;
    if tag.len() != TAG_BYTES {
        return None;
    }
    key.tag(owner, &payload).verify_truncated_left(&tag).ok()?;
    let payload: Payload = serde_json::from_slice(&payload).ok()?;
    let sort_by = SortBy::parse(&payload.s).ok()?;
    let key = match (sort_by, payload.k) {
        (SortBy::Title, Key::Title(title)) => SortKey::Title(title),
        (SortBy::CreatedAt | SortBy::UpdatedAt, Key::Micros(micros)) => {
            SortKey::Time(DateTime::from_timestamp_micros(micros)?)
        }
        _ => return None,
    };
    Some(ListQuery {
        page: Page::new(payload.p)?,
        page_size: PageSize::new(payload.n)?,
        sort_by,
        sort_order: SortOrder::parse(&payload.o).ok()?,
        completed: payload.c,
        after: Some(After { key, id: payload.i }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str) -> Subject {
        Subject::parse(name).unwrap()
    }

    fn query(sort_by: SortBy) -> ListQuery {
        ListQuery::parse(|name| match name {
            "sort_by" => Some(sort_by.as_str()),
            "sort_order" => Some("asc"),
            "completed" => Some("false"),
            "page_size" => Some("7"),
            "page" => Some("3"),
            _ => None,
        })
        .unwrap()
    }

    fn last(key: SortKey) -> After {
        After {
            key,
            id: Uuid::from_u128(42),
        }
    }

    #[test]
    fn a_cursor_continues_its_listing_on_the_next_page() {
        let key = CursorKey::derive(b"a signing secret of at least 32 bytes!!");
        let at = DateTime::from_timestamp_micros(1_733_000_000_123_456).unwrap();
        for (sort_by, sort_key) in [
            (SortBy::CreatedAt, SortKey::Time(at)),
            (SortBy::UpdatedAt, SortKey::Time(at)),
            (
                SortBy::Title,
                SortKey::Title("milk \u{1F95B} \"quoted\"".into()),
            ),
        ] {
            let q = query(sort_by);
            let cursor = next_cursor(&key, &owner("ann"), &q, last(sort_key.clone()));
            assert!(
                cursor
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            );
            let next = open_cursor(&key, &owner("ann"), &cursor).unwrap();
            assert_eq!(next.page.get(), 4);
            assert_eq!(
                (
                    next.page_size,
                    next.sort_by,
                    next.sort_order,
                    next.completed
                ),
                (q.page_size, q.sort_by, q.sort_order, q.completed)
            );
            assert_eq!(next.after, Some(last(sort_key)));
        }
    }

    #[test]
    fn another_owner_another_key_or_an_edit_is_refused() {
        let key = CursorKey::derive(b"a signing secret of at least 32 bytes!!");
        let q = query(SortBy::Title);
        let cursor = next_cursor(&key, &owner("ann"), &q, last(SortKey::Title("a".into())));
        assert!(open_cursor(&key, &owner("bob"), &cursor).is_none());
        let other = CursorKey::derive(b"another signing secret of 32 bytes!!!!");
        assert!(open_cursor(&other, &owner("ann"), &cursor).is_none());
        // The payload edited (another page size), its tag kept.
        let (payload, tag) = cursor.split_once('.').unwrap();
        let text = String::from_utf8(BASE64.decode(payload).unwrap()).unwrap();
        let edited = BASE64.encode(text.replace("\"n\":7", "\"n\":8"));
        assert_ne!(edited, payload);
        assert!(open_cursor(&key, &owner("ann"), &format!("{edited}.{tag}")).is_none());
        // A shortened tag, no tag, garbage.
        let short = &cursor[..cursor.len() - 2];
        for bad in [short, payload, "", ".", "a.b", "%%%.%%%"] {
            assert!(open_cursor(&key, &owner("ann"), bad).is_none(), "{bad}");
        }
    }
}
