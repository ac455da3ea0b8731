#!/usr/bin/env bash
# Builds the X.509 test PKI of test/auth/x509/ with the openssl command, in DIR (created if
# missing). Everything is valid for 20 years except the deliberately expired certificate.
#
#   bash test/auth/x509/make_test_pki.sh DIR
#
# Files (NAME.crt certificate PEM, NAME.key PKCS#8 private key PEM):
#   root                C=CH, O=Rockhopper Test, CN=Test Root CA            RSA-2048, self-signed, cA
#   intermediate        ... CN=Test Intermediate CA                         P-384, by root, cA pathlen 0
#   gw-rsa              ... OU=Gateways, CN=gw-rsa.example.com              RSA-2048, by intermediate, SANs
#   gw-p256             ... OU=Gateways, CN=gw-p256.example.com             P-256, by intermediate, SANs
#   gw-p384             ... OU=Gateways, CN=gw-p384.example.com             P-384, by root, no keyUsage
#   expired             ... CN=expired.example.com                          P-256, by intermediate, 2020 only
#   revoked             ... CN=revoked.example.com                          P-256, by intermediate, revoked
#   no-digsig           ... CN=no-digsig.example.com                        P-256, keyUsage keyEncipherment
#   not-ca              ... CN=Not A CA                                     P-256, by root, cA FALSE
#   under-not-ca        ... CN=under-not-ca.example.com                     P-256, issued with not-ca's key
#   other-root          C=CH, O=Other Org, CN=Other Root CA                 P-256, self-signed (untrusted)
#   gw-other            C=CH, O=Other Org, CN=gw-other.example.com          P-256, by other-root
#   fake-intermediate   same subject DN as intermediate, other key          P-256, self-signed (untrusted)
#   gw-forged           ... CN=gw-forged.example.com                        P-256, by fake-intermediate
#   sub-ca              ... CN=Test Sub CA                                  P-256, by intermediate, cA
#                       (breaks the intermediate's pathlen 0)
#   gw-sub              ... CN=gw-sub.example.com                           P-256, by sub-ca
#   critical-ext        ... CN=critical-ext.example.com                     P-256, unknown critical ext
#   short-ca            ... CN=Short Lived CA                               P-256, by root, valid 1 day
#   gw-under-short      ... CN=gw-under-short.example.com                   P-256, by short-ca, 20 years
# CRLs (PEM): root.crl (empty), root-short.crl (empty, nextUpdate in 1 hour),
#   intermediate.crl (revokes "revoked"),
#   fake-intermediate.crl (issuer DN of intermediate, signed by the fake key, "revokes" gw-p256).
# Extra key forms: gw-rsa.pkcs1.key (RSA PRIVATE KEY), gw-p256.sec1.key (EC PRIVATE KEY),
#   gw-p256.enc.key (encrypted PKCS#8).
set -euo pipefail

if ! command -v openssl >/dev/null 2>&1; then
  echo "make_test_pki.sh: the openssl command is missing (apt-get install openssl)" >&2
  exit 127
fi
[ $# -eq 1 ] || {
  echo "usage: $0 DIR" >&2
  exit 2
}
mkdir -p "$1"
cd "$1"

DAYS=7300
export CA_DIR=.  # openssl.cnf reads it; `openssl ca` calls set it per CA
BASE="/C=CH/O=Rockhopper Test"

cat >openssl.cnf <<'EOF'
[ca]
default_ca = test_ca

[test_ca]
dir = $ENV::CA_DIR
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir/issued
default_md = sha384
policy = policy_any
unique_subject = no
preserve = yes
copy_extensions = none
default_crl_days = 7300
# RFC 5280 §5.2.1: every CRL names its issuer's key; strongSwan finds CRLs only by it.
crl_extensions = crl_ext

[crl_ext]
authorityKeyIdentifier = keyid:always

