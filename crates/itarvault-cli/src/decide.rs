//! `itarvault decide`, `countries`, `categories`, `policy`: the export decision engine
//! from the command line (docs/rules.md).

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use itarvault_policy::data::{data, parse_ymd, ymd};
use itarvault_policy::{decide_element, Decision, Engine, InvalidInput, OrgPolicies};
use serde::de::{SeqAccess, Visitor};
use serde_json::{json, Value};

use crate::OutputArgs;

/// Largest single request accepted (and largest element of a batch).
const MAX_REQUEST_BYTES: u64 = 1 << 20;

/// Exit statuses of `decide`, as the spec fixes them.
pub enum Outcome {
    Decided { any_deny: bool },
    Invalid,
}

/// Reads Cedar policies from files and directories (`*.cedar`).
pub fn load_policies(paths: &[PathBuf]) -> anyhow::Result<Option<OrgPolicies>> {
    Ok(itarvault_server::load_policies(paths)?)
}

/// `--as-of`: the day requests without `context.time` are judged at, from its start
/// (UTC).
pub fn parse_as_of(text: &str) -> Result<time::OffsetDateTime, String> {
    parse_ymd(text)
        .map(|day| day.midnight().assume_utc())
        .ok_or_else(|| format!("`{text}` is not a date: write it as YYYY-MM-DD, e.g. 2026-12-02"))
}

fn print_invalid(e: &InvalidInput) {
    eprintln!(
        "error: invalid decision request ({} problem{}):",
        e.0.len(),
        if e.0.len() == 1 { "" } else { "s" }
    );
    for p in &e.0 {
        eprintln!("  {}: {}", p.path, p.message);
    }
}

fn open(input: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if input.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    let f = std::fs::File::open(input).with_context(|| format!("opening `{}`", input.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
}

fn emit(out: &mut impl Write, d: &Decision, explain: bool) -> io::Result<()> {
    if explain {
        write!(out, "{}", d.explain())
    } else {
        serde_json::to_writer(&mut *out, d).map_err(io::Error::from)
    }
}

/// Decides one request (or, with `batch`, a JSON array of requests, streamed). `now` is
/// the time of requests without `context.time`.
pub fn decide(
    input: &Path,
    batch: bool,
    explain: bool,
    now: time::OffsetDateTime,
    engine: &Engine,
) -> anyhow::Result<Outcome> {
    let reader = open(input)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if !batch {
        let mut buf = Vec::new();
        reader.take(MAX_REQUEST_BYTES + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_REQUEST_BYTES {
            bail!("the request is larger than {MAX_REQUEST_BYTES} bytes");
        }
        let v: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: the request is not JSON: {e}");
                return Ok(Outcome::Invalid);
            }
        };
        if v.is_array() {
            eprintln!("error: the request is a JSON array\npass --batch to decide many requests");
            return Ok(Outcome::Invalid);
        }
        return match decide_element(&v, None, now, engine) {
            Ok(decided) => {
                let d = decided.decision;
                emit(&mut out, &d, explain)?;
                if !explain {
                    writeln!(out)?;
                }
                out.flush()?;
                Ok(Outcome::Decided {
                    any_deny: !d.is_allow(),
                })
            }
            Err(e) => {
                print_invalid(&e);
                Ok(Outcome::Invalid)
            }
        };
    }

    // Batch: stream the array element by element, each bounded in size, writing each
    // decision as it is made. Memory stays flat whatever the number of requests.
    let budget = Rc::new(Cell::new(MAX_REQUEST_BYTES));
    let limited = Budgeted {
        inner: reader,
        budget: budget.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(limited);
    let mut state = BatchState {
        engine,
        now,
        explain,
        out: &mut out,
        budget,
        count: 0,
        any_deny: false,
        any_invalid: false,
        io_error: None,
    };
    if !explain {
        state.out.write_all(b"[\n")?;
    }
    let parsed = serde::Deserializer::deserialize_seq(&mut de, &mut state).and_then(|()| de.end());
    let (count, any_deny, any_invalid, io_error) = (
        state.count,
        state.any_deny,
        state.any_invalid,
        state.io_error.take(),
    );
    if !explain {
        out.write_all(if count > 0 { b"\n]\n" } else { b"]\n" })?;
    }
    out.flush()?;
    if let Some(e) = io_error {
        return Err(e.into());
    }
    if let Err(e) = parsed {
        eprintln!(
            "error: the batch is not a JSON array of requests (after {count} decisions): {e}"
        );
        return Ok(Outcome::Invalid);
    }
    if any_invalid {
        eprintln!(
            "error: some requests in the batch were invalid; see the `invalid-input` entries"
        );
        return Ok(Outcome::Invalid);
    }
    Ok(Outcome::Decided { any_deny })
}

/// A reader that fails once the current element exceeds its byte budget.
struct Budgeted<R> {
    inner: R,
    budget: Rc<Cell<u64>>,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.budget.get();
        if left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a batch element is larger than {MAX_REQUEST_BYTES} bytes"),
            ));
        }
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let got = self.inner.read(&mut buf[..n])?;
        self.budget.set(left - got as u64);
        Ok(got)
    }
}

