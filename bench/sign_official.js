// bench/sign_official.js - signatures per second of the official Node.js
// SDK core's AKSKSigner.sign on the same request as bench/sign.lua, the
// way its generated clients call it (current date, `{}` body on GET).
// Prints "rate <signatures/s>" (median of rounds).  Run through bench/sign.
'use strict';
const path = require('path');
const sdk = path.join(__dirname, '..', 'tools', 'official-signer', 'node_modules',
  '@huaweicloud', 'huaweicloud-sdk-core');
const { BasicCredentials } = require(sdk);
const { AKSKSigner } = require(path.join(sdk, 'auth', 'AKSKSigner'));

const rounds = Number(process.argv[2] || 7);
const perRound = Number(process.argv[3] || 50000);
const PID = '0b2a5c6d7e8f40a1b2c3d4e5f6a7b8c9';
const cred = new BasicCredentials()
  .withAk('HPUAL0XZ4EXAMPLEAK01')
  .withSk('Z9xQeExampleSecretKey0123456789abcdefGHIJ')
  .withProjectId(PID);

function request() {
  return {
    endpoint: 'https://gaussdb.cn-north-4.myhuaweicloud.com/v3/' + PID +
      '/instance/a1b2c3d4e5f6471890abcdef12345678in07/auditlog/download-link',
    method: 'GET',
    headers: { 'Content-Type': 'application/json', 'X-Project-Id': PID },
    queryParams: {
      start_time: '2023-07-24T09:27:00+0800', end_time: '2023-07-24T10:27:00+0800',
      limit: 50, node_id: 'b2c3d4e5f6a7481990bcdef123456789no07',
    },
    data: {},
  };
}

for (let i = 0; i < perRound / 5; i++) AKSKSigner.sign(request(), cred); // warm up (JIT)
const rates = [];
for (let r = 0; r < rounds; r++) {
  // CPU time of the process, as bench/sign.lua (os.clock) and the OpenSSL
  // floor measure: what another process does meanwhile is not counted.
  const c0 = process.cpuUsage();
  for (let i = 0; i < perRound; i++) AKSKSigner.sign(request(), cred);
  const used = process.cpuUsage(c0);
  const s = (used.user + used.system) / 1e6;
  rates.push(perRound / s);
}
rates.sort((a, b) => a - b);
console.log('rate ' + rates[(rounds - 1) >> 1].toFixed(0));
