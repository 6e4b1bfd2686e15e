/**
 * What the tools share: the settings, the logger, and the Kognic API services, which are built
 * on first use so that the server starts (and lists its tools) without credentials.
 */
import type { Config } from './config.js';
import { ConfigurationError } from './errors.js';
import { resolveCredentials, type KognicCredentials } from './kognic/credentials.js';
import { DatasetApi } from './kognic/dataset-api.js';
import { KognicHttpClient, type RequestOptions } from './kognic/http-client.js';
import { TokenProvider } from './kognic/token-provider.js';
import type { Logger } from './log.js';
import { UploadJobs } from './predictions/jobs.js';
import { AllowedRoots } from './predictions/roots.js';
import type { RetryLimits } from './predictions/uploader.js';

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
  /** The error from loading the configured credentials, returned by every tool that needs the API. */
  credentialsError?: Error;
  /** Overrides of the upload retry limits, for tests that need short backoffs. */
  uploadRetryLimits?: Partial<RetryLimits>;
}

/**
 * Finds the credentials for `config` the way kognic-auth does. A failure is kept, not thrown, so
 * that the server still starts and every tool that needs the API returns the reason.
 */
export function loadCredentials(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Pick<ServerContextOptions, 'credentials' | 'credentialsError'> {
  try {
    const credentials = resolveCredentials({
      flagFile: config.credentialsFile,
      env,
      environmentFile:
        config.environment?.credentials === undefined
          ? undefined
          : { path: config.environment.credentials, environmentName: config.environment.name },
    });
    if (credentials === undefined) {
      logger.warn('no Kognic credentials configured; tools that call the API return an error until they are set');
    } else {
      logger.info('Kognic credentials loaded', { source: credentials.source });
    }
    return { credentials };
  } catch (error) {
    logger.error('Kognic credentials could not be loaded', { error: (error as Error).message });
    return { credentialsError: error as Error };
  }
}

export class ServerContext {
  readonly config: Config;
  readonly logger: Logger;
  private readonly credentials: KognicCredentials | undefined;
  private readonly credentialsError: Error | undefined;
  private readonly uploadRetryLimits: Partial<RetryLimits> | undefined;
  private services: KognicServices | undefined;
  private uploadJobs: UploadJobs | undefined;

  /**
   * Returns the file URIs of the client's MCP roots, or undefined when the client offers none.
   * Set by createServer once a client can be asked.
   */
  clientRoots: (() => Promise<string[] | undefined>) | undefined;

  constructor(options: ServerContextOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.credentials = options.credentials;
    this.credentialsError = options.credentialsError;
    this.uploadRetryLimits = options.uploadRetryLimits;
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
        // Uploads send through the tools' client, whose pool has the dataset API's limit of 10
        // connections. So the process stays within it with two uploads at once, or with a tool
        // call during an upload. The pool outlives each upload, so destroy() leaves it open.
        createHttpClient: () => ({
          request: <T>(options: RequestOptions) => services.http.request<T>(options),
          destroy: async () => {},
        }),
        stateDir: this.config.stateDir,
        apiOrigin: this.config.datasetUrl,
        logger: this.logger,
        ...(this.uploadRetryLimits !== undefined ? { retryLimits: this.uploadRetryLimits } : {}),
      });
    }
    return this.uploadJobs;
  }

  /**
   * Returns the folders that tool calls may read files from: the client's MCP roots when it
   * offers at least one usable local folder, else the --root folders, else undefined (no file access).
   */
  async allowedRoots(): Promise<AllowedRoots | undefined> {
    const clientRoots = await this.clientRoots?.();
    if (clientRoots !== undefined && clientRoots.length > 0) {
      const roots = await AllowedRoots.fromFileUris(clientRoots);
      for (const ignored of roots.ignored) {
        this.logger.warn('client root ignored', { uri: ignored.uri, reason: ignored.reason });
      }
      if (roots.dirs.length > 0) {
        return roots;
      }
    }
    return this.config.roots.length > 0 ? AllowedRoots.create(this.config.roots) : undefined;
  }

  /** Cancels running uploads and closes every connection. */
  async close(): Promise<void> {
    await this.uploadJobs?.closeAll();
    if (this.services !== undefined) {
      await Promise.allSettled([this.services.http.destroy(), this.services.tokenProvider.close()]);
    }
  }
}