struct BatchState<'a, W: Write> {
    engine: &'a Engine,
    now: time::OffsetDateTime,
    explain: bool,
    out: &'a mut W,
    budget: Rc<Cell<u64>>,
    count: usize,
    any_deny: bool,
    any_invalid: bool,
    io_error: Option<io::Error>,
}

impl<'de, W: Write> Visitor<'de> for &mut BatchState<'_, W> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of decision requests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.budget.set(MAX_REQUEST_BYTES);
            let Some(v) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            let i = self.count;
            self.count += 1;
            let written = (|| -> io::Result<()> {
                if i > 0 && !self.explain {
                    self.out.write_all(b",\n")?;
                }
                match decide_element(&v, Some(i), self.now, self.engine) {
                    Ok(decided) => {
                        let d = decided.decision;
                        self.any_deny |= !d.is_allow();
                        if self.explain {
                            writeln!(self.out, "# request {i}")?;
                        }
                        emit(self.out, &d, self.explain)
                    }
                    Err(e) => {
                        self.any_invalid = true;
                        let j = e.to_json();
                        if self.explain {
                            writeln!(self.out, "# request {i}: invalid\n{j}")
                        } else {
                            serde_json::to_writer(&mut *self.out, &j).map_err(io::Error::from)
                        }
                    }
                }
            })();
            if let Err(e) = written {
                self.io_error = Some(e);
                return Err(serde::de::Error::custom("output failed"));
            }
        }
    }
}

