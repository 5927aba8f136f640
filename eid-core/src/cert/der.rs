//! A minimal, bounded DER reader for the structures `x509-parser` does not
//! cover (OCSP responses). Definite lengths only; every read checks bounds.
//! And, in [`write`], the matching writer: OCSP requests, and the test
//! fixtures of [`testing`](super::testing).

use super::CertError;

/// One TLV: its tag byte, its content, and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

pub(crate) fn malformed(detail: &str) -> CertError {
    CertError::Malformed {
        what: "DER",
        detail: detail.to_owned(),
    }
}

/// Gives a DER-level error the name of what was being parsed.
pub(crate) fn relabel(error: CertError, what: &'static str) -> CertError {
    match error {
        CertError::Malformed {
            what: "DER",
            detail,
        } => CertError::Malformed { what, detail },
        other => other,
    }
}

/// The size limit and the envelope check shared by certificates and CRLs.
pub(crate) fn check_signed(
    input: &[u8],
    what: &'static str,
    limit: usize,
    inner_algorithm: impl Fn(&[u8]) -> Result<&[u8], CertError>,
) -> Result<(), CertError> {
    if input.len() > limit {
        return Err(CertError::TooLarge {
            what,
            size: input.len(),
            limit,
        });
    }
    check_envelope(input, inner_algorithm).map_err(|e| relabel(e, what))
}

/// Decodes every PEM block labelled `label` in `pem` with `decode`.
pub(crate) fn from_pem_blocks<T>(
    pem: &[u8],
    label: &str,
    decode: impl Fn(&[u8]) -> Result<T, CertError>,
) -> Result<Vec<T>, CertError> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| CertError::Malformed {
            what: "PEM",
            detail: e.to_string(),
        })?;
        if block.label == label {
            out.push(decode(&block.contents)?);
        }
    }
    Ok(out)
}

/// Checks the unsigned envelope of a signed structure (a certificate or a
/// CRL): exactly `SEQUENCE { tbs SEQUENCE, AlgorithmIdentifier, BIT STRING }`
/// in DER, no unused bits in the signature, and the outer algorithm
/// byte-for-byte equal to the one inside the signed part (RFC 5280 4.1.1.2,
/// 5.1.1.2), so that each signed structure has one encoding only.
/// `inner_algorithm` finds the algorithm inside the signed part's content.
pub(crate) fn check_envelope(
    input: &[u8],
    inner_algorithm: impl Fn(&[u8]) -> Result<&[u8], CertError>,
) -> Result<(), CertError> {
    let (outer, rest) = expect(input, 0x30, "an outer SEQUENCE")?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    let (tbs, rest) = expect(outer.content, 0x30, "the signed SEQUENCE")?;
    let (algorithm, rest) = expect(rest, 0x30, "the signature AlgorithmIdentifier")?;
    let (signature, rest) = expect(rest, 0x03, "the signature BIT STRING")?;
    if !rest.is_empty() {
        return Err(malformed("trailing fields after the signature"));
    }
    if signature.content.first() != Some(&0) || signature.content.len() < 2 {
        return Err(malformed(
            "the signature BIT STRING has unused bits or is empty",
        ));
    }
    if inner_algorithm(tbs.content)? != algorithm.raw {
        return Err(CertError::SignatureAlgorithmMismatch);
    }
    Ok(())
}

/// The signature AlgorithmIdentifier inside a TBSCertificate's content:
/// after the optional `[0]` version and the serial number.
pub(crate) fn tbs_certificate_algorithm(content: &[u8]) -> Result<&[u8], CertError> {
    let (first, rest) = read(content)?;
    let rest = if first.tag == 0xa0 {
        expect(rest, 0x02, "the serial number")?.1
    } else if first.tag == 0x02 {
        rest
    } else {
        return Err(malformed("expected the version or serial number"));
    };
    Ok(expect(rest, 0x30, "the signature AlgorithmIdentifier")?
        .0
        .raw)
}

/// The signature AlgorithmIdentifier inside a TBSCertList's content: after
/// the optional version INTEGER.
pub(crate) fn tbs_cert_list_algorithm(content: &[u8]) -> Result<&[u8], CertError> {
    let (first, rest) = read(content)?;
    let algorithm = if first.tag == 0x02 {
        expect(rest, 0x30, "the signature AlgorithmIdentifier")?.0
    } else if first.tag == 0x30 {
        first
    } else {
        return Err(malformed("expected the version or the signature algorithm"));
    };
    Ok(algorithm.raw)
}

