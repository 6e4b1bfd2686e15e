import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// package.json sits one folder above both src/ (tsx) and dist/ (compiled).
const packageJson = require('../package.json') as { name: string; version: string };

export const PACKAGE_NAME = packageJson.name;
export const PACKAGE_VERSION = packageJson.version;
export const USER_AGENT = `${PACKAGE_NAME}/${PACKAGE_VERSION} node/${process.versions.node}`;
