//! CSV exports as tables: Chrome and Firefox saved passwords, 1Password, Bitwarden's
//! CSV, and any CSV with a `--map` naming its columns. The first record is the header;
//! columns are found by name (any case). Columns the format does not map are kept as
//! custom fields, except the bookkeeping columns listed per format (docs/import.md).

use super::{ImportError, Imported, csv};
use crate::crypto::SecretString;

/// Which columns hold what, by header name (lowercase), first match wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// The entry's name (last path segment).
    pub name: Vec<String>,
    /// A folder (path before the name).
    pub folder: Vec<String>,
    /// Login name.
    pub username: Vec<String>,
    /// Password.
    pub password: Vec<String>,
    /// URL.
    pub url: Vec<String>,
    /// Notes.
    pub notes: Vec<String>,
    /// An `otpauth://` URI or base32 seed.
    pub totp: Vec<String>,
    /// Bitwarden's `fields` column (`name: value` lines).
    pub fields: Vec<String>,
    /// Bookkeeping columns not carried over.
    pub ignore: Vec<String>,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The known CSV formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Chrome, Edge, Brave: `name,url,username,password,note`.
    Chrome,
    /// Firefox: `url,username,password,httpRealm,formActionOrigin,guid,time…`.
    Firefox,
    /// 1Password 8: `Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes`
    /// (and 1Password 7's `URL/Location`, `Notes`).
    OnePassword,
    /// Bitwarden: `folder,favorite,type,name,notes,fields,reprompt,login_uri,…`.
    Bitwarden,
}

impl Format {
    /// Its columns.
    pub fn columns(self) -> Columns {
        match self {
            Self::Chrome => Columns {
                name: names(&["name"]),
                url: names(&["url"]),
                username: names(&["username"]),
                password: names(&["password"]),
                notes: names(&["note", "notes"]),
                ..Columns::default()
            },
            Self::Firefox => Columns {
                url: names(&["url"]),
                username: names(&["username"]),
                password: names(&["password"]),
                ignore: names(&[
                    "httprealm",
                    "formactionorigin",
                    "guid",
                    "timecreated",
                    "timelastused",
                    "timepasswordchanged",
                ]),
                ..Columns::default()
            },
            Self::OnePassword => Columns {
                name: names(&["title"]),
                url: names(&["url", "website", "url/location", "location"]),
                username: names(&["username"]),
                password: names(&["password"]),
                notes: names(&["notes", "notesplain"]),
                totp: names(&["otpauth", "one-time password", "otp"]),
                ignore: names(&["favorite", "archived"]),
                ..Columns::default()
            },
            Self::Bitwarden => Columns {
                folder: names(&["folder"]),
                name: names(&["name"]),
                notes: names(&["notes"]),
                url: names(&["login_uri"]),
                username: names(&["login_username"]),
                password: names(&["login_password"]),
                totp: names(&["login_totp"]),
                fields: names(&["fields"]),
                ignore: names(&["favorite", "type", "reprompt"]),
            },
        }
    }
}

/// `--map FIELD=COLUMN,…` for a CSV of another shape: FIELD one of `name`, `folder`,
/// `username`, `password`, `url`, `notes`, `totp`.
pub fn parse_map(spec: &str) -> Result<Columns, ImportError> {
    let mut c = Columns::default();
    for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (field, column) = pair
            .split_once('=')
            .ok_or_else(|| ImportError::Map(format!("'{pair}' is not FIELD=COLUMN")))?;
        let column = vec![column.trim().to_lowercase()];
        match field.trim() {
            "name" | "title" => c.name = column,
            "folder" => c.folder = column,
            "username" | "login" => c.username = column,
            "password" => c.password = column,
            "url" => c.url = column,
            "notes" | "note" => c.notes = column,
            "totp" | "otp" => c.totp = column,
            other => {
                return Err(ImportError::Map(format!(
                    "unknown field '{other}' (name, folder, username, password, url, notes, totp)"
                )));
            }
        }
    }
    if c.password.is_empty() {
        return Err(ImportError::Map(
            "name the password column (password=COLUMN)".into(),
        ));
    }
    Ok(c)
}

