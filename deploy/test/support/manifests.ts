import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Loaders for the deployment artifacts (Dockerfile, docker-compose.yml, the kustomize overlays), so the
 * tests read them the way Docker, Compose and kubectl do: stages inherit from their parent stage, YAML
 * merge keys are resolved, `${VAR:-default}` is interpolated, kustomize renders the overlays.
 */

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const repoPath = (...parts: string[]): string => join(REPO_ROOT, ...parts);

export const OVERLAYS = ['dev', 'prod'] as const;
export type Overlay = (typeof OVERLAYS)[number];

// ---------------------------------------------------------------------------------------------------
// Kubernetes

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Committed renders: what the tests read where kubectl is missing (`npm run k8s:render` refreshes them). */
export const renderedPath = (overlay: Overlay): string => repoPath('k8s', 'rendered', `${overlay}.yaml`);

let kubectlFound: boolean | undefined;
export function kubectlAvailable(): boolean {
  if (kubectlFound === undefined) {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      kubectlFound = true;
    } catch {
      kubectlFound = false;
    }
  }
  return kubectlFound;
}

/** `kubectl kustomize k8s/overlays/<overlay>` (kustomize v5 built into kubectl), as YAML text. */
export function kustomize(overlay: Overlay): string {
  return execFileSync('kubectl', ['kustomize', repoPath('k8s', 'overlays', overlay)], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

const renderCache = new Map<Overlay, K8sObject[]>();
/** The overlay's objects: rendered by kubectl where it exists, else the committed render. */
export function renderOverlay(overlay: Overlay): K8sObject[] {
  let objects = renderCache.get(overlay);
  if (!objects) {
    objects = parseObjects(
      kubectlAvailable() ? kustomize(overlay) : readFileSync(renderedPath(overlay), 'utf8'),
    );
    renderCache.set(overlay, objects);
  }
  return objects;
}

/** The prod Secret template (not part of the kustomization: operators create the real Secret from it). */
export function prodSecretTemplate(): K8sObject {
  const [secret] = parseObjects(
    readFileSync(repoPath('k8s', 'overlays', 'prod', 'secret.template.yaml'), 'utf8'),
  );
  return secret;
}

export const byKind = (objects: K8sObject[], kind: string): K8sObject[] =>
  objects.filter((o) => o.kind === kind);

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** String values of a ConfigMap or Secret (Secret `data` is base64, `stringData` is plain). */
export function dataOf(object: K8sObject): Record<string, string> {
  const values: Record<string, string> = { ...((object.data as Record<string, string>) ?? {}) };
  if (object.kind === 'Secret') {
    for (const [k, v] of Object.entries(values)) values[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  return { ...values, ...((object.stringData as Record<string, string>) ?? {}) };
}

// The slices of the pod API the tests read (the objects themselves are validated against the full
// kubernetes-models schemas in k8s.spec.ts).
export interface EnvVarSource {
  configMapKeyRef?: { name: string; key: string; optional?: boolean };
  secretKeyRef?: { name: string; key: string; optional?: boolean };
  fieldRef?: { fieldPath: string };
}
export interface HttpProbe {
  httpGet?: { path?: string; port: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: EnvVarSource }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: HttpProbe;
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
export interface PodSpec {
  containers: Container[];
  enableServiceLinks?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  topologySpreadConstraints?: {
    topologyKey: string;
    labelSelector?: { matchLabels?: Record<string, string> };
  }[];
  automountServiceAccountToken?: boolean;
}
export interface Workload {
  object: K8sObject;
  pod: PodSpec;
  podLabels: Record<string, string>;
}

/** Deployments, StatefulSets and Jobs with their pod template. */
export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
    .map((object) => {
      const template = (
        object.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } }
      ).template;
      return { object, pod: template.spec, podLabels: template.metadata?.labels ?? {} };
    });
}

/**
 * The Dockerfile target an image runs: images are named `agent-platform-<target>` (any registry
 * path and tag), the convention the Dockerfile header and the READMEs use.
 */
export function targetOfImage(image: string): string | undefined {
  const name =
    image
      .replace(/@.*$/, '')
      .replace(/:[^/:]*$/, '')
      .split('/')
      .pop() ?? '';
  return name.startsWith('agent-platform-') ? name.slice('agent-platform-'.length) : undefined;
}

export interface ResolvedEnv {
  values: Record<string, string>;
  /** References to ConfigMaps, Secrets or keys that exist nowhere (and are not optional). */
  unresolved: string[];
}

/**
 * The environment a container gets, as the kubelet builds it: envFrom first, then env entries (which
 * win). `extraSecrets` stands for Secrets created outside the kustomization (the prod template).
 */
export function containerEnv(
  container: Container,
  objects: K8sObject[],
  extraSecrets: K8sObject[] = [],
): ResolvedEnv {
  const values: Record<string, string> = {};
  const unresolved: string[] = [];
  const lookup = (kind: 'ConfigMap' | 'Secret', name: string) =>
    find(objects, kind, name) ??
    (kind === 'Secret' ? extraSecrets.find((s) => s.metadata.name === name) : undefined);

  for (const from of container.envFrom ?? []) {
    const ref: ['ConfigMap' | 'Secret', string] = from.configMapRef
      ? ['ConfigMap', from.configMapRef.name]
      : ['Secret', from.secretRef!.name];
    const source = lookup(ref[0], ref[1]);
    if (!source) unresolved.push(`${ref[0]} ${ref[1]}`);
    else Object.assign(values, dataOf(source));
  }
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) {
      values[entry.name] = entry.value;
      continue;
    }
    const from = entry.valueFrom ?? {};
    const ref = from.configMapKeyRef
      ? (['ConfigMap', from.configMapKeyRef] as const)
      : from.secretKeyRef
        ? (['Secret', from.secretKeyRef] as const)
        : undefined;
    if (!ref) {
      values[entry.name] = `<${from.fieldRef?.fieldPath ?? 'runtime'}>`;
      continue;
    }
    const source = lookup(ref[0], ref[1].name);
    const value = source ? dataOf(source)[ref[1].key] : undefined;
    if (value !== undefined) values[entry.name] = value;
    else if (!ref[1].optional) unresolved.push(`${ref[0]} ${ref[1].name} key ${ref[1].key}`);
  }
  return { values, unresolved };
}

