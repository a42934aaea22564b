#!/usr/bin/env bash
# Regenerates the self-signed key and trust stores the TLS cluster test uses. FOR TESTS ONLY: the password is
# public and one certificate serves every node. Real deployments use their own PKI (see docs/cluster.md).
set -euo pipefail
cd "$(dirname "$0")"
rm -f node-keystore.p12 node-truststore.p12 node.cer
keytool -genkeypair -alias node -keyalg RSA -keysize 2048 -validity 36500 \
  -dname "CN=shadowmmu-test-node" -ext "SAN=IP:127.0.0.1,DNS:localhost" \
  -storetype PKCS12 -keystore node-keystore.p12 -storepass changeit -keypass changeit
keytool -exportcert -alias node -keystore node-keystore.p12 -storepass changeit -file node.cer
keytool -importcert -noprompt -alias node -file node.cer -storetype PKCS12 \
  -keystore node-truststore.p12 -storepass changeit
rm -f node.cer