/// `itarvault countries`: the 126.1 table and its status on a date.
pub fn countries(out: OutputArgs, as_of: Option<&str>) -> anyhow::Result<()> {
    let d = data().context("the embedded regulatory data did not load (bug, please report)")?;
    let day = match as_of {
        Some(s) => parse_ymd(s).with_context(|| format!("`{s}` is not a date (YYYY-MM-DD)"))?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let rows: Vec<_> = d
        .proscribed
        .entries
        .iter()
        .map(|e| {
            let status = if d.proscribed_on(e.code, day).is_some() {
                "proscribed"
            } else if e.suspended.iter().any(|s| s.from <= day && day <= s.to) {
                "suspended"
            } else if e.listed_until.is_some_and(|u| day >= u) {
                "removed"
            } else {
                "not yet listed"
            };
            json!({ "code": e.code.as_str(), "name": e.name, "tier": format!("{:?}", e.tier).to_lowercase(), "cite": e.cite(),
                    "status": status, "follows": e.follows.as_ref().map(|c| c.as_str()),
                    "listed_from": e.listed_from.map(ymd), "listed_until": e.listed_until.map(ymd),
                    "suspended": e.suspended.iter().map(|s| json!({"from": ymd(s.from), "to": ymd(s.to)})).collect::<Vec<_>>() })
        })
        .collect();
    let codes = |list: &[itarvault_policy::data::Country]| -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    };
    let (table, ear) = (&d.proscribed.edition, &d.ear.edition);
    if out.json {
        let v = json!({ "title": table.title, "source": table.source, "effective": ymd(table.effective),
                        "reviewed": ymd(table.reviewed), "as_of": ymd(day), "entries": rows,
                        "ear_e1": codes(&d.ear.e1), "ear_e2": codes(&d.ear.e2), "ear_source": ear.source });
        println!("{v}");
        return Ok(());
    }
    println!("{} — as of {}", table.title, ymd(day));
    println!(
        "{:<4} {:<34} {:<22} {:<15} DATES",
        "CODE", "COUNTRY", "CITE", "STATUS"
    );
    for r in &rows {
        let mut dates = Vec::new();
        if let Some(f) = r["listed_from"].as_str() {
            dates.push(format!("listed {f}"));
        }
        if let Some(u) = r["listed_until"].as_str() {
            dates.push(format!("removed {u}"));
        }
        for s in r["suspended"].as_array().into_iter().flatten() {
            dates.push(format!(
                "suspended {} to {}",
                s["from"].as_str().unwrap_or(""),
                s["to"].as_str().unwrap_or("")
            ));
        }
        if let Some(f) = r["follows"].as_str() {
            dates.push(format!("follows {f}"));
        }
        println!(
            "{:<4} {:<34} {:<22} {:<15} {}",
            r["code"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
            r["cite"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or(""),
            dates.join("; ")
        );
    }
    println!(
        "\nEAR Country Group E:1 {}; E:2 {}",
        codes(&d.ear.e1).join(", "),
        codes(&d.ear.e2).join(", ")
    );
    println!("sources:");
    for s in table.source.iter().chain(&ear.source) {
        println!("  {s}");
    }
    println!(
        "effective {}, reviewed {}. {}",
        ymd(table.effective),
        ymd(table.reviewed),
        d.proscribed.note
    );
    Ok(())
}

/// `itarvault categories`: the 21 USML categories.
pub fn categories(out: OutputArgs) -> anyhow::Result<()> {
    let d = data().context("the embedded regulatory data did not load (bug, please report)")?;
    let usml = &d.usml.edition;
    if out.json {
        let cats: Vec<_> = d
            .usml
            .categories
            .iter()
            .map(|c| json!({"category": c.category.roman(), "title": c.title}))
            .collect();
        println!(
            "{}",
            json!({ "title": usml.title, "source": usml.source, "effective": ymd(usml.effective),
                    "reviewed": ymd(usml.reviewed), "categories": cats })
        );
        return Ok(());
    }
    println!(
        "{} (effective {}, reviewed {})",
        usml.title,
        ymd(usml.effective),
        ymd(usml.reviewed)
    );
    for c in &d.usml.categories {
        println!("{:>6}  {}", c.category.roman(), c.title);
    }
    println!("sources:");
    for s in &usml.source {
        println!("  {s}");
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check Cedar organisation policies against the itarvault schema.
    Validate {
        /// Policy files or directories of `*.cedar` files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the Cedar schema that organisation policies are written against.
    Schema,
}

pub fn policy(out: OutputArgs, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Schema => print!("{}", itarvault_policy::org::schema_text()),
        PolicyCommand::Validate { paths } => {
            let n = load_policies(&paths)?.map_or(0, |p| p.len());
            if out.json {
                println!("{}", json!({ "valid": true, "policies": n }));
            } else {
                println!(
                    "{n} organisation polic{} valid against the itarvault schema",
                    if n == 1 { "y is" } else { "ies are" }
                );
            }
        }
    }
    Ok(())
}
