//! A reader for comma-separated values as RFC 4180 writes them and as password
//! managers and browsers export them: fields separated by `,`, records by CRLF or LF,
//! a field in double quotes may hold commas, line breaks and `""` for a quote. A
//! pure function with a bound on what it accepts; no I/O.

use super::ImportError;

/// Most records one file may hold (a larger export is refused, not truncated).
pub const MAX_RECORDS: usize = 1_000_000;
/// Most fields one record may hold.
pub const MAX_FIELDS: usize = 1_024;

/// The records of `text`, each a list of fields; an empty last line is not a record.
/// A leading byte-order mark is skipped. Errors name the line where the bad record
/// starts (1-based).
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    let mut record_line = 1usize;
    // At the start of a field: no character of it read yet.
    let mut at_start = true;
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    // After a closing quote: a separator, a line end or the end.
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => {
                            return Err(ImportError::Csv {
                                line: record_line,
                                why: "text after a closing quote",
                            });
                        }
                    }
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' => {
                return Err(ImportError::Csv {
                    line: record_line,
                    why: "a quote inside an unquoted field",
                });
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_start = true;
                if record.len() >= MAX_FIELDS {
                    return Err(ImportError::Csv {
                        line: record_line,
                        why: "more than 1,024 fields",
                    });
                }
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                if records.len() > MAX_RECORDS {
                    return Err(ImportError::Csv {
                        line: record_line,
                        why: "more than a million records",
                    });
                }
                line += 1;
                record_line = line;
                at_start = true;
                any = false;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err(ImportError::Csv {
            line: record_line,
            why: "a quoted field is not closed",
        });
    }
    if any {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// `fields` as one CSV record (quoted where needed), without the line end.
pub fn write_record(fields: &[&str]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Quoted where a reader could take it otherwise: separators, quotes, line
        // ends, edge spaces, and a leading byte-order mark (skipped at a file's start).
        if f.contains([',', '"', '\n', '\r'])
            || f.starts_with([' ', '\u{feff}'])
            || f.ends_with(' ')
        {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_commas_and_line_breaks() {
        let text = "name,url,note\r\n\"a, b\",https://x,\"line 1\nline \"\"2\"\"\"\nplain,,\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                vec!["name", "url", "note"],
                vec!["a, b", "https://x", "line 1\nline \"2\""],
                vec!["plain", "", ""],
            ]
        );
        assert_eq!(parse("\u{feff}a,b").unwrap(), vec![vec!["a", "b"]]);
        assert_eq!(parse("").unwrap(), Vec::<Vec<String>>::new());
    }

    #[test]
    fn malformed_records_name_their_line() {
        assert_eq!(
            parse("a,b\n\"open,c\n").unwrap_err(),
            ImportError::Csv {
                line: 2,
                why: "a quoted field is not closed"
            }
        );
        assert_eq!(
            parse("a\nb\"c\n").unwrap_err(),
            ImportError::Csv {
                line: 2,
                why: "a quote inside an unquoted field"
            }
        );
        assert_eq!(
            parse("\"a\"b\n").unwrap_err(),
            ImportError::Csv {
                line: 1,
                why: "text after a closing quote"
            }
        );
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(records in proptest::collection::vec(
            proptest::collection::vec(".{0,12}", 1..6), 1..6)
        ) {
            let text: String = records
                .iter()
                .map(|r| write_record(&r.iter().map(String::as_str).collect::<Vec<_>>()) + "\n")
                .collect();
            // A record of one empty field is an empty line: not written by exporters.
            prop_assume!(records.iter().all(|r| r.len() > 1 || !r[0].is_empty()));
            prop_assert_eq!(parse(&text).unwrap(), records);
        }
    }
}
