//! A double-entry ledger: every movement of money is a transaction whose
//! debits equal its credits, so the books always balance; a transaction
//! that would not balance cannot be built.
//!
//! Accounts:
//! - `provider_clearing:{provider}`: what a provider holds for us (debited
//!   when it takes a payment, credited by fees, refunds and settlements);
//! - `department_payable:{department}`: what the gateway owes a department;
//! - `department_fees:{department}`: provider fees the department bears;
//! - `suspense:{department}`: money taken that no bill needed (a second or
//!   late payment), owed back to the citizen until refunded.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "owner")]
pub enum Account {
    /// What a provider holds for the gateway.
    ProviderClearing(String),
    /// What the gateway owes a department.
    DepartmentPayable(String),
    /// Fees a department bears.
    DepartmentFees(String),
    /// Money owed back to citizens, per department.
    Suspense(String),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::ProviderClearing(p) => write!(f, "provider_clearing:{p}"),
            Account::DepartmentPayable(d) => write!(f, "department_payable:{d}"),
            Account::DepartmentFees(d) => write!(f, "department_fees:{d}"),
            Account::Suspense(d) => write!(f, "suspense:{d}"),
        }
    }
}

/// Which side of an account a line is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Debit.
    Debit,
    /// Credit.
    Credit,
}

/// One line of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The account.
    pub account: Account,
    /// Debit or credit.
    pub side: Side,
    /// How much (more than zero).
    pub amount: Money,
}

/// What a transaction records (and what a settlement file line matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A payment taken.
    Payment,
    /// A refund made.
    Refund,
    /// A provider's fee.
    Fee,
}

/// A balanced transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Unique id (posting the same id twice is a no-op).
    pub id: String,
    /// What it records.
    pub kind: Kind,
    /// The provider.
    pub provider: String,
    /// The provider's reference: the payment's for payments and fees, the
    /// refund's for refunds (what settlement files name).
    pub reference: String,
    lines: Vec<Line>,
}

/// Why a transaction or posting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Debits and credits differ, or a line is zero, or there are fewer
    /// than two lines.
    #[error("the transaction does not balance")]
    Unbalanced,
    /// Arithmetic overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

fn total(lines: &[Line], side: Side) -> Result<Money, MoneyError> {
    lines
        .iter()
        .filter(|l| l.side == side)
        .try_fold(Money::ZERO, |sum, l| sum.checked_add(l.amount))
}

impl Transaction {
    /// A transaction, if it balances.
    pub fn new(
        id: &str,
        kind: Kind,
        provider: &str,
        reference: &str,
        lines: Vec<Line>,
    ) -> Result<Transaction, LedgerError> {
        if lines.len() < 2
            || lines.iter().any(|l| l.amount == Money::ZERO)
            || total(&lines, Side::Debit)? != total(&lines, Side::Credit)?
        {
            return Err(LedgerError::Unbalanced);
        }
        Ok(Transaction {
            id: id.to_owned(),
            kind,
            provider: provider.to_owned(),
            reference: reference.to_owned(),
            lines,
        })
    }

    /// Its lines.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The amount moved (the debit total).
    pub fn amount(&self) -> Money {
        total(&self.lines, Side::Debit).unwrap_or(Money::ZERO)
    }

    fn transfer(
        id: &str,
        kind: Kind,
        provider: &str,
        reference: &str,
        debit: Account,
        credit: Account,
        amount: Money,
    ) -> Result<Transaction, LedgerError> {
        Self::new(
            id,
            kind,
            provider,
            reference,
            vec![
                Line {
                    account: debit,
                    side: Side::Debit,
                    amount,
                },
                Line {
                    account: credit,
                    side: Side::Credit,
                    amount,
                },
            ],
        )
    }

    /// A payment taken by `provider` for `department`. When it paid no bill
    /// (`needs_refund`), it is owed to the citizen, not the department.
    pub fn payment(
        department: &str,
        provider: &str,
        reference: &str,
        amount: Money,
        needs_refund: bool,
    ) -> Result<Transaction, LedgerError> {
        let credit = if needs_refund {
            Account::Suspense(department.to_owned())
        } else {
            Account::DepartmentPayable(department.to_owned())
        };
        Self::transfer(
            &format!("payment:{provider}:{reference}"),
            Kind::Payment,
            provider,
            reference,
            Account::ProviderClearing(provider.to_owned()),
            credit,
            amount,
        )
    }

