// bench/api_official.js - sequential requests per second of the official
// Node.js SDK core (ClientBuilder -> HcClient.sendRequest, the path every
// generated client takes: AKSKSigner + its axios HTTP client) calling
// ShowBackupDownloadLink on the benchmark's nginx.  Prints "rate <req/s>".
// Usage: node api_official.js ENDPOINT PROJECT_ID SECONDS
'use strict';
const path = require('path');
const sdk = path.join(__dirname, '..', 'tools', 'official-signer', 'node_modules',
  '@huaweicloud', 'huaweicloud-sdk-core');
const { BasicCredentials } = require(sdk);
const { ClientBuilder } = require(path.join(sdk, 'ClientBuilder'));

const [endpoint, projectId, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 5)];
const cred = new BasicCredentials().withAk('HPUAL0XZ4EXAMPLEAK01')
  .withSk('Z9xQeExampleSecretKey0123456789abcdefGHIJ').withProjectId(projectId);
const client = new ClientBuilder((c) => c).withCredential(cred).withEndpoint(endpoint).build();

function call() {
  // what RdsClient.showBackupDownloadLink passes to HcClient.sendRequest
  return client.sendRequest({
    method: 'GET', url: '/v3/{project_id}/backup-files', contentType: 'application/json',
    queryParams: { backup_id: 'f1e2d3c4b5a6478899aabbccddeeff00br01' },
    pathParams: {}, headers: {}, data: {},
  });
}

(async () => {
  for (let i = 0; i < 200; i++) await call(); // warm up (JIT, connection)
  let n = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - t0 < limit) {
    const r = await call();
    if (!r.files) throw new Error('unexpected answer');
    n++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log('rate ' + (n / s).toFixed(0));
})().catch((e) => { console.error(e.message || e); process.exit(1); });
