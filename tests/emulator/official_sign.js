#!/usr/bin/env node
// Sign requests with the official Huawei Cloud Node.js SDK core (3.1.211), exactly the way
// its generated service clients do (HcClient.buildRequest + BasicCredentials.processAuthRequest
// -> AKSKSigner.sign), so the emulator's verifier can be checked against the real signer.
//
// stdin:  JSON array of {method, endpoint, url (path, may contain {project_id}), queryParams,
//                        data (object or absent), ak, sk, projectId, securityToken?}
// stdout: JSON array of {path, query (wire query string as the SDK's HTTP client sends it),
//                        headers (everything the SDK sends, Authorization included), body}
//
// Requires: npm install --prefix tools/official-signer   (run from the repo root)
'use strict';
const path = require('path');
const querystring = require('querystring');

const root = path.resolve(__dirname, '..', '..');
const core = path.join(root, 'tools', 'official-signer', 'node_modules', '@huaweicloud', 'huaweicloud-sdk-core');
const { BasicCredentials } = require(path.join(core, 'auth', 'BasicCredentials'));
const { HttpRequestBuilder } = require(path.join(core, 'http', 'IHttpRequestBuilder'));

async function signOne(spec) {
  let cred = new BasicCredentials().withAk(spec.ak).withSk(spec.sk).withProjectId(spec.projectId);
  if (spec.securityToken) cred = cred.withSecurityToken(spec.securityToken);
  // HcClient.buildRequest: path params substituted, content type normalised to lower-case key.
  const headers = Object.assign({}, spec.headers || {});
  headers['content-type'] = 'application/json';
  let req = new HttpRequestBuilder()
    .withEndpoint(spec.endpoint)
    .withUrl(spec.url)
    .withHeaders(headers)
    .withMethod(spec.method)
    .withPathParams({})
    .withData(spec.data)
    .withQueryParams(spec.queryParams || {})
    .build();
  req = await cred.processAuthRequest({}, req);
  const url = new URL(req.endpoint);
  return {
    path: url.pathname,
    // DefaultHttpClient serialises params with querystring.stringify.
    query: querystring.stringify(spec.queryParams || {}),
    headers: req.headers,
    body: spec.data === undefined ? '' : JSON.stringify(spec.data),
  };
}

let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', async () => {
  try {
    const specs = JSON.parse(input);
    const out = [];
    for (const s of specs) out.push(await signOne(s));
    process.stdout.write(JSON.stringify(out));
  } catch (e) {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
  }
});
