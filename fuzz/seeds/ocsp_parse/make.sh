#!/bin/sh
# Makes the seed OCSP responses for the ocsp_parse target with OpenSSL 3.x:
# a throwaway P-256 CA and leaf, then a `good` response signed by the CA
# (with a nonce) and a `revoked` one. Run from this directory; the keys are
# thrown away, the responses are committed.
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
  -subj "/CN=OCSP seed CA" -days 3650 -out ca.pem \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
  -subj "/CN=citizen" -out leaf.csr 2>/dev/null
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 42 -days 365 -out leaf.pem 2>/dev/null
printf 'V\t351231000000Z\t\t2A\tunknown\t/CN=citizen\n' > index.good
printf 'R\t351231000000Z\t260101000000Z,keyCompromise\t2A\tunknown\t/CN=citizen\n' > index.revoked
openssl ocsp -issuer ca.pem -cert leaf.pem -reqout req.der -no_nonce 2>/dev/null
openssl ocsp -issuer ca.pem -cert leaf.pem -reqout req-nonce.der 2>/dev/null
openssl ocsp -index index.good -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req-nonce.der \
  -respout "$here/good.der" -ndays 7 2>/dev/null
openssl ocsp -index index.revoked -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin req.der \
  -respout "$here/revoked.der" -ndays 7 2>/dev/null
# A non-successful status (tryLater): OCSPResponse { responseStatus 3 }.
printf '\060\003\012\001\003' > "$here/try-later.der"
