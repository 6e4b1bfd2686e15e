import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

import type { ServerContext } from '../context.js';
import { cancelUploadJobTool } from './cancel-upload-job.js';
import { createPredictionGroupTool } from './create-prediction-group.js';
import { registerTool } from './define.js';
import { getUploadJobTool } from './get-upload-job.js';
import { listDatasetsTool } from './list-datasets.js';
import { listPredictionGroupsTool } from './list-prediction-groups.js';
import { uploadPredictionsTool } from './upload-predictions.js';
import { validatePredictionsTool } from './validate-predictions.js';

export function registerTools(server: McpServer, context: ServerContext): void {
  registerTool(server, context, listDatasetsTool);
  registerTool(server, context, listPredictionGroupsTool);
  registerTool(server, context, createPredictionGroupTool);
  registerTool(server, context, validatePredictionsTool);
  registerTool(server, context, uploadPredictionsTool);
  registerTool(server, context, getUploadJobTool);
  registerTool(server, context, cancelUploadJobTool);
}
