import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

import type { ServerContext } from '../context.js';
import { createPredictionGroupTool } from './create-prediction-group.js';
import { registerTool } from './define.js';
import { listDatasetsTool } from './list-datasets.js';
import { listPredictionGroupsTool } from './list-prediction-groups.js';

export function registerTools(server: McpServer, context: ServerContext): void {
  registerTool(server, context, listDatasetsTool);
  registerTool(server, context, listPredictionGroupsTool);
  registerTool(server, context, createPredictionGroupTool);
}