/// The entries of a CSV `text` laid out as `columns` says. Every record must have
/// as many fields as the header.
pub fn read(text: &str, columns: &Columns) -> Result<Vec<Imported>, ImportError> {
    let records = csv::parse(text)?;
    let Some((header, rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let find = |wanted: &[String]| -> Option<usize> {
        wanted
            .iter()
            .find_map(|w| header.iter().position(|h| h == w))
    };
    let col = |wanted: &Vec<String>, what: &str| -> Result<Option<usize>, ImportError> {
        match find(wanted) {
            Some(i) => Ok(Some(i)),
            None if wanted.is_empty() => Ok(None),
            None if what == "password" => Err(ImportError::MissingColumn(wanted[0].clone())),
            None => Ok(None),
        }
    };
    let name = col(&columns.name, "name")?;
    let folder = col(&columns.folder, "folder")?;
    let username = col(&columns.username, "username")?;
    let password = col(&columns.password, "password")?;
    let url = col(&columns.url, "url")?;
    let notes = col(&columns.notes, "notes")?;
    let totp = col(&columns.totp, "totp")?;
    let fields = col(&columns.fields, "fields")?;
    let mapped: Vec<usize> = [name, folder, username, password, url, notes, totp, fields]
        .into_iter()
        .flatten()
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    // Line numbers: records may span lines; count from the parser's view.
    for (n, row) in rows.iter().enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(ImportError::Width {
                line: n + 2,
                found: row.len(),
                expected: header.len(),
            });
        }
        let get = |i: Option<usize>| i.map_or("", |i| row[i].as_str());
        let mut entry_name = get(name).to_string();
        if entry_name.trim().is_empty() {
            entry_name = host_of(get(url)).unwrap_or_else(|| format!("item {}", n + 1));
        }
        let path = match get(folder) {
            "" => entry_name,
            f => format!("{f}/{entry_name}"),
        };
        let mut e = Imported::new(&path);
        e.payload.username = get(username).to_string();
        e.payload.password = SecretString::new(get(password).to_string());
        e.payload.url = get(url).to_string();
        e.payload.notes = get(notes).to_string();
        if !get(totp).is_empty() {
            e.payload.totp = Some(SecretString::new(get(totp).to_string()));
        }
        for line in get(fields).lines() {
            match line.split_once(": ") {
                Some((k, v)) => e.field(k, v, super::looks_secret(k)),
                None => e.field("field", line, false),
            }
        }
        for (i, h) in header.iter().enumerate() {
            if !mapped.contains(&i) && !columns.ignore.contains(h) {
                e.field(h, &row[i], super::looks_secret(h));
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// The host of a URL (`https://accounts.example.com/login` → `accounts.example.com`).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?.rsplit('@').next()?;
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

/// `entries` as a CSV in Bitwarden's CSV layout (which Bitwarden, 1Password and
/// KeePassXC read). The secrets are in it in plain text.
pub fn export(entries: &[crate::vault::OpenEntry]) -> String {
    let mut out = csv::write_record(&[
        "folder",
        "favorite",
        "type",
        "name",
        "notes",
        "fields",
        "reprompt",
        "login_uri",
        "login_username",
        "login_password",
        "login_totp",
    ]);
    out.push('\n');
    for e in entries {
        let p = &e.payload;
        let (folder, name) = p.path.rsplit_once('/').unwrap_or(("", p.path.as_str()));
        let fields: Vec<String> = p
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.name, f.value.expose()))
            .collect();
        let fields = fields.join("\n");
        let totp = p.totp.as_ref().map_or("", |t| t.expose());
        out.push_str(&csv::write_record(&[
            folder,
            "",
            "login",
            name,
            &p.notes,
            &fields,
            "",
            &p.url,
            &p.username,
            p.password.expose(),
            totp,
        ]));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn summary(e: &Imported) -> (String, String, String, String, String) {
        let p = &e.payload;
        (
            e.path.clone(),
            p.username.clone(),
            p.password.expose().to_string(),
            p.url.clone(),
            p.notes.clone(),
        )
    }

    #[test]
    fn chrome_firefox_1password_bitwarden_and_a_map() {
        let chrome = "name,url,username,password,note\r\ngithub.com,https://github.com/login,alice,\"p,w\"\"1\",\"two\nlines\"\r\n,https://x.example.com/a,bob,,\r\n";
        let got = read(chrome, &Format::Chrome.columns()).unwrap();
        assert_eq!(
            summary(&got[0]),
            (
                "github.com".into(),
                "alice".into(),
                "p,w\"1".into(),
                "https://github.com/login".into(),
                "two\nlines".into()
            )
        );
        assert_eq!(got[1].path, "x.example.com");
        assert_eq!(got[1].payload.password.expose(), "");

        let firefox = "\"url\",\"username\",\"password\",\"httpRealm\",\"formActionOrigin\",\"guid\",\"timeCreated\",\"timeLastUsed\",\"timePasswordChanged\"\n\"https://mail.example.com\",\"carol\",\"c4rol\",,\"https://mail.example.com\",\"{1}\",\"1\",\"2\",\"3\"\n";
        let got = read(firefox, &Format::Firefox.columns()).unwrap();
        assert_eq!(got[0].path, "mail.example.com");
        assert!(got[0].payload.fields.is_empty());

        let op = "Title,Url,Username,Password,OTPAuth,Favorite,Archived,Tags,Notes\nCafé Wi-Fi,,guest,hunter2,otpauth://totp/x?secret=JBSWY3DPEHPK3PXP,false,false,home,ask at the bar\n";
        let got = read(op, &Format::OnePassword.columns()).unwrap();
        assert_eq!(got[0].path, "Café Wi-Fi");
        assert!(got[0].payload.totp.is_some());
        assert_eq!(got[0].payload.fields[0].name, "tags");

        let bw = "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\nWork,1,login,Jira,,\"team: core\npin: 42\",0,https://jira,dave,d4ve,\n";
        let got = read(bw, &Format::Bitwarden.columns()).unwrap();
        assert_eq!(got[0].path, "Work/Jira");
        let f: Vec<(&str, &str)> = got[0]
            .payload
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.expose()))
            .collect();
        assert_eq!(f, [("team", "core"), ("pin", "42")]);

        let map = parse_map("name=Title,username=Login,password=Pass,url=Site").unwrap();
        let got = read("Title,Login,Pass,Site,Extra\nA,u,p,https://a,x\n", &map).unwrap();
        assert_eq!(summary(&got[0]).0, "A");
        assert_eq!(got[0].payload.fields[0].name, "extra");
        assert!(parse_map("name=Title").is_err());
        assert!(parse_map("colour=Title,password=P").is_err());
    }

    #[test]
    fn refusals_name_the_line() {
        assert_eq!(
            read(
                "name,url,username,password\na,b,c\n",
                &Format::Chrome.columns()
            )
            .unwrap_err(),
            ImportError::Width {
                line: 2,
                found: 3,
                expected: 4
            }
        );
        assert_eq!(
            read("name,url,username\na,b,c\n", &Format::Chrome.columns()).unwrap_err(),
            ImportError::MissingColumn("password".into())
        );
    }
}
