//! `itarvault`: the command-line interface.
//!
//! Exit status: 0 success; 2 error (bad input, wrong key, damaged envelope, I/O). A
//! broken pipe on output exits quietly.

mod assess;
mod client;
mod decide;
mod files;
mod keys;
mod lockbox;
mod neterr;
mod output;
mod scan;
mod secrets;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// itarvault: keep export-controlled technical data encrypted under keys you control.
///
/// Offline tools: create and manage keys in a local keystore, encrypt a file into a
/// labelled envelope, decrypt it, inspect it, and rewrap it under another key.
#[derive(Parser, Debug)]
#[command(
    name = "itarvault",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the keystore is and what opens it.
#[derive(Args, Debug, Clone)]
pub struct KeystoreArgs {
    /// Keystore file [default: $ITARVAULT_HOME/keystore.json, else
    /// ~/.local/share/itarvault/keystore.json]
    #[arg(long, env = "ITARVAULT_KEYSTORE", global = true)]
    keystore: Option<PathBuf>,
    /// File holding the keystore passphrase (must be mode 0600). The passphrase can
    /// also come from $ITARVAULT_PASSPHRASE, or is asked for on a terminal.
    #[arg(
        long,
        env = "ITARVAULT_PASSPHRASE_FILE",
        global = true,
        conflicts_with = "root_key_file"
    )]
    passphrase_file: Option<PathBuf>,
    /// Root key file (32 raw bytes or 64 hex digits, mode 0600) instead of a passphrase.
    #[arg(long, env = "ITARVAULT_ROOT_KEY_FILE", global = true)]
    root_key_file: Option<PathBuf>,
}

/// Where `encrypt` and `decrypt` read and write.
#[derive(Args, Debug, Clone)]
pub struct Transfer {
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    force: bool,
    /// Input file, or `-` for stdin.
    input: PathBuf,
    /// Output file, or `-` for stdout.
    output: PathBuf,
}

