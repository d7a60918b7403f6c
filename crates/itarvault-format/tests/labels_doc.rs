//! `docs/labels.md` is what a user reads to type `--label`: every example in it must
//! parse to the canonical form it shows, every refused example must be refused, and
//! every JSON example must be a label. A change to the grammar that the page does not
//! follow fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use itarvault_format::label::Label;

fn page() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/labels.md");
    std::fs::read_to_string(path).expect("docs/labels.md")
}

/// The rows of the first table after `heading`, as their backquoted cells.
fn table_after(page: &str, heading: &str) -> Vec<Vec<String>> {
    let start = page.find(heading).expect(heading);
    page[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            row.split('|')
                .filter_map(|cell| {
                    let cell = cell.trim();
                    let inner = cell.strip_prefix('`')?;
                    Some(inner[..inner.find('`')?].to_owned())
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_example_parses_to_the_form_the_page_shows() {
    let rows = table_after(&page(), "### Examples");
    assert!(rows.len() >= 8, "the examples table was not found");
    for row in rows {
        let [typed, stored] = row.as_slice() else {
            panic!("an example row needs two backquoted cells: {row:?}")
        };
        let label: Label = typed.parse().unwrap_or_else(|e| panic!("{typed}: {e}"));
        assert_eq!(&label.to_string(), stored, "`{typed}`");
    }
}

#[test]
fn every_refused_example_is_refused() {
    let rows = table_after(&page(), "### Refused, and why");
    assert!(rows.len() >= 10, "the refusals table was not found");
    for row in rows {
        let typed = &row[0];
        assert!(
            typed.parse::<Label>().is_err(),
            "docs/labels.md says `{typed}` is refused, but it parses"
        );
    }
}

#[test]
fn every_json_example_is_a_label_and_round_trips() {
    let page = page();
    let start = page.find("## JSON form").expect("JSON section");
    let block = page[start..]
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a json block");
    let mut count = 0;
    for value in serde_json::Deserializer::from_str(block).into_iter::<serde_json::Value>() {
        let value = value.expect("valid JSON");
        let label: Label = serde_json::from_value(value.clone()).expect("a label");
        assert_eq!(serde_json::to_value(&label).unwrap(), value);
        count += 1;
    }
    assert_eq!(count, 4);
}
