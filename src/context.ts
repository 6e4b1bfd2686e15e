/**
 * What the tools share: the settings, the logger, and the Kognic API services, which are built
 * on first use so that the server starts (and lists its tools) without credentials.
 */
import type { Config } from './config.js';
import { ConfigurationError } from './errors.js';
import type { KognicCredentials } from './kognic/credentials.js';
import { DatasetApi } from './kognic/dataset-api.js';
import { KognicHttpClient } from './kognic/http-client.js';
import { TokenProvider } from './kognic/token-provider.js';
import type { Logger } from './log.js';
import { UploadJobs } from './predictions/jobs.js';

export const MISSING_CREDENTIALS_MESSAGE =
  'No Kognic API credentials are configured. Set KOGNIC_CREDENTIALS to the path of the credentials ' +
  'JSON file downloaded from the Kognic app, or set KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET, or ' +
  'start the server with --credentials FILE; then restart the MCP server. To try the tools without ' +
  'an account, start it with --sandbox.';

export interface KognicServices {
  tokenProvider: TokenProvider;
  http: KognicHttpClient;
  datasetApi: DatasetApi;
}

export interface ServerContextOptions {
  config: Config;
  logger: Logger;
  credentials?: KognicCredentials;
  /** Why loading the configured credentials failed; returned by every tool that needs the API. */
  credentialsError?: Error;
}

export class ServerContext {
  readonly config: Config;
  readonly logger: Logger;
  private readonly credentials: KognicCredentials | undefined;
  private readonly credentialsError: Error | undefined;
  private services: KognicServices | undefined;
  private uploadJobs: UploadJobs | undefined;

  constructor(options: ServerContextOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.credentials = options.credentials;
    this.credentialsError = options.credentialsError;
  }

  /** Returns the API services, building them on first use; throws when no credentials are usable. */
  kognic(): KognicServices {
    if (this.services !== undefined) {
      return this.services;
    }
    if (this.credentialsError !== undefined) {
      throw this.credentialsError;
    }
    if (this.credentials === undefined) {
      throw new ConfigurationError(MISSING_CREDENTIALS_MESSAGE);
    }

    const tokenProvider = new TokenProvider({
      authUrl: this.config.authUrl,
      credentials: this.credentials,
      logger: this.logger,
    });
    const http = new KognicHttpClient({ baseUrl: this.config.datasetUrl, tokenProvider, logger: this.logger });
    this.services = { tokenProvider, http, datasetApi: new DatasetApi(http) };
    return this.services;
  }

  /** Returns the upload jobs of this process, creating the registry on first use. */
  jobs(): UploadJobs {
    if (this.uploadJobs === undefined) {
      const services = this.kognic();
      this.uploadJobs = new UploadJobs({
        createHttpClient: (maxConnections) =>
          new KognicHttpClient({
            baseUrl: this.config.datasetUrl,
            tokenProvider: services.tokenProvider,
            logger: this.logger,
            maxConnections,
          }),
        stateDir: this.config.stateDir,
        apiOrigin: this.config.datasetUrl,
        logger: this.logger,
      });
    }
    return this.uploadJobs;
  }

  /** Cancels running uploads and closes every connection. */
  async close(): Promise<void> {
    await this.uploadJobs?.closeAll();
    if (this.services !== undefined) {
      await Promise.allSettled([this.services.http.destroy(), this.services.tokenProvider.close()]);
    }
  }
}
