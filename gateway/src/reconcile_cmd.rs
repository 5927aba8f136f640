//! `gateway reconcile --provider P FILE`: imports a provider's settlement
//! file (`payment_core::reconcile`'s CSV) and compares it with the
//! provider's ledger transactions, optionally of a range of posting dates.
//! Prints what matched and every difference; exits 1 when there is any,
//! so that a scheduled job notices. A progress bar follows the file on a
//! terminal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use payment_core::Money;
use payment_core::ledger::{Account, Kind, Line, Side, Transaction};
use payment_core::reconcile::{Report, SettlementReader, reconcile};

use crate::config::Config;
use crate::run::Failure;
use crate::store::Db;

/// Options of `gateway reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The provider id (as on payments: `fps`, `pps`, `stripe-card`, ...).
    #[arg(long)]
    pub provider: String,
    /// The settlement file: CSV with the header
    /// provider_reference,kind,amount,settlement_date.
    pub file: PathBuf,
    /// Only ledger transactions posted on or after this Hong Kong date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Only ledger transactions posted on or before this Hong Kong date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: crate::cli::ConfigArg,
}

fn date(text: &Option<String>, name: &str) -> Result<Option<String>, Failure> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.as_ref()
        .map(|t| {
            time::Date::parse(t, &format)
                .map(|d| d.to_string())
                .map_err(|_| Failure::Input(format!("--{name} is a date, YYYY-MM-DD")))
        })
        .transpose()
}

/// The provider's ledger transactions, rebuilt from their lines; refunds
/// under the provider's refund id when known (as settlement files name
/// them).
async fn transactions(
    db: &Db,
    provider: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<Transaction>, Failure> {
    let runtime = |e: &dyn std::fmt::Display| Failure::Runtime(e.to_string());
    let lines = db
        .ledger_of_provider(provider, from, to)
        .await
        .map_err(|e| runtime(&e))?;
    let mut grouped: BTreeMap<String, Vec<crate::store::payments::LedgerRow>> = BTreeMap::new();
    for line in lines {
        grouped
            .entry(line.transaction_id.clone())
            .or_default()
            .push(line);
    }
    let mut out = Vec::with_capacity(grouped.len());
    for (id, rows) in grouped {
        let kind = match rows[0].kind.as_str() {
            "payment" => Kind::Payment,
            "refund" => Kind::Refund,
            _ => Kind::Fee,
        };
        // payment:PROVIDER:REFERENCE, refund:PROVIDER:REFUND_ID, fee:...
        let mut reference = id.splitn(3, ':').nth(2).unwrap_or_default().to_owned();
        if kind == Kind::Refund
            && let Some(refund) = db.refund(&reference).await.map_err(|e| runtime(&e))?
            && let Some(provider_id) = refund.provider_refund_id
        {
            reference = provider_id;
        }
        let mut lines = Vec::new();
        for row in &rows {
            let cents = u64::try_from(row.amount_cents).map_err(|e| runtime(&e))?;
            let (kind, owner) = row.account.split_once(':').unwrap_or((&row.account, ""));
            let owner = owner.to_owned();
            lines.push(Line {
                account: match kind {
                    "provider_clearing" => Account::ProviderClearing(owner),
                    "department_payable" => Account::DepartmentPayable(owner),
                    "department_fees" => Account::DepartmentFees(owner),
                    _ => Account::Suspense(owner),
                },
                side: if row.side == "debit" {
                    Side::Debit
                } else {
                    Side::Credit
                },
                amount: Money::from_cents(cents).map_err(|e| runtime(&e))?,
            });
        }
        out.push(
            Transaction::new(&id, kind, provider, &reference, lines)
                .map_err(|e| Failure::Runtime(format!("ledger transaction {id}: {e}")))?,
        );
    }
    Ok(out)
}

fn print(report: &Report) {
    println!(
        "matched {}, missing {}, unexpected {}, mismatched {}, duplicated {}",
        report.matched.len(),
        report.missing.len(),
        report.unexpected.len(),
        report.mismatched.len(),
        report.duplicated.len()
    );
    let kind = |k: Kind| match k {
        Kind::Payment => "payment",
        Kind::Refund => "refund",
        Kind::Fee => "fee",
    };
    for item in &report.missing {
        println!(
            "missing    {} {} {} (in the ledger, not in the file)",
            kind(item.kind),
            item.provider_reference,
            item.amount
        );
    }
    for item in &report.unexpected {
        println!(
            "unexpected {} {} {} (in the file, not in the ledger)",
            kind(item.kind),
            item.provider_reference,
            item.amount
        );
    }
    for m in &report.mismatched {
        println!(
            "mismatched {} {} ledger {} file {}",
            kind(m.kind),
            m.provider_reference,
            m.ledger,
            m.file
        );
    }
    for item in &report.duplicated {
        println!(
            "duplicated {} {} {}",
            kind(item.kind),
            item.provider_reference,
            item.amount
        );
    }
}

/// Runs `gateway reconcile`.
pub async fn run(config: Config, args: ReconcileArgs) -> Result<(), Failure> {
    let from = date(&args.from, "from")?;
    let to = date(&args.to, "to")?;
    let file = std::fs::File::open(&args.file)
        .map_err(|e| Failure::Input(format!("cannot read {}: {e}", args.file.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let db = crate::run::open_db(&config).await?;
    let ledger = transactions(&db, &args.provider, from.as_deref(), to.as_deref()).await;
    db.close().await;
    let ledger = ledger?;
    // On a terminal only (indicatif hides itself otherwise).
    let bar = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let reader = SettlementReader::new(bar.wrap_read(std::io::BufReader::new(file)))
        .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())))?;
    let report = reconcile(&args.provider, &ledger, reader)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())));
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.to_string()))?
        );
    } else {
        print(&report);
    }
    if report.is_clean() {
        Ok(())
    } else {
        Err(Failure::Negative(
            "the settlement file and the ledger differ".into(),
        ))
    }
}
