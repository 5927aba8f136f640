//! Name constraints (RFC 5280 4.2.1.10 and 6.1.3 b-c, 6.1.4 g): directory
//! names and email addresses (which citizen certificates carry), DNS names,
//! IP addresses and URIs.

use super::CertError;
use super::model::{Certificate, GeneralName, NameConstraints, oid};

/// Constraints accumulated down a path.
#[derive(Debug, Default, Clone)]
pub(crate) struct ConstraintState {
    /// One entry per certificate that had permittedSubtrees: a name must be
    /// within each set that constrains its form (intersection).
    permitted: Vec<Vec<GeneralName>>,
    /// Union of all excludedSubtrees.
    excluded: Vec<GeneralName>,
}

/// The name form of a general name, for "does this set constrain that form".
fn form(name: &GeneralName) -> &'static str {
    match name {
        GeneralName::Email(_) => "rfc822Name",
        GeneralName::Dns(_) => "dNSName",
        GeneralName::Uri(_) => "uniformResourceIdentifier",
        GeneralName::Ip(_) => "iPAddress",
        GeneralName::Directory(_) => "directoryName",
        GeneralName::Other(kind) => kind,
    }
}

impl ConstraintState {
    /// Adds a CA certificate's constraints (6.1.4 g).
    pub(crate) fn add(&mut self, constraints: &NameConstraints) -> Result<(), CertError> {
        for base in constraints
            .permitted
            .iter()
            .chain(constraints.excluded.iter())
            .flatten()
        {
            match base {
                GeneralName::Ip(bytes) => check_ip_constraint(bytes)?,
                GeneralName::Dns(dns)
                    if dns.starts_with('.')
                        || (!dns.is_empty() && !super::model::is_hostname(dns)) =>
                {
                    return Err(CertError::InvalidExtension {
                        oid: "2.5.29.30".to_owned(),
                        detail: format!("invalid dNSName constraint {dns:?}"),
                    });
                }
                _ => {}
            }
        }
        if let Some(permitted) = &constraints.permitted {
            self.permitted.push(permitted.clone());
        }
        if let Some(excluded) = &constraints.excluded {
            self.excluded.extend(excluded.iter().cloned());
        }
        Ok(())
    }

    /// Checks the names of a certificate against the constraints so far,
    /// counting comparisons in `used` against `limit`.
    pub(crate) fn check(
        &self,
        cert: &Certificate,
        used: &mut usize,
        limit: usize,
    ) -> Result<(), CertError> {
        if self.permitted.is_empty() && self.excluded.is_empty() {
            return Ok(());
        }
        let mut names: Vec<GeneralName> = Vec::new();
        if !cert.subject.is_empty() {
            names.push(GeneralName::Directory(cert.subject.clone()));
        }
        match &cert.subject_alt_names {
            Some(sans) => names.extend(sans.iter().cloned()),
            None => {
                // No subjectAltName: the subject's emailAddress attributes
                // are subject to rfc822Name constraints.
                names.extend(
                    cert.subject
                        .attribute_values(oid::EMAIL_ADDRESS)
                        .into_iter()
                        .map(|e| GeneralName::Email(e.to_owned())),
                );
            }
        }
        let per_name = self.excluded.len() + self.permitted.iter().map(Vec::len).sum::<usize>();
        for name in &names {
            *used = used.saturating_add(per_name);
            if *used > limit {
                return Err(CertError::BudgetExceeded {
                    what: "name constraint comparisons",
                });
            }
            self.check_name(cert, name)?;
        }
        Ok(())
    }

    fn check_name(&self, cert: &Certificate, name: &GeneralName) -> Result<(), CertError> {
        let violation = || CertError::NameConstraintViolation {
            subject: cert.subject.display().to_owned(),
            name: name.to_string(),
        };
        let kind = form(name);
        for base in self.excluded.iter().filter(|b| form(b) == kind) {
            if matches(name, base)? || wildcard_overlaps(name, base) {
                return Err(violation());
            }
        }
        for set in &self.permitted {
            let mut same_form = set.iter().filter(|b| form(b) == kind).peekable();
            if same_form.peek().is_none() {
                continue;
            }
            let mut any = false;
            for base in same_form {
                if matches(name, base)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Err(violation());
            }
        }
        Ok(())
    }
}

/// Whether `name` is within the subtree `base` (same form).
fn matches(name: &GeneralName, base: &GeneralName) -> Result<bool, CertError> {
    Ok(match (name, base) {
        (GeneralName::Directory(n), GeneralName::Directory(b)) => n.within(b),
        (GeneralName::Dns(n), GeneralName::Dns(b)) => dns_within(n, b),
        (GeneralName::Email(n), GeneralName::Email(b)) => email_within(n, b),
        (GeneralName::Uri(n), GeneralName::Uri(b)) => match uri_host(n) {
            Some(host) => host_within(&host, b),
            // A URI without a host cannot be shown to be inside a subtree.
            None => false,
        },
        (GeneralName::Ip(n), GeneralName::Ip(b)) => ip_within(n, b),
        (GeneralName::Other(kind), GeneralName::Other(_)) => {
            return Err(CertError::UnsupportedNameConstraint {
                detail: format!("{kind} constraints"),
            });
        }
        _ => false,
    })
}