/** Every variable name a container's spec sets (whether or not its source resolves). */
export function containerEnvNames(container: Container, objects: K8sObject[]): string[] {
  const names = new Set((container.env ?? []).map((e) => e.name));
  for (const from of container.envFrom ?? []) {
    const source = from.configMapRef
      ? find(objects, 'ConfigMap', from.configMapRef.name)
      : find(objects, 'Secret', from.secretRef!.name);
    for (const key of Object.keys(source ? dataOf(source) : {})) names.add(key);
  }
  return [...names];
}

// ---------------------------------------------------------------------------------------------------
// docker-compose.yml

export interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  profiles?: string[];
  volumes?: string[];
  container_name?: string;
  restart?: string;
  stop_grace_period?: string;
  user?: string;
  working_dir?: string;
}
export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's variable interpolation: `${VAR}`, `${VAR:-default}` (default when unset or empty),
 * `${VAR-default}` (default when unset) and `$$` for a literal `$`. `vars` plays the shell / .env.
 */
export function interpolate(text: string, vars: Record<string, string | undefined> = {}): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g,
    (match, name, colon, fallback) => {
      if (match === '$$') return '$';
      const value = vars[name];
      if (fallback === undefined) return value ?? '';
      if (value === undefined || (colon === ':' && value === '')) return fallback;
      return value;
    },
  );
}

/** docker-compose.yml as Compose reads it: merge keys resolved, variables interpolated. */
export function loadCompose(vars: Record<string, string | undefined> = {}): ComposeFile {
  const text = interpolate(readFileSync(repoPath('docker-compose.yml'), 'utf8'), vars);
  return parse(text, { merge: true }) as ComposeFile;
}

