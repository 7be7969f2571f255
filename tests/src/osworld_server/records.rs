//! The record of every request the server received and its answer.

use super::*;

/// One request the server received, and the status it answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// The path (without the query).
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status code answered.
    pub status: u16,
}

impl Recorded {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as form fields (urlencoded or multipart).
    pub fn form(&self) -> Vec<(String, Vec<u8>)> {
        parse_form(self.content_type.as_deref(), &self.body)
    }

    /// The command of an `/execute` request, joined with spaces.
    pub fn command(&self) -> Option<String> {
        let v = self.json()?;
        match v.get("command")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }
}