/// The number of TLVs in the content of the TLV at the front of `input`,
/// which must be the whole of `input` and have tag `tag`.
pub(crate) fn count_fields(input: &[u8], tag: u8) -> Result<Vec<Tlv<'_>>, CertError> {
    let (tlv, rest) = expect(input, tag, "a constructed value")?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    all(tlv.content)
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), CertError> {
    let [tag, first, rest @ ..] = input else {
        return Err(malformed("truncated header"));
    };
    if tag & 0x1f == 0x1f {
        return Err(malformed("high tag numbers are not used here"));
    }
    let (len, header) = if first & 0x80 == 0 {
        (usize::from(*first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(malformed("bad length"));
        }
        let mut len = 0usize;
        for b in &rest[..count] {
            len = (len << 8) | usize::from(*b);
        }
        if len < 0x80 || rest[0] == 0 {
            return Err(malformed("non-minimal length"));
        }
        (len, 2 + count)
    };
    let end = header
        .checked_add(len)
        .ok_or_else(|| malformed("length overflow"))?;
    if input.len() < end {
        return Err(malformed("truncated content"));
    }
    Ok((
        Tlv {
            tag: *tag,
            content: &input[header..end],
            raw: &input[..end],
        },
        &input[end..],
    ))
}

/// Reads a TLV that must have tag `tag`.
pub(crate) fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &str,
) -> Result<(Tlv<'a>, &'a [u8]), CertError> {
    let (tlv, rest) = read(input)?;
    if tlv.tag != tag {
        return Err(malformed(&format!("expected {what}")));
    }
    Ok((tlv, rest))
}

/// Reads the whole of `input` as a sequence of TLVs.
pub(crate) fn all(mut input: &[u8]) -> Result<Vec<Tlv<'_>>, CertError> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let (tlv, rest) = read(input)?;
        out.push(tlv);
        input = rest;
    }
    Ok(out)
}