    /// A refund `refund_reference` of a payment; from suspense when the
    /// payment paid no bill.
    pub fn refund(
        department: &str,
        provider: &str,
        refund_reference: &str,
        amount: Money,
        from_suspense: bool,
    ) -> Result<Transaction, LedgerError> {
        let debit = if from_suspense {
            Account::Suspense(department.to_owned())
        } else {
            Account::DepartmentPayable(department.to_owned())
        };
        Self::transfer(
            &format!("refund:{provider}:{refund_reference}"),
            Kind::Refund,
            provider,
            refund_reference,
            debit,
            Account::ProviderClearing(provider.to_owned()),
            amount,
        )
    }

    /// A provider's fee on a payment, borne by the department.
    pub fn fee(
        department: &str,
        provider: &str,
        reference: &str,
        amount: Money,
    ) -> Result<Transaction, LedgerError> {
        Self::transfer(
            &format!("fee:{provider}:{reference}"),
            Kind::Fee,
            provider,
            reference,
            Account::DepartmentFees(department.to_owned()),
            Account::ProviderClearing(provider.to_owned()),
            amount,
        )
    }
}

/// An account's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Sum of debits.
    pub debit: Money,
    /// Sum of credits.
    pub credit: Money,
}

/// The books: transactions in posting order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    transactions: Vec<Transaction>,
    ids: HashSet<String>,
}

impl Ledger {
    /// Posts `transaction`; `false` if its id was posted before.
    pub fn post(&mut self, transaction: Transaction) -> bool {
        if !self.ids.insert(transaction.id.clone()) {
            return false;
        }
        self.transactions.push(transaction);
        true
    }

    /// Every transaction.
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    /// Every account's totals.
    pub fn balances(&self) -> Result<BTreeMap<Account, Balance>, MoneyError> {
        let mut balances: BTreeMap<Account, Balance> = BTreeMap::new();
        for line in self.transactions.iter().flat_map(|t| t.lines.iter()) {
            let balance = balances.entry(line.account.clone()).or_default();
            match line.side {
                Side::Debit => balance.debit = balance.debit.checked_add(line.amount)?,
                Side::Credit => balance.credit = balance.credit.checked_add(line.amount)?,
            }
        }
        Ok(balances)
    }

    /// Whether all debits equal all credits (true by construction; the
    /// check is what auditors and tests run).
    pub fn is_balanced(&self) -> bool {
        let lines: Vec<Line> = self
            .transactions
            .iter()
            .flat_map(|t| t.lines.clone())
            .collect();
        matches!((total(&lines, Side::Debit), total(&lines, Side::Credit)), (Ok(d), Ok(c)) if d == c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Money {
        Money::parse(text).unwrap()
    }

    #[test]
    fn unbalanced_transactions_cannot_exist() {
        let line = |side, amount: &str| Line {
            account: Account::Suspense("d".into()),
            side,
            amount: m(amount),
        };
        assert_eq!(
            Transaction::new(
                "t",
                Kind::Fee,
                "p",
                "r",
                vec![line(Side::Debit, "1.00"), line(Side::Credit, "0.99")]
            ),
            Err(LedgerError::Unbalanced)
        );
        assert_eq!(
            Transaction::new("t", Kind::Fee, "p", "r", vec![line(Side::Debit, "1.00")]),
            Err(LedgerError::Unbalanced)
        );
        assert_eq!(
            Transaction::new(
                "t",
                Kind::Fee,
                "p",
                "r",
                vec![line(Side::Debit, "0"), line(Side::Credit, "0")]
            ),
            Err(LedgerError::Unbalanced)
        );
    }

    #[test]
    fn a_payment_fee_and_refund_leave_the_department_its_net() {
        let mut ledger = Ledger::default();
        assert!(
            ledger.post(Transaction::payment("wsd", "stripe", "pi_1", m("100.00"), false).unwrap())
        );
        assert!(
            !ledger
                .post(Transaction::payment("wsd", "stripe", "pi_1", m("100.00"), false).unwrap())
        );
        assert!(ledger.post(Transaction::fee("wsd", "stripe", "pi_1", m("2.90")).unwrap()));
        assert!(
            ledger.post(Transaction::refund("wsd", "stripe", "re_1", m("40.00"), false).unwrap())
        );
        let b = ledger.balances().unwrap();
        let payable = b[&Account::DepartmentPayable("wsd".into())];
        assert_eq!((payable.credit, payable.debit), (m("100.00"), m("40.00")));
        let clearing = b[&Account::ProviderClearing("stripe".into())];
        assert_eq!((clearing.debit, clearing.credit), (m("100.00"), m("42.90")));
        assert!(ledger.is_balanced());
    }
}
