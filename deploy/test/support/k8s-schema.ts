import * as ts from 'typescript';
import type { K8sObject } from './manifests';
import { repoPath } from './manifests';

/**
 * Validation of Kubernetes objects with the kubernetes-models packages (core API, KEDA, Prometheus
 * Operator), in two passes that catch different mistakes:
 *
 * 1. The packages' JSON-schema validators (`new Model(obj).validate()`): required fields, types,
 *    formats. Like the API server's OpenAPI schema, they let unknown fields through.
 * 2. The packages' TypeScript types, through the compiler: each object becomes an object literal typed
 *    as its model, so a misspelled or misplaced field (`terminationGracePeriodSecond`, a probe on the
 *    pod instead of the container) is an "excess property" error, as kubectl's strict field
 *    validation would report on a real cluster. The compiler reports the first problem per object.
 */

const CRD_PACKAGES: Record<string, string> = {
  'keda.sh': '@kubernetes-models/keda',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

/** The module that holds the model of an apiVersion/kind, e.g. `kubernetes-models/apps/v1/Deployment`. */
export function modelModule(object: Pick<K8sObject, 'apiVersion' | 'kind'>): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return `${CRD_PACKAGES[group] ?? 'kubernetes-models'}/${object.apiVersion}/${object.kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

function schemaErrors(object: K8sObject): string[] {
  let model: ModelClass | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    model = (require(modelModule(object)) as Record<string, ModelClass>)[object.kind];
  } catch {
    model = undefined;
  }
  if (!model) return [`no schema for ${object.apiVersion} ${object.kind} (${modelModule(object)})`];
  try {
    new model(object).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

function typeErrors(objects: K8sObject[]): string[][] {
  const fileName = repoPath('deploy', 'test', '__k8s_objects__.ts');
  const starts: number[] = [];
  let source = '';
  objects.forEach((object, i) => {
    starts.push(source.length);
    source += `import type { I${object.kind} as T${i} } from '${modelModule(object)}';\n`;
    source += `export const o${i}: T${i} = ${JSON.stringify(object, null, 1)};\n`;
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);

  const perObject: string[][] = objects.map(() => []);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    if (diagnostic.file?.fileName !== fileName || diagnostic.start === undefined) {
      perObject.forEach((problems) => problems.push(message));
      continue;
    }
    const at = diagnostic.start;
    const index = starts.findIndex((start, i) => at >= start && at < (starts[i + 1] ?? Infinity));
    perObject[index].push(message);
  }
  return perObject;
}

/**
 * kustomize wraps long base64 values of Secret `data` over several lines; the API server's decoder
 * (Go's encoding/base64) skips line breaks, the schema's "byte" format does not. Unwrap them.
 */
function asApiServerReadsIt(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !object.data) return object;
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')]),
  );
  return { ...object, data };
}

/** The problems of each object, in order; one compiler pass for all of them (a pass costs ~1 s). */
export function validateEach(rendered: K8sObject[]): string[][] {
  const objects = rendered.map(asApiServerReadsIt);
  const types = typeErrors(objects);
  return objects.map((object, i) => [...schemaErrors(object), ...types[i]]);
}

/** Problems as "Kind/name: message"; an empty list means every object is valid. */
export function validateObjects(objects: K8sObject[]): string[] {
  const problems = validateEach(objects);
  return objects.flatMap((object, i) =>
    problems[i].map((p) => `${object.kind}/${object.metadata?.name}: ${p}`),
  );
}