/// A wildcard dNSName such as `*.example.com` stands for names it does not
/// spell out; when an excluded subtree lies below its parent domain (for
/// example `bar.example.com`), the wildcard may name an excluded host, and
/// is treated as violating the exclusion (CVE-2025-61727).
fn wildcard_overlaps(name: &GeneralName, base: &GeneralName) -> bool {
    match (name, base) {
        (GeneralName::Dns(n), GeneralName::Dns(b)) => match n.strip_prefix("*.") {
            Some(parent) => {
                let b = b.trim_end_matches('.').to_ascii_lowercase();
                b.ends_with(&format!(".{}", parent.to_ascii_lowercase()))
            }
            None => false,
        },
        _ => false,
    }
}

/// DNS: the name equals the base or ends with "." + base; an empty base
/// matches everything; a leading "." on the base means subdomains only.
fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    if base.is_empty() {
        return true;
    }
    if let Some(stripped) = base.strip_prefix('.') {
        return name.ends_with(&format!(".{stripped}"));
    }
    name == base || name.ends_with(&format!(".{base}"))
}

/// Hosts in URI and email constraints: "host" exactly, ".domain" for any
/// host below the domain.
fn host_within(host: &str, base: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let base = base.to_ascii_lowercase();
    match base.strip_prefix('.') {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == base,
    }
}

/// rfc822: "user@host" is one mailbox, "host" every mailbox at that host,
/// ".domain" every mailbox at hosts below the domain.
fn email_within(email: &str, base: &str) -> bool {
    let Some((local, host)) = email.rsplit_once('@') else {
        return false;
    };
    match base.rsplit_once('@') {
        Some((base_local, base_host)) => {
            local == base_local && host.eq_ignore_ascii_case(base_host)
        }
        None => host_within(host, base),
    }
}

/// The host of an absolute URI, without user info or port.
fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_owned())
}

fn ip_within(addr: &[u8], constraint: &[u8]) -> bool {
    if constraint.len() != addr.len() * 2 {
        return false;
    }
    let (net, mask) = constraint.split_at(addr.len());
    addr.iter()
        .zip(net)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m)
}

/// An iPAddress constraint is an address and a contiguous mask, 8 or 32 bytes.
fn check_ip_constraint(bytes: &[u8]) -> Result<(), CertError> {
    let invalid = |detail: &str| CertError::InvalidExtension {
        oid: "2.5.29.30".to_owned(),
        detail: detail.to_owned(),
    };
    if bytes.len() != 8 && bytes.len() != 32 {
        return Err(invalid("iPAddress constraint must be 8 or 32 bytes"));
    }
    let mask = &bytes[bytes.len() / 2..];
    let bits: Vec<bool> = mask
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b & (1 << i) != 0))
        .collect();
    if bits.windows(2).any(|w| !w[0] && w[1]) {
        return Err(invalid("iPAddress constraint mask is not contiguous"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_matching_follows_label_boundaries() {
        assert!(dns_within("example.com", "example.com"));
        assert!(dns_within("a.example.com", "example.com"));
        assert!(dns_within("A.Example.COM", "example.com"));
        assert!(!dns_within("badexample.com", "example.com"));
        assert!(!dns_within("example.com", ".example.com"));
        assert!(dns_within("x.example.com", ".example.com"));
        assert!(dns_within("anything", ""));
    }

    #[test]
    fn email_matching_covers_the_three_forms() {
        assert!(email_within("chan.tai.man@gov.hk", "chan.tai.man@gov.hk"));
        assert!(!email_within("other@gov.hk", "chan.tai.man@gov.hk"));
        assert!(email_within("anyone@gov.hk", "gov.hk"));
        assert!(!email_within("anyone@dept.gov.hk", "gov.hk"));
        assert!(email_within("anyone@dept.gov.hk", ".gov.hk"));
        assert!(!email_within("anyone@gov.hk", ".gov.hk"));
        assert!(!email_within("not-an-address", "gov.hk"));
    }

    #[test]
    fn ip_matching_uses_the_mask() {
        let constraint = [10, 0, 0, 0, 255, 0, 0, 0];
        assert!(ip_within(&[10, 1, 2, 3], &constraint));
        assert!(!ip_within(&[11, 1, 2, 3], &constraint));
        assert!(!ip_within(&[0u8; 16], &constraint));
        assert!(check_ip_constraint(&constraint).is_ok());
        assert!(check_ip_constraint(&[10, 0, 0, 0, 255, 0, 255, 0]).is_err());
        assert!(check_ip_constraint(&[10, 0, 0, 0]).is_err());
    }

    #[test]
    fn uri_hosts_are_extracted() {
        assert_eq!(
            uri_host("https://user@Host.gov.hk:8443/p?q").as_deref(),
            Some("Host.gov.hk")
        );
        assert_eq!(uri_host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(uri_host("urn:isbn:123"), None);
        assert!(host_within("crl.gov.hk", ".gov.hk"));
        assert!(!host_within("gov.hk", ".gov.hk"));
    }
}