/** The raw file, merge keys resolved but variables left as written (what the compose schema sees). */
export function loadComposeUninterpolated(): unknown {
  return parse(readFileSync(repoPath('docker-compose.yml'), 'utf8'), { merge: true });
}

export function composeEnv(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {})
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, String(v)]),
  );
}

/** Services built from this repository's Dockerfile, with their target. */
export function composeAppServices(
  compose: ComposeFile,
): { name: string; service: ComposeService; target: string }[] {
  return Object.entries(compose.services)
    .filter(([, s]) => s.build?.target)
    .map(([name, service]) => ({ name, service, target: service.build!.target! }));
}

// ---------------------------------------------------------------------------------------------------
// Dockerfile

export interface DockerStage {
  name: string;
  from: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  expose: number[];
  user?: string;
  workdir?: string;
  /** The shell command of HEALTHCHECK ... CMD <command>. */
  healthcheck?: string;
  /** HEALTHCHECK options in seconds (`--timeout=3s` -> { timeout: 3 }). */
  healthcheckOptions?: Record<string, number>;
}

/** Parses the Dockerfile's stages; a stage built FROM an earlier stage inherits its image config. */
export function parseDockerfile(
  text = readFileSync(repoPath('Dockerfile'), 'utf8'),
): Map<string, DockerStage> {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = new Map<string, DockerStage>();
  let current: DockerStage | undefined;
  const execForm = (rest: string): string[] => {
    if (!rest.startsWith('[')) throw new Error(`not exec form (JSON array): ${rest}`);
    return JSON.parse(rest) as string[];
  };
  for (const line of lines) {
    const [, instruction, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    switch (instruction?.toUpperCase()) {
      case 'FROM': {
        const [, from, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
        const parent = stages.get(from);
        current = {
          name: name ?? `stage-${stages.size}`,
          from,
          env: { ...parent?.env },
          entrypoint: [...(parent?.entrypoint ?? [])],
          cmd: [...(parent?.cmd ?? [])],
          expose: [...(parent?.expose ?? [])],
          user: parent?.user,
          workdir: parent?.workdir,
          healthcheck: parent?.healthcheck,
          healthcheckOptions: parent?.healthcheckOptions,
        };
        stages.set(current.name, current);
        break;
      }
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          current!.env[m[1]] = m[2].replace(/^"|"$/g, '');
        break;
      case 'ENTRYPOINT':
        current!.entrypoint = execForm(rest);
        break;
      case 'CMD':
        current!.cmd = execForm(rest);
        break;
      case 'EXPOSE':
        current!.expose.push(...rest.split(/\s+/).map((p) => Number.parseInt(p, 10)));
        break;
      case 'USER':
        current!.user = rest;
        break;
      case 'WORKDIR':
        current!.workdir = rest;
        break;
      case 'HEALTHCHECK':
        current!.healthcheck = /\bCMD\s+(.*)$/.exec(rest)?.[1];
        current!.healthcheckOptions = Object.fromEntries(
          [...rest.matchAll(/--([a-z-]+)=(\d+)s\b/g)].map((m) => [m[1], Number(m[2])]),
        );
        break;
      default:
        break;
    }
  }
  return stages;
}

/** `http://127.0.0.1:${PORT_VAR:-8080}/path` in a Dockerfile HEALTHCHECK. */
export function healthcheckUrl(
  command: string,
): { portVar: string; portDefault: number; path: string } | undefined {
  const m = /http:\/\/(?:127\.0\.0\.1|localhost):\$\{(\w+):-(\d+)\}(\/[^"'\s]*)/.exec(command);
  return m ? { portVar: m[1], portDefault: Number(m[2]), path: m[3] } : undefined;
}

/** Host, port and path of a URL in a compose healthcheck command. */
export function urlIn(text: string): URL | undefined {
  const m = /https?:\/\/[^\s"']+/.exec(text);
  return m ? new URL(m[0]) : undefined;
}

export const readRepoFile = (...parts: string[]): string => readFileSync(repoPath(...parts), 'utf8');
export const repoFileExists = (...parts: string[]): boolean => existsSync(repoPath(...parts));