/// Dotted form of an OBJECT IDENTIFIER's content.
pub(crate) fn oid(content: &[u8]) -> Result<String, CertError> {
    let mut parts: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return Err(malformed("OID component too large"));
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = if value < 80 { value / 40 } else { 2 };
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        } else if i == content.len() - 1 {
            return Err(malformed("truncated OID"));
        }
    }
    if parts.is_empty() {
        return Err(malformed("empty OID"));
    }
    Ok(parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// A GeneralizedTime (`YYYYMMDDHHMMSSZ`, optional fraction) as a time.
pub(crate) fn generalized_time(content: &[u8]) -> Result<time::OffsetDateTime, CertError> {
    let text = std::str::from_utf8(content).map_err(|_| malformed("time is not ASCII"))?;
    let text = text
        .strip_suffix('Z')
        .ok_or_else(|| malformed("time must be UTC (Z)"))?;
    let (whole, _fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("bad GeneralizedTime"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, CertError> {
        whole[range]
            .parse()
            .map_err(|_| malformed("bad GeneralizedTime"))
    };
    let month = time::Month::try_from(u8::try_from(num(4..6)?).unwrap_or(0))
        .map_err(|_| malformed("bad month"))?;
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).unwrap_or(0),
        month,
        u8::try_from(num(6..8)?).unwrap_or(0),
    )
    .map_err(|_| malformed("bad date"))?;
    let clock = time::Time::from_hms(
        u8::try_from(num(8..10)?).unwrap_or(99),
        u8::try_from(num(10..12)?).unwrap_or(99),
        u8::try_from(num(12..14)?).unwrap_or(99),
    )
    .map_err(|_| malformed("bad time of day"))?;
    Ok(time::PrimitiveDateTime::new(date, clock).assume_utc())
}

/// A minimal DER writer: definite, minimal lengths, built bottom-up from
/// already-encoded parts. Nothing here can fail.
pub(crate) mod write {
    /// A tag-length-value with a definite, minimal length.
    pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let len = content.len();
        let mut out = Vec::with_capacity(content.len() + 6);
        out.push(tag);
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            out.push(0x80 | (bytes.len() - first) as u8);
            out.extend_from_slice(&bytes[first..]);
        }
        out.extend_from_slice(content);
        out
    }

    /// A SEQUENCE of already-encoded parts.
    pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    /// An OCTET STRING.
    pub(crate) fn octet_string(content: &[u8]) -> Vec<u8> {
        tlv(0x04, content)
    }

    /// NULL.
    pub(crate) fn null() -> Vec<u8> {
        tlv(0x05, &[])
    }

    /// An OBJECT IDENTIFIER from its arcs (at least two; the first two are
    /// combined as X.690 8.19.4 says, so `2.999` encodes correctly).
    pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
        let (first, rest) = match arcs {
            [a, b, rest @ ..] => (a.saturating_mul(40).saturating_add(*b), rest),
            [a] => (a.saturating_mul(40), &[][..]),
            [] => (0, &[][..]),
        };
        let mut content = Vec::new();
        for arc in std::iter::once(first).chain(rest.iter().copied()) {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut high = arc >> 7;
            while high > 0 {
                chunk.push(0x80 | (high & 0x7f) as u8);
                high >>= 7;
            }
            chunk.reverse();
            content.extend(chunk);
        }
        tlv(0x06, &content)
    }

    /// A GeneralizedTime in whole seconds, `YYYYMMDDHHMMSSZ`, in UTC.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn generalized_time(t: time::OffsetDateTime) -> Vec<u8> {
        let t = t.to_offset(time::UtcOffset::UTC);
        let text = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        tlv(0x18, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_definite_lengths_and_rejects_bad_ones() {
        let (tlv, rest) = read(&[0x04, 0x02, 0xaa, 0xbb, 0x05]).expect("tlv");
        assert_eq!((tlv.tag, tlv.content), (0x04, &[0xaa, 0xbb][..]));
        assert_eq!(rest, &[0x05]);
        assert!(read(&[0x30]).is_err());
        assert!(
            read(&[0x30, 0x80, 0x00, 0x00]).is_err(),
            "indefinite length"
        );
        assert!(
            read(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]).is_err(),
            "non-minimal"
        );
        assert!(
            read(&[0x30, 0x85, 1, 0, 0, 0, 0]).is_err(),
            "too long a length"
        );
        assert!(read(&[0x30, 0x03, 0x01]).is_err(), "truncated");
    }

    #[test]
    fn decodes_oids_and_times() {
        assert_eq!(
            oid(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01]).expect("oid"),
            "1.3.6.1.5.5.7.48.1.1"
        );
        assert!(oid(&[0x2b, 0x86]).is_err());
        let t = generalized_time(b"20261128083000Z").expect("time");
        assert_eq!(t.unix_timestamp(), 1_795_854_600);
        assert!(generalized_time(b"20261128083000").is_err());
        assert!(generalized_time(b"20261328083000Z").is_err());
    }

    #[test]
    fn writer_output_reads_back() {
        // Lengths at the short/long boundaries read back whole and minimal.
        for len in [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1_0000] {
            let content = vec![0xab; len];
            let encoded = write::tlv(0x04, &content);
            let (tlv, rest) = read(&encoded).expect("own encoding");
            assert!(rest.is_empty());
            assert_eq!((tlv.tag, tlv.content.len()), (0x04, len));
        }
        assert_eq!(write::tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(write::tlv(0x04, &[0; 0x100])[..4], [0x04, 0x82, 0x01, 0x00]);
        for (arcs, dotted) in [
            (&[1, 3, 6, 1, 5, 5, 7, 48, 1, 2][..], "1.3.6.1.5.5.7.48.1.2"),
            (&[1, 3, 14, 3, 2, 26][..], "1.3.14.3.2.26"),
            (&[2, 999, 3][..], "2.999.3"),
            (&[1, 2, 840, 113_549, 1, 1, 11][..], "1.2.840.113549.1.1.11"),
        ] {
            let encoded = write::oid(arcs);
            let (tlv, _) = expect(&encoded, 0x06, "OID").expect("own encoding");
            assert_eq!(oid(tlv.content).expect("own OID"), dotted);
        }
        let t = time::macros::datetime!(2026-11-28 08:30:00 +02:00);
        let encoded = write::generalized_time(t);
        assert_eq!(encoded[2..], *b"20261128063000Z");
        assert_eq!(generalized_time(&encoded[2..]).expect("own time"), t);
        assert_eq!(
            write::seq(&[write::null(), write::octet_string(b"x")]),
            [0x30, 0x05, 0x05, 0x00, 0x04, 0x01, b'x']
        );
    }
}
