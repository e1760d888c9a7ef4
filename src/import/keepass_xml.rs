//! KeePass 2 XML (KeePass's "KeePass XML (2.x)" export, which KeePassXC writes too):
//! the same mapping as a `.kdbx` ([`super::keepass`]) — groups to the path (the root
//! group and the recycle bin left out), Title, UserName, Password, URL and Notes to
//! the entry, `otp` to the TOTP seed, other strings to custom fields (protected ones
//! secret). Entry history is skipped. A pure function over the text.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{ImportError, Imported};

/// Deepest element nesting accepted (a crafted file cannot recurse without bound).
const MAX_DEPTH: usize = 256;

struct EntryDraft {
    groups: Vec<String>,
    group_ids: Vec<String>,
    strings: Vec<(String, String, bool)>,
}

/// The entries of a KeePass 2 XML export.
pub fn parse(text: &str) -> Result<Vec<Imported>, ImportError> {
    let bad = |why: String| ImportError::Json(format!("not KeePass 2 XML: {why}"));
    let mut reader = Reader::from_str(text);
    // Element names from the root, and for each open Group its name and UUID.
    let mut stack: Vec<String> = Vec::new();
    let mut groups: Vec<(String, String)> = Vec::new();
    let mut entry: Option<EntryDraft> = None;
    let mut string: Option<(String, String, bool)> = None;
    let mut history = 0usize;
    let mut buf = String::new();
    let mut recycle_bin = String::new();
    let mut drafts: Vec<EntryDraft> = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.len() >= MAX_DEPTH {
                    return Err(bad("nested too deeply".into()));
                }
                buf.clear();
                if stack.is_empty() {
                    if name != "KeePassFile" {
                        return Err(bad(format!("the root element is <{name}>")));
                    }
                    saw_root = true;
                }
                match name.as_str() {
                    "History" => history += 1,
                    "Group" if history == 0 => groups.push((String::new(), String::new())),
                    "Entry" if history == 0 => {
                        entry = Some(EntryDraft {
                            groups: groups.iter().map(|(n, _)| n.clone()).collect(),
                            group_ids: groups.iter().map(|(_, id)| id.clone()).collect(),
                            strings: Vec::new(),
                        });
                    }
                    "String" if history == 0 && entry.is_some() => {
                        string = Some((String::new(), String::new(), false));
                    }
                    "Value" if string.is_some() => {
                        let protected = e
                            .try_get_attribute("ProtectInMemory")
                            .ok()
                            .flatten()
                            .is_some_and(|a| a.value.eq_ignore_ascii_case("true"));
                        if let Some(s) = string.as_mut() {
                            s.2 = protected;
                        }
                    }
                    _ => {}
                }
                stack.push(name);
            }
            Event::Empty(_) => buf.clear(),
            Event::Text(t) => buf.push_str(&t.xml10_content()),
            Event::CData(c) => buf.push_str(&c.into_inner()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    _ => match &*r.into_inner() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(bad(format!("unknown entity &{other};"))),
                    },
                };
                buf.push(resolved);
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_string();
                let parent = stack
                    .len()
                    .checked_sub(2)
                    .and_then(|i| stack.get(i))
                    .cloned();
                stack.pop();
                let text = std::mem::take(&mut buf);
                match (name.as_str(), parent.as_deref()) {
                    ("History", _) => history = history.saturating_sub(1),
                    _ if history > 0 => {}
                    ("RecycleBinUUID", Some("Meta")) => recycle_bin = text,
                    ("Name", Some("Group")) => {
                        if let Some(g) = groups.last_mut() {
                            g.0 = text;
                        }
                    }
                    ("UUID", Some("Group")) => {
                        if let Some(g) = groups.last_mut() {
                            g.1 = text;
                        }
                    }
                    ("Key", Some("String")) => {
                        if let Some(s) = string.as_mut() {
                            s.0 = text;
                        }
                    }
                    ("Value", Some("String")) => {
                        if let Some(s) = string.as_mut() {
                            s.1 = text;
                        }
                    }
                    ("String", _) => {
                        if let (Some(s), Some(e)) = (string.take(), entry.as_mut()) {
                            e.strings.push(s);
                        }
                    }
                    ("Entry", _) => drafts.extend(entry.take()),
                    ("Group", _) => {
                        groups.pop();
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root || !stack.is_empty() {
        return Err(bad("the document ends before </KeePassFile>".into()));
    }
    let mut out = Vec::with_capacity(drafts.len());
    for d in drafts {
        // The first group is the root (the database's name): not part of paths.
        if !recycle_bin.is_empty() && d.group_ids.contains(&recycle_bin) {
            continue;
        }
        let path: Vec<&str> = d.groups.iter().skip(1).map(String::as_str).collect();
        let strings: Vec<(&str, &str, bool)> = d
            .strings
            .iter()
            .map(|(k, v, p)| (k.as_str(), v.as_str(), *p))
            .collect();
        let e = super::keepass::from_strings(&path.join("/"), &strings);
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn groups_strings_history_and_the_recycle_bin() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<KeePassFile><Meta><RecycleBinUUID>BIN=</RecycleBinUUID></Meta><Root>
 <Group><UUID>ROOT=</UUID><Name>Team</Name>
  <Group><UUID>W=</UUID><Name>Work &amp; Co</Name>
   <Entry><UUID>E1=</UUID>
    <String><Key>Title</Key><Value>Git&#x48;ub</Value></String>
    <String><Key>Password</Key><Value ProtectInMemory="True">p&lt;w&gt;</Value></String>
    <String><Key>pin</Key><Value ProtectInMemory="True">42</Value></String>
    <String><Key>team</Key><Value><![CDATA[a & b]]></Value></String>
    <History><Entry><String><Key>Password</Key><Value>old</Value></String></Entry></History>
   </Entry>
  </Group>
  <Group><UUID>BIN=</UUID><Name>Recycle Bin</Name>
   <Entry><String><Key>Title</Key><Value>deleted</Value></String></Entry>
  </Group>
  <Entry><String><Key>Title</Key><Value></Value></String></Entry>
 </Group>
</Root></KeePassFile>"#;
        let got = parse(xml).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].path, "Work & Co/GitHub");
        assert_eq!(got[0].payload.password.expose(), "p<w>");
        let f: Vec<(&str, &str, bool)> = got[0]
            .payload
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.expose(), f.secret))
            .collect();
        assert_eq!(f, [("pin", "42", true), ("team", "a & b", false)]);
        assert_eq!(got[1].path, "untitled");
        assert!(parse("<KeePassFile><Root>").is_err());
        assert!(parse("<html/>").is_err());
        assert!(parse("<KeePassFile>&bogus;</KeePassFile>").is_err());
    }
}