[policy_any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

[root_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

key() { # NAME rsa|P-256|P-384
  if [ "$2" = rsa ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$1.key"
  fi
}

self_signed() { # NAME KEYTYPE SUBJECT
  key "$1" "$2"
  openssl req -config openssl.cnf -new -x509 -key "$1.key" -subj "$3" -days $DAYS -sha256 \
    -extensions root_ext -out "$1.crt"
  mkdir -p "$1.db/issued"
  : >"$1.db/index.txt"
  echo 1000 >"$1.db/serial"
  echo 1000 >"$1.db/crlnumber"
}

issue() { # NAME KEYTYPE SUBJECT ISSUER EXTENSIONS [openssl ca date options...]
  local name=$1 type=$2 subject=$3 issuer=$4 ext=$5
  shift 5
  key "$name" "$type"
  openssl req -config openssl.cnf -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%b\n' "$ext" >"$name.ext"
  CA_DIR="$issuer.db" openssl ca -batch -config openssl.cnf -cert "$issuer.crt" \
    -keyfile "$issuer.key" -in "$name.csr" -out "$name.crt" -extfile "$name.ext" -notext \
    "$@" 2>/dev/null
  [ -s "$name.crt" ] || {
    echo "make_test_pki.sh: issuing $name failed" >&2
    exit 1
  }
}

EE_KU="keyUsage = critical, digitalSignature"
self_signed root rsa "$BASE/CN=Test Root CA"
issue intermediate P-384 "$BASE/CN=Test Intermediate CA" root \
  "basicConstraints = critical, CA:true, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign" \
  -days $DAYS
mkdir -p intermediate.db/issued
: >intermediate.db/index.txt
echo 1000 >intermediate.db/serial
echo 1000 >intermediate.db/crlnumber

issue gw-rsa rsa "$BASE/OU=Gateways/CN=gw-rsa.example.com" intermediate \
  "$EE_KU\nsubjectAltName = DNS:gw-rsa.example.com, email:vpn-rsa@example.com, IP:192.0.2.10, IP:2001:db8::10" \
  -days $DAYS
issue gw-p256 P-256 "$BASE/OU=Gateways/CN=gw-p256.example.com" intermediate \
  "$EE_KU\nsubjectAltName = DNS:gw-p256.example.com, DNS:Alias.Example.COM, email:vpn-p256@example.com, IP:192.0.2.11" \
  -days $DAYS
issue gw-p384 P-384 "$BASE/OU=Gateways/CN=gw-p384.example.com" root \
  "subjectAltName = DNS:gw-p384.example.com, IP:2001:db8::12" -days $DAYS
issue expired P-256 "$BASE/CN=expired.example.com" intermediate \
  "$EE_KU\nsubjectAltName = DNS:expired.example.com" \
  -startdate 20200101000000Z -enddate 20210101000000Z
issue revoked P-256 "$BASE/CN=revoked.example.com" intermediate \
  "$EE_KU\nsubjectAltName = DNS:revoked.example.com" -days $DAYS
issue no-digsig P-256 "$BASE/CN=no-digsig.example.com" intermediate \
  "keyUsage = critical, keyEncipherment\nsubjectAltName = DNS:no-digsig.example.com" -days $DAYS
issue not-ca P-256 "$BASE/CN=Not A CA" root \
  "basicConstraints = critical, CA:false\n$EE_KU" -days $DAYS
mkdir -p not-ca.db/issued
: >not-ca.db/index.txt
echo 1000 >not-ca.db/serial
issue under-not-ca P-256 "$BASE/CN=under-not-ca.example.com" not-ca \
  "$EE_KU\nsubjectAltName = DNS:under-not-ca.example.com" -days $DAYS

issue sub-ca P-256 "$BASE/CN=Test Sub CA" intermediate \
  "basicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign" -days $DAYS
mkdir -p sub-ca.db/issued
: >sub-ca.db/index.txt
echo 1000 >sub-ca.db/serial
issue gw-sub P-256 "$BASE/CN=gw-sub.example.com" sub-ca \
  "$EE_KU\nsubjectAltName = DNS:gw-sub.example.com" -days $DAYS
issue short-ca P-256 "$BASE/CN=Short Lived CA" root \
  "basicConstraints = critical, CA:true\nkeyUsage = critical, keyCertSign, cRLSign" -days 1
mkdir -p short-ca.db/issued
: >short-ca.db/index.txt
echo 1000 >short-ca.db/serial
issue gw-under-short P-256 "$BASE/CN=gw-under-short.example.com" short-ca \
  "$EE_KU\nsubjectAltName = DNS:gw-under-short.example.com" -days $DAYS
issue critical-ext P-256 "$BASE/CN=critical-ext.example.com" intermediate \
  "$EE_KU\n1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:must understand" -days $DAYS

self_signed other-root P-256 "/C=CH/O=Other Org/CN=Other Root CA"
issue gw-other P-256 "/C=CH/O=Other Org/CN=gw-other.example.com" other-root \
  "$EE_KU\nsubjectAltName = DNS:gw-other.example.com" -days $DAYS

self_signed fake-intermediate P-256 "$BASE/CN=Test Intermediate CA"
issue gw-forged P-256 "$BASE/CN=gw-forged.example.com" fake-intermediate \
  "$EE_KU\nsubjectAltName = DNS:gw-forged.example.com" -days $DAYS

# Revocations and CRLs.
CA_DIR=intermediate.db openssl ca -batch -config openssl.cnf -cert intermediate.crt \
  -keyfile intermediate.key -revoke revoked.crt -crl_reason keyCompromise 2>/dev/null
for ca in root intermediate; do
  CA_DIR=$ca.db openssl ca -batch -config openssl.cnf -cert $ca.crt -keyfile $ca.key \
    -gencrl -out $ca.crl 2>/dev/null
done
CA_DIR=root.db openssl ca -batch -config openssl.cnf -cert root.crt -keyfile root.key \
  -gencrl -crlhours 1 -out root-short.crl 2>/dev/null
CA_DIR=fake-intermediate.db openssl ca -batch -config openssl.cnf -cert fake-intermediate.crt \
  -keyfile fake-intermediate.key -revoke gw-p256.crt 2>/dev/null
CA_DIR=fake-intermediate.db openssl ca -batch -config openssl.cnf -cert fake-intermediate.crt \
  -keyfile fake-intermediate.key -gencrl -out fake-intermediate.crl 2>/dev/null

# Other key forms of the same keys.
openssl pkey -in gw-rsa.key -traditional -out gw-rsa.pkcs1.key
openssl pkey -in gw-p256.key -traditional -out gw-p256.sec1.key
openssl pkcs8 -topk8 -in gw-p256.key -passout pass:secret -out gw-p256.enc.key
echo "make_test_pki.sh: test PKI ready in $PWD"
