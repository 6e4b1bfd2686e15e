/**
 * stdout carries the MCP protocol, so any stray console.log (ours or a dependency's) would corrupt
 * it. Imported first by the CLI, this sends the console methods that Node writes to stdout to
 * stderr instead. Help and version text use process.stdout.write directly.
 */
const toStderr = (...args: unknown[]): void => {
  console.error(...args);
};

console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.table = toStderr;
console.dir = (item: unknown) => {
  console.error(item);
};

export {};
