//! Certificate policy processing (RFC 5280 6.1.2-6.1.5, policy parts).
//!
//! The valid-policy tree is kept as its deepest level only: each node is a
//! valid policy with its expected policy set. With an initial policy set of
//! anyPolicy (the only one this validator offers) the tree's leaves are all
//! the final intersection needs, and qualifiers are not processed.

use std::collections::BTreeSet;

use super::CertError;
use super::model::{Certificate, oid::ANY_POLICY};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    valid_policy: String,
    expected: BTreeSet<String>,
}

/// Policy state while walking a path from the anchor down.
#[derive(Debug, Clone)]
pub(crate) struct PolicyState {
    /// `None` is the NULL tree.
    nodes: Option<Vec<Node>>,
    explicit_policy: u32,
    inhibit_any_policy: u32,
    policy_mapping: u32,
}

impl PolicyState {
    /// Initial state for a path of `n` certificates below the anchor.
    pub(crate) fn new(n: usize) -> Self {
        let n = u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
        Self {
            nodes: Some(vec![Node {
                valid_policy: ANY_POLICY.to_owned(),
                expected: BTreeSet::from([ANY_POLICY.to_owned()]),
            }]),
            explicit_policy: n,
            inhibit_any_policy: n,
            policy_mapping: n,
        }
    }

    /// 6.1.3 (d)-(f) for certificate `i` of `n` (1-based; `n` is the leaf).
    pub(crate) fn process(
        &mut self,
        cert: &Certificate,
        i: usize,
        n: usize,
    ) -> Result<(), CertError> {
        let self_issued_intermediate = i < n && cert.is_self_issued();
        match (&self.nodes, &cert.policies) {
            (Some(previous), Some(policies)) => {
                let mut next: Vec<Node> = Vec::new();
                let any_in_previous = previous.iter().any(|p| p.valid_policy == ANY_POLICY);
                for policy in policies.iter().filter(|p| *p != ANY_POLICY) {
                    let matched = previous.iter().any(|p| p.expected.contains(policy));
                    if (matched || any_in_previous)
                        && !next.iter().any(|n| &n.valid_policy == policy)
                    {
                        next.push(Node {
                            valid_policy: policy.clone(),
                            expected: BTreeSet::from([policy.clone()]),
                        });
                    }
                }
                let has_any = policies.iter().any(|p| p == ANY_POLICY);
                if has_any && (self.inhibit_any_policy > 0 || self_issued_intermediate) {
                    for parent in previous {
                        for expected in &parent.expected {
                            if !next.iter().any(|n| &n.valid_policy == expected) {
                                next.push(Node {
                                    valid_policy: expected.clone(),
                                    expected: BTreeSet::from([expected.clone()]),
                                });
                            }
                        }
                    }
                }
                self.nodes = if next.is_empty() { None } else { Some(next) };
            }
            _ => self.nodes = None,
        }
        if self.explicit_policy == 0 && self.nodes.is_none() {
            return Err(CertError::PolicyRequired);
        }
        Ok(())
    }

    /// 6.1.4 (a)-(b), (h)-(j) for an intermediate certificate.
    pub(crate) fn prepare_next(&mut self, cert: &Certificate) -> Result<(), CertError> {
        if let Some(mappings) = &cert.policy_mappings {
            if mappings
                .iter()
                .any(|(from, to)| from == ANY_POLICY || to == ANY_POLICY)
            {
                return Err(CertError::InvalidPolicyMapping {
                    subject: cert.subject.display().to_owned(),
                });
            }
            if let Some(nodes) = &mut self.nodes {
                let issuer_policies: BTreeSet<&String> = mappings.iter().map(|(f, _)| f).collect();
                if self.policy_mapping > 0 {
                    let any_expected = nodes
                        .iter()
                        .find(|n| n.valid_policy == ANY_POLICY)
                        .map(|n| n.expected.clone());
                    for from in issuer_policies {
                        let targets: BTreeSet<String> = mappings
                            .iter()
                            .filter(|(f, _)| f == from)
                            .map(|(_, t)| t.clone())
                            .collect();
                        if let Some(node) = nodes.iter_mut().find(|n| &n.valid_policy == from) {
                            node.expected = targets;
                        } else if any_expected.is_some() {
                            nodes.push(Node {
                                valid_policy: from.clone(),
                                expected: targets,
                            });
                        }
                    }
                } else {
                    nodes.retain(|n| !issuer_policies.contains(&n.valid_policy));
                    if nodes.is_empty() {
                        self.nodes = None;
                    }
                }
            }
        }
        if !cert.is_self_issued() {
            self.explicit_policy = self.explicit_policy.saturating_sub(1);
            self.policy_mapping = self.policy_mapping.saturating_sub(1);
            self.inhibit_any_policy = self.inhibit_any_policy.saturating_sub(1);
        }
        if let Some((require, inhibit_mapping)) = cert.policy_constraints {
            if let Some(r) = require {
                self.explicit_policy = self.explicit_policy.min(r);
            }
            if let Some(m) = inhibit_mapping {
                self.policy_mapping = self.policy_mapping.min(m);
            }
        }
        if let Some(skip) = cert.inhibit_any_policy {
            self.inhibit_any_policy = self.inhibit_any_policy.min(skip);
        }
        Ok(())
    }

    /// 6.1.5 (a), (b), (g) for the end-entity certificate; returns the valid
    /// policies of the path (empty when the tree is NULL).
    pub(crate) fn finish(&mut self, leaf: &Certificate) -> Result<Vec<String>, CertError> {
        self.explicit_policy = self.explicit_policy.saturating_sub(1);
        if let Some((Some(0), _)) = leaf.policy_constraints {
            self.explicit_policy = 0;
        }
        let policies: Vec<String> = self
            .nodes
            .iter()
            .flatten()
            .map(|n| n.valid_policy.clone())
            .collect();
        if self.explicit_policy == 0 && policies.is_empty() {
            return Err(CertError::PolicyRequired);
        }
        Ok(policies)
    }
}
