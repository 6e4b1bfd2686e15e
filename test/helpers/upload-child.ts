/**
 * An upload in a process of its own, for the crash test: it uploads one box prediction per scene
 * to a sandbox started by the parent, at 10 connections, until the parent kills it.
 * Arguments: one JSON object `{url, stateDir, groupUuid, scenes}`.
 */
import { KognicHttpClient } from '../../src/kognic/http-client.js';
import { TokenProvider } from '../../src/kognic/token-provider.js';
import { silentLogger } from '../../src/log.js';
import { Upload } from '../../src/predictions/uploader.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../../src/sandbox/index.js';
import { boxEntries } from './upload-harness.js';

const { url, stateDir, groupUuid, scenes } = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  stateDir: string;
  groupUuid: string;
  scenes: string[];
};

const tokenProvider = new TokenProvider({
  authUrl: url,
  credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'the crash test' },
  logger: silentLogger,
});
const upload = new Upload(
  { jobId: 'upl_crashing', groupUuid, entries: boxEntries(scenes) },
  {
    createHttpClient: (maxConnections) => new KognicHttpClient({ baseUrl: url, tokenProvider, logger: silentLogger, maxConnections }),
    stateDir,
    apiOrigin: url,
    logger: silentLogger,
  },
);
upload.start();
await upload.done;
await tokenProvider.close();
