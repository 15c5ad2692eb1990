// CreateKey, Encrypt and Decrypt through Node's @grpc/grpc-js with its default options, the
// service loaded from proto/ by @grpc/proto-loader.
//
// Usage: node kms_round_trip.js PROTO_DIR TARGET [CA_PEM CLIENT_PEM CLIENT_KEY]
// TARGET is a gRPC target ("unix:/path/arca.sock", or "HOST:PORT" with the three TLS files).
// Prints one JSON line with what the daemon answered; exits non-zero on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [protoDir, target, ca, cert, key] = process.argv.slice(2);
const definition = protoLoader.loadSync(path.join(protoDir, 'arca/v1/kms.proto'), {
  includeDirs: [protoDir],
  keepCase: true,
  defaults: true,
});
const arca = grpc.loadPackageDefinition(definition).arca.v1;
const credentials = ca
  ? grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key), fs.readFileSync(cert))
  : grpc.credentials.createInsecure();
const kms = new arca.KeyManagement(target, credentials);

function call(method, request) {
  const deadline = new Date(Date.now() + 30000);
  return new Promise((resolve, reject) => {
    kms[method](request, { deadline }, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

async function main() {
  const created = await call('CreateKey', { description: 'from grpc-js' });
  const keyId = created.key_metadata.key_id;
  const context = { client: 'node' };
  const sealed = await call('Encrypt', {
    key_id: keyId,
    plaintext: Buffer.from('attack at dawn'),
    encryption_context: context,
  });
  const opened = await call('Decrypt', { ciphertext_blob: sealed.ciphertext_blob, encryption_context: context });
  console.log(JSON.stringify({ key_id: keyId, decrypted_key_id: opened.key_id, plaintext: opened.plaintext.toString() }));
  kms.close();
}

main().catch((error) => {
  console.error(`${error.code}: ${error.details || error.message}`);
  process.exit(1);
});
