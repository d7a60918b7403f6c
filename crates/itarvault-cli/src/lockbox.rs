//! `itarvault lockbox` and `itarvault quorum`: the approver's and requester's side of
//! access requests and of dangerous operations.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use reqwest::Method as M;
use serde_json::{json, Value};

use crate::client::{ClientArgs, Conn};
use crate::output::{print_item, print_list};
use crate::OutputArgs;

#[derive(Subcommand, Debug)]
pub enum LockboxCommand {
    /// Ask the bucket's owners for time-boxed access to its content.
    Request {
        #[arg(long)]
        bucket: String,
        /// Only keys under this prefix.
        #[arg(long, conflicts_with = "key")]
        prefix: Option<String>,
        /// Only this object.
        #[arg(long)]
        key: Option<String>,
        /// read, write or delete; repeatable.
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        /// Ticket number and reason: the owners decide on it.
        #[arg(long)]
        justification: String,
        /// How long the grant lasts once approved.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
    },
    /// Requests you filed or may decide (all of them for admins and auditors).
    List {
        /// pending, approved, used, denied, expired or revoked.
        #[arg(long)]
        state: Option<String>,
    },
    Show {
        id: String,
    },
    /// Approve as an owner of the bucket (never your own request).
    Approve {
        id: String,
    },
    Deny {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End a grant early (an owner), or withdraw your own request.
    Revoke {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// Propose a dangerous operation (admins).
    #[command(subcommand)]
    Propose(Proposal),
    /// Proposals you made or may approve (all of them for admins and auditors).
    List {
        #[arg(long)]
        state: Option<String>,
    },
    Show {
        id: String,
    },
    /// Approve as one of the configured approvers (never your own proposal). The
    /// approval that completes the quorum runs the operation.
    Approve {
        id: String,
    },
    Deny {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Proposal {
    /// Disable a key: everything under it becomes unreadable.
    KeyDisable {
        key: String,
        #[arg(long)]
        justification: String,
    },
    /// Schedule a key's destruction after 7 to 30 days.
    KeyDestroy {
        key: String,
        #[arg(long)]
        days: i64,
        #[arg(long)]
        justification: String,
    },
    /// Set the residency mode: us_only or carve_out.
    Residency {
        mode: String,
        #[arg(long)]
        justification: String,
    },
    /// Approve a storage backend ([[backends]] entry).
    Backend {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "local")]
        kind: String,
        #[arg(long)]
        path: Option<PathBuf>,
        #[arg(long)]
        country: String,
        #[arg(long)]
        operator: String,
        #[arg(long)]
        justification: String,
    },
    /// Approve the guarded settings of a config file: the quorum itself (approvers,
    /// required, window), `quorum.principals`, the location sources, trusted proxies,
    /// OIDC issuers, the client CA and certificate field, lockbox limits and
    /// `scan.on_mismatch`. Run it where the files the config names are: they are
    /// approved by their SHA-256. Once approved, install the config and restart.
    Settings {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        justification: String,
    },
    /// Approve Cedar policy files (the text of all of them, in the order given).
    Policies {
        files: Vec<PathBuf>,
        #[arg(long)]
        justification: String,
    },
    /// Accept a restore from backup: the audit restore record at SEQ (the server names
    /// it when it starts with `--restore-epoch`, and in its refusals until then).
    AuditRestore {
        seq: u64,
        #[arg(long)]
        justification: String,
    },
}

fn with_state(path: &str, state: Option<String>) -> String {
    match state {
        Some(s) => format!("{path}?state={}", urlencoding::encode(&s)),
        None => path.to_owned(),
    }
}

fn item(kind: &str, id: &str, verb: &str) -> String {
    let base = format!("/v1/{kind}/{}", urlencoding::encode(id));
    if verb.is_empty() {
        base
    } else {
        format!("{base}/{verb}")
    }
}

pub fn lockbox(c: &ClientArgs, out: OutputArgs, cmd: LockboxCommand) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    let v = match cmd {
        LockboxCommand::Request {
            bucket,
            prefix,
            key,
            actions,
            justification,
            minutes,
        } => conn.json(
            M::POST,
            "/v1/lockbox",
            Some(json!({
                "bucket": bucket, "prefix": prefix, "key": key, "actions": actions,
                "justification": justification, "minutes": minutes,
            })),
        )?,
        LockboxCommand::List { state } => {
            let v = conn.json(M::GET, &with_state("/v1/lockbox", state), None)?;
            return print_list(out, &v);
        }
        LockboxCommand::Show { id } => conn.json(M::GET, &item("lockbox", &id, ""), None)?,
        LockboxCommand::Approve { id } => {
            conn.json(M::POST, &item("lockbox", &id, "approve"), None)?
        }
        LockboxCommand::Deny { id, reason } => conn.json(
            M::POST,
            &item("lockbox", &id, "deny"),
            Some(json!({ "reason": reason })),
        )?,
        LockboxCommand::Revoke { id, reason } => conn.json(
            M::POST,
            &item("lockbox", &id, "revoke"),
            Some(json!({ "reason": reason })),
        )?,
    };
    print_item(out, &v)
}

pub fn quorum(c: &ClientArgs, out: OutputArgs, cmd: QuorumCommand) -> anyhow::Result<()> {
    let conn = Conn::new(c)?;
    let v = match cmd {
        QuorumCommand::Propose(p) => {
            let (operation, justification) = operation(p)?;
            conn.json(
                M::POST,
                "/v1/quorum",
                Some(json!({ "operation": operation, "justification": justification })),
            )?
        }
        QuorumCommand::List { state } => {
            let v = conn.json(M::GET, &with_state("/v1/quorum", state), None)?;
            return print_list(out, &v);
        }
        QuorumCommand::Show { id } => conn.json(M::GET, &item("quorum", &id, ""), None)?,
        QuorumCommand::Approve { id } => {
            conn.json(M::POST, &item("quorum", &id, "approve"), None)?
        }
        QuorumCommand::Deny { id, reason } => conn.json(
            M::POST,
            &item("quorum", &id, "deny"),
            Some(json!({ "reason": reason })),
        )?,
    };
    print_item(out, &v)
}

/// The operation's JSON (as `itarvault_lockbox::Operation` reads it) and its reason.
fn operation(p: Proposal) -> anyhow::Result<(Value, String)> {
    Ok(match p {
        Proposal::KeyDisable { key, justification } => {
            (json!({"op": "key_disable", "key": key}), justification)
        }
        Proposal::KeyDestroy {
            key,
            days,
            justification,
        } => (
            json!({"op": "key_destroy", "key": key, "days": days}),
            justification,
        ),
        Proposal::Residency {
            mode,
            justification,
        } => (json!({"op": "residency_set", "mode": mode}), justification),
        Proposal::Backend {
            name,
            kind,
            path,
            country,
            operator,
            justification,
        } => (
            json!({"op": "backend_add", "backend": {
                "name": name, "kind": kind, "path": path, "country": country, "operator": operator,
            }}),
            justification,
        ),
        Proposal::Settings {
            config,
            justification,
        } => {
            let cfg = itarvault_server::config::Config::load(&config)
                .with_context(|| format!("reading the config `{}`", config.display()))?;
            let guarded = itarvault_server::vault::settings::Guarded::from_config(&cfg)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            (
                json!({"op": "settings_set", "guarded": guarded}),
                justification,
            )
        }
        Proposal::Policies {
            files,
            justification,
        } => {
            let mut text = String::new();
            for f in &files {
                // Policy text is the one multi-line field, and it takes `\n` line
                // ends only (a CR can rewrite a line on a terminal).
                text.push_str(
                    &std::fs::read_to_string(f)
                        .with_context(|| format!("reading `{}`", f.display()))?
                        .replace("\r\n", "\n"),
                );
            }
            (json!({"op": "policies_set", "text": text}), justification)
        }
        Proposal::AuditRestore { seq, justification } => {
            (json!({"op": "audit_restore", "seq": seq}), justification)
        }
    })
}
