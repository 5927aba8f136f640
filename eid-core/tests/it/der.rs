//! A few DER encoding helpers for the extensions rcgen cannot write
//! (certificate policies, policy constraints, policy mappings,
//! inhibitAnyPolicy) and for hand-made hostile inputs.

/// A tag-length-value with a definite, minimal length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(length(content.len()));
    out.extend_from_slice(content);
    out
}

/// The DER length octets for `len`.
pub fn length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// SEQUENCE of already-encoded parts.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// The arcs of a dotted OID, as rcgen wants them.
pub fn arcs(dotted: &str) -> Vec<u64> {
    dotted
        .split('.')
        .map(|arc| arc.parse().expect("numeric OID arc"))
        .collect()
}

/// OBJECT IDENTIFIER from its dotted form.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs = arcs(dotted);
    let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        content.extend(chunk);
    }
    tlv(0x06, &content)
}

/// The content octets of a non-negative INTEGER.
pub fn uint_content(value: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = value
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

/// INTEGER.
pub fn uint(value: u32) -> Vec<u8> {
    tlv(0x02, &uint_content(value))
}

/// `depth` SEQUENCEs nested in one another around `inner`, all with
/// definite lengths (valid DER).
pub fn nested_sequences(depth: usize, inner: &[u8]) -> Vec<u8> {
    let mut out = inner.to_vec();
    for _ in 0..depth {
        out = tlv(0x30, &out);
    }
    out
}

/// Splits the first TLV of `der` into (tag, header length, content length).
/// Only what the tests need: single-byte tags, definite lengths.
pub fn header(der: &[u8]) -> (u8, usize, usize) {
    let tag = der[0];
    let first = der[1];
    if first < 0x80 {
        return (tag, 2, first as usize);
    }
    let n = (first & 0x7f) as usize;
    let len = der[2..2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    (tag, 2 + n, len)
}

/// The children of a constructed TLV, each as its full encoding.
pub fn children(der: &[u8]) -> Vec<&[u8]> {
    let (_, hlen, len) = header(der);
    let mut content = &der[hlen..hlen + len];
    let mut out = Vec::new();
    while !content.is_empty() {
        let (_, h, l) = header(content);
        out.push(&content[..h + l]);
        content = &content[h + l..];
    }
    out
}

/// An X.509 Extension: SEQUENCE { extnID, critical (when true), extnValue }.
pub fn extension(oid_dotted: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(oid_dotted)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(tlv(0x04, value));
    seq(&parts)
}

/// The children of a constructed TLV, owned.
pub fn fields(der: &[u8]) -> Vec<Vec<u8>> {
    children(der).into_iter().map(<[u8]>::to_vec).collect()
}

/// A signed object (certificate or CRL) split into its to-be-signed part,
/// its outer AlgorithmIdentifier and its signature BIT STRING.
pub fn split_signed(der: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut parts = fields(der);
    assert_eq!(parts.len(), 3, "a signed object has three parts");
    let signature = parts.remove(2);
    let algorithm = parts.remove(1);
    (parts.remove(0), algorithm, signature)
}

/// PEM text for `der` under `label` (base64, 64 columns).
pub fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_values() {
        assert_eq!(oid("2.5.29.32"), vec![0x06, 0x03, 0x55, 0x1d, 0x20]);
        assert_eq!(
            oid("1.2.840.113549.1.1.11"),
            vec![
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b
            ]
        );
        assert_eq!(uint(0), vec![0x02, 0x01, 0x00]);
        assert_eq!(uint(128), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(length(300), vec![0x82, 0x01, 0x2c]);
        let nested = nested_sequences(2, &[]);
        assert_eq!(nested, vec![0x30, 0x02, 0x30, 0x00]);
        assert_eq!(children(&nested), vec![&[0x30u8, 0x00][..]]);
        assert_eq!(
            pem("X", b"Man"),
            "-----BEGIN X-----\nTWFu\n-----END X-----\n"
        );
        assert!(pem("X", b"Ma").contains("\nTWE=\n"));
        assert!(pem("X", b"M").contains("\nTQ==\n"));
    }
}
