//! Bitwarden's unencrypted JSON export (`bw export --format json`, or the web vault's
//! "File format: .json"), read and written. Logins, secure notes, cards and
//! identities; folders become the path. Documented shape:
//!
//! ```text
//! {"encrypted": false, "folders": [{"id", "name"}],
//!  "items": [{"type": 1 login | 2 note | 3 card | 4 identity, "name", "notes",
//!             "folderId", "fields": [{"name", "value", "type": 0 text | 1 hidden | 2 bool}],
//!             "login": {"username", "password", "totp", "uris": [{"uri"}]},
//!             "card": {…}, "identity": {…}}]}
//! ```

use serde_json::{Value, json};

use super::{ImportError, Imported};
use crate::crypto::SecretString;
use crate::vault::OpenEntry;

/// Card and identity fields kept secret (masked by `show`).
const SECRET_KEYS: &[&str] = &["number", "code", "ssn", "passportNumber", "licenseNumber"];

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The entries of an export. Refuses an encrypted export and anything that is not
/// the documented shape, naming the item.
pub fn parse(bytes: &[u8]) -> Result<Vec<Imported>, ImportError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Json(format!("not JSON ({e})")))?;
    if doc.get("encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(ImportError::Json(
            "an encrypted export: export again as unencrypted JSON".into(),
        ));
    }
    let items = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::Json("no 'items' list: not a Bitwarden JSON export".into()))?;
    let folders: Vec<(&str, &str)> = doc
        .get("folders")
        .and_then(Value::as_array)
        .map(|f| f.iter().map(|f| (text(f, "id"), text(f, "name"))).collect())
        .unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(ImportError::Json(format!("item {}: not an object", n + 1)));
        }
        let name = match text(item, "name") {
            "" => format!("item {}", n + 1),
            s => s.to_string(),
        };
        let folder = item
            .get("folderId")
            .and_then(Value::as_str)
            .and_then(|id| folders.iter().find(|(fid, _)| *fid == id))
            .map(|(_, name)| *name)
            .unwrap_or("");
        let path = if folder.is_empty() {
            name
        } else {
            format!("{folder}/{name}")
        };
        let mut e = Imported::new(&path);
        e.payload.notes = text(item, "notes").to_string();
        if let Some(login) = item.get("login").filter(|l| l.is_object()) {
            e.payload.username = text(login, "username").to_string();
            e.payload.password = SecretString::new(text(login, "password").to_string());
            if let Some(totp) = login
                .get("totp")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                e.payload.totp = Some(SecretString::new(totp.to_string()));
            }
            let uris: Vec<&str> = login
                .get("uris")
                .and_then(Value::as_array)
                .map(|u| {
                    u.iter()
                        .map(|u| text(u, "uri"))
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if let Some((first, more)) = uris.split_first() {
                e.payload.url = (*first).to_string();
                for (i, u) in more.iter().enumerate() {
                    e.field(&format!("url {}", i + 2), u, false);
                }
            }
        }
        for (kind, prefix) in [("card", "card"), ("identity", "identity")] {
            if let Some(obj) = item.get(kind).and_then(Value::as_object) {
                for (k, v) in obj {
                    if let Some(v) = v.as_str() {
                        e.field(
                            &format!("{prefix} {k}"),
                            v,
                            SECRET_KEYS.contains(&k.as_str()),
                        );
                    }
                }
            }
        }
        if let Some(fields) = item.get("fields").and_then(Value::as_array) {
            for f in fields {
                let value = match f.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let hidden = f.get("type").and_then(Value::as_u64) == Some(1);
                e.field(text(f, "name"), &value, hidden);
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// `entries` as a Bitwarden JSON export (logins; a path's folder part becomes the
/// folder, its last segment the name; custom fields as fields, secret ones hidden).
/// The secrets are in it in plain text.
pub fn export(entries: &[OpenEntry]) -> String {
    let mut folders: Vec<String> = Vec::new();
    let mut items = Vec::with_capacity(entries.len());
    for e in entries {
        let p = &e.payload;
        let (folder, name) = match p.path.rsplit_once('/') {
            Some((f, n)) => (Some(f.to_string()), n),
            None => (None, p.path.as_str()),
        };
        let folder_id = folder.map(|f| {
            let i = folders.iter().position(|x| *x == f).unwrap_or_else(|| {
                folders.push(f);
                folders.len() - 1
            });
            format!("folder-{}", i + 1)
        });
        let fields: Vec<Value> = p
            .fields
            .iter()
            .map(|f| json!({"name": f.name, "value": f.value.expose(), "type": u8::from(f.secret)}))
            .collect();
        let uris: Vec<Value> = if p.url.is_empty() {
            Vec::new()
        } else {
            vec![json!({"match": null, "uri": p.url})]
        };
        items.push(json!({
            "id": e.id.to_hex(),
            "folderId": folder_id,
            "type": 1,
            "name": name,
            "notes": if p.notes.is_empty() { Value::Null } else { json!(p.notes) },
            "favorite": false,
            "fields": fields,
            "login": {
                "uris": uris,
                "username": p.username,
                "password": p.password.expose(),
                "totp": p.totp.as_ref().map(|t| t.expose()),
            },
        }));
    }
    let folders: Vec<Value> = folders
        .iter()
        .enumerate()
        .map(|(i, f)| json!({"id": format!("folder-{}", i + 1), "name": f}))
        .collect();
    let doc = json!({"encrypted": false, "folders": folders, "items": items});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn logins_notes_cards_and_folders() {
        let doc = r#"{"encrypted": false,
          "folders": [{"id": "f1", "name": "Work"}],
          "items": [
            {"type": 1, "name": "GitHub", "folderId": "f1", "notes": "2FA on",
             "fields": [{"name": "team", "value": "payments", "type": 0},
                        {"name": "pin", "value": "1234", "type": 1},
                        {"name": "admin", "value": true, "type": 2}],
             "login": {"username": "alice", "password": "p, \"q\"", "totp": "JBSWY3DPEHPK3PXP",
                       "uris": [{"match": null, "uri": "https://github.com"},
                                {"uri": "https://gist.github.com"}]}},
            {"type": 2, "name": "Wi-Fi", "notes": "guest / hunter2", "secureNote": {"type": 0}},
            {"type": 3, "name": "Visa", "card": {"cardholderName": "A", "number": "4111", "code": "123"}},
            {"type": 1, "name": "", "login": {"username": "", "password": ""}}
          ]}"#;
        let got = parse(doc.as_bytes()).unwrap();
        assert_eq!(got.len(), 4);
        let gh = &got[0].payload;
        assert_eq!(got[0].path, "Work/GitHub");
        assert_eq!(
            (gh.username.as_str(), gh.password.expose()),
            ("alice", "p, \"q\"")
        );
        assert_eq!(gh.url, "https://github.com");
        assert_eq!(gh.totp.as_ref().unwrap().expose(), "JBSWY3DPEHPK3PXP");
        let f: Vec<(&str, &str, bool)> = gh
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.expose(), f.secret))
            .collect();
        assert_eq!(
            f,
            [
                ("url 2", "https://gist.github.com", false),
                ("team", "payments", false),
                ("pin", "1234", true),
                ("admin", "true", false)
            ]
        );
        assert_eq!(got[1].payload.notes, "guest / hunter2");
        let card: Vec<(&str, bool)> = got[2]
            .payload
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.secret))
            .collect();
        assert!(
            card.contains(&("card number", true)) && card.contains(&("card cardholderName", false))
        );
        assert_eq!(got[3].path, "item 4");
    }

    #[test]
    fn refusals() {
        assert!(parse(b"{\"encrypted\": true, \"items\": []}").is_err());
        assert!(parse(b"{\"items\": [1]}").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(b"{\"items\": [{\"name\": \"x\"").is_err());
    }
}