/// Output options shared by most commands.
#[derive(Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Never draw a progress bar (one is drawn on stderr only when it is a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version, the cryptographic module and whether FIPS mode is active.
    Version {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Manage key-encryption keys in the local keystore.
    Keys {
        #[command(flatten)]
        ks: KeystoreArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Encrypt a file into a labelled envelope.
    ///
    /// Example: itarvault encrypt --label ITAR:XI --key programs/f35 blade.step blade.step.itv
    Encrypt {
        /// Export-control label (docs/labels.md), e.g. ITAR:XI, EAR:9E003, EAR99, PUBLIC.
        #[arg(long, short)]
        label: String,
        /// Key id to wrap the data key under; repeat to wrap for several keys (escrow).
        #[arg(long = "key", short = 'k', required = true)]
        keys: Vec<String>,
        /// Plaintext bytes per chunk: a power of two from 1024 to 16777216.
        #[arg(long, default_value_t = itarvault_format::header::DEFAULT_CHUNK_SIZE)]
        chunk_size: u32,
        #[command(flatten)]
        io: Transfer,
        #[command(flatten)]
        ks: KeystoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Decrypt an envelope.
    ///
    /// The output file appears only after every chunk verified; on failure nothing is
    /// left behind. With `-` (stdout) data streams out as it verifies: discard it if the
    /// exit status is not 0.
    Decrypt {
        #[command(flatten)]
        io: Transfer,
        #[command(flatten)]
        ks: KeystoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show an envelope's label, keys and sizes without decrypting it.
    ///
    /// Nothing shown is authenticated until the envelope is decrypted with its key.
    Inspect {
        /// Envelope file, or `-` for stdin.
        file: PathBuf,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Decide an export-control request (the format and every rule: docs/rules.md).
    ///
    /// Reads one request as JSON (or, with --batch, a JSON array, streamed) and prints
    /// the decision as JSON. Exit status: 0 when decided (allow or deny; --exit-code
    /// makes a deny 1), 2 for invalid input, listing the JSON path of every problem.
    Decide {
        /// Request file, or `-` for stdin.
        #[arg(long = "request", value_name = "FILE", default_value = "-")]
        request: PathBuf,
        /// The input is a JSON array of requests; decisions stream out as an array.
        #[arg(long)]
        batch: bool,
        /// Print a human explanation: each rule, the facts it used, the authorizations
        /// considered, what would change the outcome.
        #[arg(long)]
        explain: bool,
        /// Exit 1 when a decision is deny (any deny, with --batch).
        #[arg(long)]
        exit_code: bool,
        /// Judge requests without `context.time` at the start of this day (UTC): their
        /// authorizations and the proscribed list are evaluated on that date, e.g. to
        /// replay a past decision [default: now].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = decide::parse_as_of)]
        as_of: Option<time::OffsetDateTime>,
        /// Cedar organisation policies (a file or a directory of *.cedar), which can
        /// only narrow the regulatory floor. Repeatable.
        #[arg(long = "policies", value_name = "PATH")]
        policies: Vec<PathBuf>,
    },
    /// List the 22 CFR 126.1 proscribed countries and their status on a date.
    Countries {
        /// Date to evaluate the list at (YYYY-MM-DD) [default: today].
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List the 21 USML categories (22 CFR 121.1).
    Categories {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Organisation policies in Cedar.
    Policy {
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: decide::PolicyCommand,
    },
    /// Find export-control markings (ITAR/EAR warnings, USML categories, ECCNs,
    /// distribution statements, CUI//SP-EXPT, classification banners) in files.
    ///
    /// Walks directories in parallel, including hidden and git-ignored files; reads text,
    /// source and text-based CAD formats, and the text of PDF and Office files. Exit
    /// status: 0 nothing controlled found, 1 controlled content found, 2 error.
    Scan(scan::ScanArgs),
    /// Assess an organisation's export-control posture from its inventory.
    ///
    /// Reads the inventory (YAML or JSON: people, authorizations, systems, vendors, AI
    /// tools, incidents, attestations, exceptions) and reports the ITAR checklist for IT
    /// with findings, a %-met score and an SPRS-style score, as a terminal summary,
    /// JSON, Markdown, HTML, or OSCAL assessment results and POA&M. Exit status: 0 no
    /// open finding reaches --fail-on, 1 one does, 2 invalid inventory (every problem
    /// listed with its path).
    Assess(assess::AssessArgs),
    /// Run the vault server (HTTPS API, export enforcement, audit trail).
    ///
    /// The first start initialises the data directory (keystore, metadata, TLS
    /// certificate, audit signing key) and writes an admin token to a new 0600 file
    /// (--admin-token-file, or DATA_DIR/admin.token); the token is never printed.
    Server(serve::ServerArgs),
    /// Manage principals: who may use the vault, with their export-control facts.
    Principals {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: client::PrincipalsCommand,
    },
    /// Manage the licenses, agreements and exemptions principals hold.
    Authorizations {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: client::AuthorizationsCommand,
    },
    /// Issue and revoke API tokens.
    Tokens {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: client::TokensCommand,
    },
    /// Manage buckets (each has its own key and storage backend).
    Buckets {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: client::BucketsCommand,
    },
    /// Access requests: ask for time-boxed access to content, and approve, deny or
    /// revoke them as a bucket owner.
    Lockbox {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: lockbox::LockboxCommand,
    },
    /// Dangerous operations that need M of N approvers: propose, list, approve, deny.
    Quorum {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: lockbox::QuorumCommand,
    },
    /// Store a file in the vault. Exit 1 if an export rule denies it.
    Put {
        /// BUCKET/KEY
        target: String,
        /// File to upload, or `-` for stdin.
        file: PathBuf,
        /// Export-control label (docs/labels.md), e.g. ITAR:XI, EAR:9E003, EAR99, PUBLIC.
        #[arg(long, short)]
        label: String,
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Read an object. The file appears only once it arrived whole and verified.
    /// Exit 1 if an export rule denies it.
    Get {
        /// BUCKET/KEY
        target: String,
        /// Read this version instead of the current one (ids from `ls --versions`).
        #[arg(long = "version-id", value_name = "ID")]
        version_id: Option<String>,
        /// Output file, or `-` for stdout.
        #[arg(default_value = "-")]
        output: PathBuf,
        /// Replace OUTPUT if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List objects you may read: BUCKET or BUCKET/PREFIX.
    Ls {
        target: String,
        /// List every version (and delete marker), newest first per key.
        #[arg(long)]
        versions: bool,
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Delete an object: its current version becomes a delete marker and older
    /// versions stay (who stored it, a bucket owner, or a delete grant).
    Rm {
        /// BUCKET/KEY
        target: String,
        /// Delete this one version for good instead.
        #[arg(long = "version-id", value_name = "ID")]
        version_id: Option<String>,
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show an object's label, size and version without reading it (decided and
    /// audited like a read).
    Stat {
        /// BUCKET/KEY
        target: String,
        /// This version instead of the current one.
        #[arg(long = "version-id", value_name = "ID")]
        version_id: Option<String>,
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show who the server thinks you are, and where it places you.
    Whoami {
        #[command(flatten)]
        client: client::ClientArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Witness another host's audit trail (`itarvault witness serve`).
    Witness {
        #[command(subcommand)]
        command: serve::WitnessCommand,
    },
    /// The audit trail: verify it, export it for a SIEM, query it (offline, on the
    /// server's data directory).
    Audit {
        #[command(flatten)]
        args: serve::AuditArgs,
        #[command(flatten)]
        out: OutputArgs,
        #[command(subcommand)]
        command: serve::AuditCommand,
    },
    /// Rewrap an envelope's data key under other keys, in place; the body is untouched.
    ///
    /// Use after `keys rotate` to move objects to the new version, or to hand an
    /// object to another key. On any failure the original file is left intact.
    Rewrap {
        /// Envelope file to rewrap in place.
        file: PathBuf,
        /// Key id to wrap under (its current version); repeat for several keys.
        #[arg(long = "key", short = 'k', required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        ks: KeystoreArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::Decide {
            request,
            batch,
            explain,
            exit_code,
            as_of,
            policies,
        } => {
            let engine = itarvault_policy::Engine::new(decide::load_policies(&policies)?);
            let now = as_of.unwrap_or_else(time::OffsetDateTime::now_utc);
            Ok(
                match decide::decide(&request, batch, explain, now, &engine)? {
                    decide::Outcome::Invalid => ExitCode::from(2),
                    decide::Outcome::Decided { any_deny: true } if exit_code => ExitCode::from(1),
                    decide::Outcome::Decided { .. } => ExitCode::SUCCESS,
                },
            )
        }
        Command::Countries { as_of, out } => done(decide::countries(out, as_of.as_deref())),
        Command::Categories { out } => done(decide::categories(out)),
        Command::Policy { out, command } => done(decide::policy(out, command)),
        Command::Version { out } => done(version(out)),
        Command::Server(a) => done(serve::server(a)),
        Command::Scan(a) => scan::scan(a),
        Command::Assess(a) => assess::assess(a),
        Command::Principals {
            client,
            out,
            command,
        } => done(client::principals(&client, out, command)),
        Command::Authorizations {
            client,
            out,
            command,
        } => done(client::authorizations(&client, out, command)),
        Command::Tokens {
            client,
            out,
            command,
        } => done(client::tokens(&client, out, command)),
        Command::Lockbox {
            client,
            out,
            command,
        } => done(lockbox::lockbox(&client, out, command)),
        Command::Quorum {
            client,
            out,
            command,
        } => done(lockbox::quorum(&client, out, command)),
        Command::Buckets {
            client,
            out,
            command,
        } => done(client::buckets(&client, out, command)),
        Command::Put {
            target,
            file,
            label,
            client,
            out,
        } => done(client::put(&client, out, &target, &file, &label)),
        Command::Get {
            target,
            version_id,
            output,
            force,
            client,
            out,
        } => done(client::get(
            &client,
            out,
            &target,
            version_id.as_deref(),
            &output,
            force,
        )),
        Command::Ls {
            target,
            versions,
            client,
            out,
        } => done(client::ls(&client, out, &target, versions)),
        Command::Rm {
            target,
            version_id,
            client,
            out,
        } => done(client::rm(&client, out, &target, version_id.as_deref())),
        Command::Stat {
            target,
            version_id,
            client,
            out,
        } => done(client::stat(&client, out, &target, version_id.as_deref())),
        Command::Whoami { client, out } => done(client::whoami(&client, out)),
        Command::Witness { command } => done(serve::witness(command)),
        Command::Audit { args, out, command } => Ok(if serve::audit(&args, out, command)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Command::Keys { ks, out, command } => done(keys::run(&ks, out, command)),
        Command::Encrypt {
            label,
            keys,
            chunk_size,
            io,
            ks,
            out,
        } => done(files::encrypt(&ks, out, &label, &keys, chunk_size, &io)),
        Command::Decrypt { io, ks, out } => done(files::decrypt(&ks, out, &io)),
        Command::Inspect { file, out } => done(files::inspect(out, &file)),
        Command::Rewrap {
            file,
            keys,
            ks,
            out,
        } => done(files::rewrap(&ks, out, &file, &keys)),
    }
}

fn version(out: OutputArgs) -> anyhow::Result<()> {
    let m = itarvault_server::crypto_module::current();
    let v = serde_json::json!({
        "itarvault": env!("CARGO_PKG_VERSION"),
        "crypto_module": m.name,
        "crypto_module_version": m.version,
        "fips_mode": m.fips_mode,
        "validated": m.validated,
        "validation": m.validation,
    });
    if out.json {
        println!("{v}");
    } else {
        println!("itarvault {}", env!("CARGO_PKG_VERSION"));
        println!("crypto module: {}", m.title());
        println!(
            "FIPS mode: {} (asked of the module at run time)",
            if m.fips_mode { "active" } else { "not active" }
        );
        println!("validation: {}", m.validation);
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One process-wide TLS provider: AWS-LC (its FIPS module in the `fips` build),
    // restricted to the suites the server offers. Fails only if one is already set.
    let _ = rustls::crypto::CryptoProvider::install_default(itarvault_server::tls::provider());
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain: "decrypting `x`: chunk 3 failed ...".
            eprintln!("error: {e:#}");
            client::exit_code(&e).unwrap_or(ExitCode::from(2))
        }
    }
}
