/** Summarises a V8 CPU profile (`node --cpu-prof`) as the functions with the most self time. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Functions listed per profile. */
export const PROFILE_TOP_FUNCTIONS = 15;

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The V8 name of the node that collects samples taken while the thread waits for events. */
const IDLE_NODE_NAME = '(idle)';

export interface ProfileEntry {
  functionName: string;
  /** `file:line`, relative to the repository when inside it, or `(native)` for V8 built-ins. */
  location: string;
  selfMs: number;
  /** Share of the busy time, that is the sampled time without `(idle)`. */
  selfPercent: number;
}

export interface ProfileSummary {
  /** Name of the profiled run, such as `L = 20 ms, run 1`. */
  label: string;
  file: string;
  /** Time from the first to the last sample, in milliseconds. */
  totalMs: number;
  /** Sampled time minus `(idle)`, in milliseconds. */
  busyMs: number;
  top: ProfileEntry[];
}

/** The parts of the `.cpuprofile` JSON format that the summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  /** Microseconds between consecutive samples. The first entry is relative to `startTime`. */
  timeDeltas: number[];
}

/** Returns the one `.cpuprofile` file in `folder`, where the server writes it when it exits. */
export async function findCpuProfile(folder: string): Promise<string> {
  const files = (await readdir(folder)).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length !== 1) {
    throw new Error(`Expected one .cpuprofile file in ${folder}, found ${files.length}. The server may not have exited cleanly; check its stderr.`);
  }
  return path.join(folder, files[0]!);
}

export async function summariseCpuProfile(file: string, label: string): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));

  // Each sample owns the time until the next sample, as Chrome DevTools counts it.
  const selfMicrosByKey = new Map<string, { functionName: string; location: string; micros: number }>();
  let totalMicros = 0;
  let idleMicros = 0;
  for (let index = 0; index < profile.samples.length; index++) {
    const node = nodesById.get(profile.samples[index]!);
    const micros = profile.timeDeltas[index + 1] ?? 0;
    if (node === undefined) {
      continue;
    }
    totalMicros += micros;

    const functionName = node.callFrame.functionName || '(anonymous)';
    if (functionName === IDLE_NODE_NAME) {
      idleMicros += micros;
      continue;
    }

    const location = describeLocation(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${functionName}\u0000${location}`;
    const entry = selfMicrosByKey.get(key) ?? { functionName, location, micros: 0 };
    entry.micros += micros;
    selfMicrosByKey.set(key, entry);
  }

  const busyMicros = totalMicros - idleMicros;
  const top = [...selfMicrosByKey.values()]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, PROFILE_TOP_FUNCTIONS)
    .map((entry) => ({
      functionName: entry.functionName,
      location: entry.location,
      selfMs: entry.micros / 1000,
      selfPercent: busyMicros === 0 ? 0 : (entry.micros / busyMicros) * 100,
    }));

  return { label, file, totalMs: totalMicros / 1000, busyMs: busyMicros / 1000, top };
}

function describeLocation(url: string, zeroBasedLine: number): string {
  if (url === '') {
    return '(native)';
  }

  const file = url.startsWith('file://') ? path.relative(REPOSITORY_ROOT, fileURLToPath(url)) : url;
  return `${file}:${zeroBasedLine + 1}`;
}
