import { loadConfig } from '@app/platform';
import { readFileSync } from 'node:fs';
import { METRICS_PORT_VAR, shutdownBudgetMs } from './support/contract';
import { validateEach } from './support/k8s-schema';
import {
  byKind,
  containerEnv,
  find,
  kubectlAvailable,
  kustomize,
  OVERLAYS,
  parseDockerfile,
  parseObjects,
  prodSecretTemplate,
  renderedPath,
  renderOverlay,
  targetOfImage,
  workloads,
  type Container,
  type K8sObject,
  type Overlay,
  type Workload,
} from './support/manifests';

/*
 * The kustomize overlays, rendered as `kubectl apply -k` would send them: every object valid against
 * the Kubernetes (and KEDA / Prometheus Operator) schemas, and the properties a cluster deployment needs
 * (probes, resources, disruption budgets, scaling, network policy, non-root images).
 * Facts about the apps (ports, routes, variables) are cross-checked in config.spec.ts and
 * containers.e2e-spec.ts.
 */

const dockerStages = parseDockerfile();
const secretTemplate = prodSecretTemplate();

/** Copies of a prod Deployment with one mistake each: the validator must report every one. */
const brokenDeployments = (() => {
  const [deployment] = byKind(renderOverlay('prod'), 'Deployment');
  const copy = (name: string): any => ({ ...JSON.parse(JSON.stringify(deployment)), metadata: { name } });
  const misspelled = copy('misspelled');
  misspelled.spec.template.spec.terminationGracePeriodSecond = 30;
  const wrongType = copy('wrong-type');
  wrongType.spec.template.spec.containers[0].ports[0].containerPort = '8080';
  const missing = copy('missing');
  delete missing.spec.template.spec.containers;
  return { misspelled, wrongType, missing } as Record<string, K8sObject>;
})();

let validated: Map<K8sObject, string[]> | undefined;
/** Schema problems of the given objects, from one validation pass over everything this file checks. */
function validationProblems(objects: K8sObject[]): string[] {
  if (!validated) {
    const all = [
      ...OVERLAYS.flatMap((o) => renderOverlay(o)),
      secretTemplate,
      ...Object.values(brokenDeployments),
    ];
    const problems = validateEach(all);
    validated = new Map(all.map((object, i) => [object, problems[i]]));
  }
  return objects.flatMap((o) => validated!.get(o)!.map((p) => `${o.kind}/${o.metadata.name}: ${p}`));
}
const extraSecrets = (overlay: Overlay): K8sObject[] => (overlay === 'prod' ? [prodSecretTemplate()] : []);

/** Pods that run one of this repository's images (orchestrator, agent-worker, migrate). */
const appWorkloads = (objects: K8sObject[]): Workload[] =>
  workloads(objects).filter((w) => w.pod.containers.some((c) => targetOfImage(c.image)));
const appDeployments = (objects: K8sObject[]): Workload[] =>
  appWorkloads(objects).filter((w) => w.object.kind === 'Deployment');

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  !!selector && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The autoscalers (HPA or KEDA ScaledObject) of a Deployment, with their min and max. */
function autoscalersOf(
  objects: K8sObject[],
  deployment: string,
): { kind: string; min: number; max: number }[] {
  const hpas = byKind(objects, 'HorizontalPodAutoscaler')
    .map(
      (o) =>
        o.spec as {
          scaleTargetRef: { kind: string; name: string };
          minReplicas?: number;
          maxReplicas: number;
        },
    )
    .filter((s) => s.scaleTargetRef.kind === 'Deployment' && s.scaleTargetRef.name === deployment)
    .map((s) => ({ kind: 'HorizontalPodAutoscaler', min: s.minReplicas ?? 1, max: s.maxReplicas }));
  const scaledObjects = byKind(objects, 'ScaledObject')
    .map(
      (o) =>
        o.spec as {
          scaleTargetRef: { kind?: string; name: string };
          minReplicaCount?: number;
          maxReplicaCount?: number;
        },
    )
    .filter(
      (s) => (s.scaleTargetRef.kind ?? 'Deployment') === 'Deployment' && s.scaleTargetRef.name === deployment,
    )
    .map((s) => ({ kind: 'ScaledObject', min: s.minReplicaCount ?? 0, max: s.maxReplicaCount ?? 100 }));
  return [...hpas, ...scaledObjects];
}

const portNames = (container: Container): (string | number)[] =>
  (container.ports ?? []).flatMap((p) => [p.containerPort, ...(p.name ? [p.name] : [])]);

describe.each(OVERLAYS)('k8s overlay %s', (overlay) => {
  const objects = renderOverlay(overlay);

  it('renders every object a deployment needs', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'Namespace',
      'ConfigMap',
      'Deployment',
      'Service',
      'Job',
      'PodDisruptionBudget',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
    ]) {
      expect({ kind, present: kinds.has(kind) }).toEqual({ kind, present: true });
    }
    expect(
      appDeployments(objects)
        .map((w) => targetOfImage(w.pod.containers[0].image))
        .sort(),
    ).toEqual(['agent-worker', 'orchestrator']);
    expect(
      byKind(objects, 'Job').map((j) => targetOfImage((j.spec as any).template.spec.containers[0].image)),
    ).toEqual(['migrate']);
  });

  it('every object is valid against its schema, unknown fields included', () => {
    expect(validationProblems(objects)).toEqual([]);
  });

  it('every namespaced object lives in the overlay namespace, which enforces the restricted pod security level', () => {
    const [namespace] = byKind(objects, 'Namespace');
    expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const strays = objects
      .filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== namespace.metadata.name)
      .map((o) => `${o.kind}/${o.metadata.name} in ${o.metadata.namespace ?? '(no namespace)'}`);
    expect(strays).toEqual([]);
  });

  it('every ConfigMap and Secret a pod or KEDA reads exists (prod: in the Secret template)', () => {
    const unresolved = workloads(objects).flatMap(({ object, pod }) =>
      pod.containers.flatMap((c) =>
        containerEnv(c, objects, extraSecrets(overlay)).unresolved.map(
          (u) => `${object.kind}/${object.metadata.name}: ${u}`,
        ),
      ),
    );
    for (const auth of byKind(objects, 'TriggerAuthentication')) {
      for (const ref of (auth.spec as { secretTargetRef: { name: string; key: string }[] }).secretTargetRef) {
        const secret =
          find(objects, 'Secret', ref.name) ??
          extraSecrets(overlay).find((s) => s.metadata.name === ref.name);
        const keys = secret
          ? Object.keys({ ...(secret.data as object), ...(secret.stringData as object) })
          : [];
        if (!keys.includes(ref.key))
          unresolved.push(`TriggerAuthentication/${auth.metadata.name}: Secret ${ref.name} key ${ref.key}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it("app pods run their image's own CMD (no command override), and every image is a Dockerfile target", () => {
    const problems = appWorkloads(objects).flatMap(({ object, pod }) =>
      pod.containers.flatMap((c) => {
        const target = targetOfImage(c.image)!;
        return [
          ...(dockerStages.has(target)
            ? []
            : [`${object.metadata.name}: image ${c.image} is no Dockerfile target`]),
          ...(c.command || c.args ? [`${object.metadata.name}: overrides the image command`] : []),
        ];
      }),
    );
    expect(problems).toEqual([]);
  });

  it('app Deployments have startup, readiness and liveness probes on a named container port', () => {
    for (const { object, pod } of appDeployments(objects)) {
      const [container] = pod.containers;
      const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe];
      for (const probe of probes) {
        expect({ deployment: object.metadata.name, httpGet: !!probe?.httpGet }).toEqual({
          deployment: object.metadata.name,
          httpGet: true,
        });
        expect(portNames(container)).toContain(probe!.httpGet!.port);
      }
      // Liveness is the process only; readiness is where dependencies are checked.
      expect(container.readinessProbe!.httpGet!.path).not.toBe(container.livenessProbe!.httpGet!.path);
      expect(container.startupProbe!.httpGet!.path).toBe(container.livenessProbe!.httpGet!.path);
    }
  });

  it('app pods have requests and limits, and drop every privilege (non-root as in the Dockerfile, read-only root, no escalation)', () => {
    for (const { object, pod } of appWorkloads(objects)) {
      const [container] = pod.containers;
      const target = targetOfImage(container.image)!;
      const imageUid = Number(dockerStages.get(target)!.user!.split(':')[0]);
      expect({ name: object.metadata.name, resources: container.resources }).toEqual({
        name: object.metadata.name,
        resources: {
          requests: { cpu: expect.any(String), memory: expect.any(String) },
          limits: { cpu: expect.any(String), memory: expect.any(String) },
        },
      });
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: imageUid,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.securityContext).toEqual(
        expect.objectContaining({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        }),
      );
      expect(pod.automountServiceAccountToken).toBe(false);
      // Service links would inject e.g. ORCHESTRATOR_PORT=tcp://..., clobbering the app's variable.
      expect(pod.enableServiceLinks).toBe(false);
    }
  });

  it('every other pod in the namespace meets the restricted level too (non-root, no escalation, capabilities dropped)', () => {
    for (const { object, pod } of workloads(objects)) {
      expect({ name: object.metadata.name, pod: pod.securityContext }).toMatchObject({
        name: object.metadata.name,
        pod: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      });
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it("terminationGracePeriodSeconds is longer than the app's graceful shutdown budget", () => {
    for (const { object, pod } of appDeployments(objects)) {
      const env = loadConfig(containerEnv(pod.containers[0], objects, extraSecrets(overlay)).values);
      const budgetMs = shutdownBudgetMs(object.metadata.name, env);
      expect(budgetMs).toBeGreaterThan(0);
      // At least 10 s of headroom for closing the server, the pool and the queue after the drain.
      expect({
        name: object.metadata.name,
        enough: pod.terminationGracePeriodSeconds! * 1000 >= budgetMs + 10_000,
      }).toEqual({
        name: object.metadata.name,
        enough: true,
      });
    }
  });

  it('app pods spread across zones and nodes, selecting their own pods', () => {
    for (const { pod, podLabels } of appDeployments(objects)) {
      const spread = pod.topologySpreadConstraints ?? [];
      expect(spread.map((t) => t.topologyKey).sort()).toEqual([
        'kubernetes.io/hostname',
        'topology.kubernetes.io/zone',
      ]);
      for (const t of spread) expect(matches(t.labelSelector?.matchLabels, podLabels)).toBe(true);
    }
  });

  it('Services select pods and target ports those pods declare', () => {
    const pods = workloads(objects);
    for (const service of byKind(objects, 'Service')) {
      const spec = service.spec as {
        selector: Record<string, string>;
        ports: { targetPort: string | number }[];
      };
      const selected = pods.filter((w) => matches(spec.selector, w.podLabels));
      expect({ service: service.metadata.name, selects: selected.length }).toEqual({
        service: service.metadata.name,
        selects: 1,
      });
      for (const port of spec.ports)
        expect(portNames(selected[0].pod.containers[0])).toContain(port.targetPort);
    }
  });

  it('each app Deployment is sized by exactly one autoscaler (and sets no replicas a re-apply would reset)', () => {
    for (const { object } of appDeployments(objects)) {
      expect(autoscalersOf(objects, object.metadata.name)).toHaveLength(1);
      expect((object.spec as { replicas?: number }).replicas).toBeUndefined();
    }
    const orchestrator = byKind(objects, 'HorizontalPodAutoscaler').find(
      (h) => h.metadata.name === 'orchestrator',
    )!;
    expect((orchestrator.spec as any).metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } },
      },
    ]);
  });

  it('PodDisruptionBudgets select app pods and always allow at least one voluntary disruption', () => {
    for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
      const spec = pdb.spec as {
        selector: { matchLabels: Record<string, string> };
        minAvailable?: number;
        maxUnavailable?: number;
      };
      const [target] = appDeployments(objects).filter((w) => matches(spec.selector.matchLabels, w.podLabels));
      expect(target).toBeDefined();
      const [scaler] = autoscalersOf(objects, target.object.metadata.name);
      if (spec.minAvailable !== undefined) expect(spec.minAvailable).toBeLessThan(scaler.min);
      else expect(spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    }
  });

  it('NetworkPolicies deny by default and open each app port that something must reach', () => {
    const policies = byKind(objects, 'NetworkPolicy').map((p) => p.spec as any);
    expect(policies).toContainEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    for (const { pod, podLabels } of appDeployments(objects)) {
      const opened = policies
        .filter((p) => matches(p.podSelector.matchLabels, podLabels) && p.policyTypes.includes('Ingress'))
        .flatMap((p) => p.ingress.flatMap((rule: any) => rule.ports.map((port: any) => port.port)));
      expect(opened).toContain(pod.containers[0].readinessProbe!.httpGet!.port);
    }
    const egressPorts = policies
      .filter((p) => p.policyTypes.includes('Egress') && p.egress)
      .flatMap((p) => p.egress.flatMap((rule: any) => rule.ports.map((port: any) => port.port)));
    for (const port of [53, 5432, 6379]) expect(egressPorts).toContain(port);
  });
  it("metrics are scraped on each app's metrics port (never the orchestrator API port), which only the monitoring namespace may reach", () => {
    const policies = byKind(objects, 'NetworkPolicy').map((p) => p.spec as any);
    const services = byKind(objects, 'Service');
    for (const { object, pod, podLabels } of appDeployments(objects)) {
      const [container] = pod.containers;
      const target = targetOfImage(container.image)!;
      const env = loadConfig(containerEnv(container, objects, extraSecrets(overlay)).values);
      const metricsPort = env[METRICS_PORT_VAR[target]] as number | undefined;
      const declared = (container.ports ?? []).find((p) => p.containerPort === metricsPort);
      expect({ app: object.metadata.name, declared: declared?.name }).toEqual({
        app: object.metadata.name,
        declared: expect.any(String),
      });
      if (target === 'orchestrator') expect(metricsPort).not.toBe(env.ORCHESTRATOR_PORT);
      // The Service exposes it under the name the ServiceMonitor scrapes.
      const service = services.find((s) => matches((s.spec as any).selector, podLabels))!;
      const servicePorts = (service.spec as { ports: { name: string; targetPort: string | number }[] }).ports;
      expect(servicePorts.filter((p) => p.name === 'metrics').map((p) => p.targetPort)).toEqual([
        declared!.name,
      ]);
      // Ingress to it comes from the monitoring namespace only (or it is the API port, open anyway).
      const rules = policies
        .filter((p) => matches(p.podSelector.matchLabels, podLabels) && p.policyTypes.includes('Ingress'))
        .flatMap((p) => p.ingress)
        .filter((rule: any) => rule.ports.some((port: any) => port.port === declared!.name));
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) {
        expect(rule.from).toEqual([
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
        ]);
      }
    }
    for (const monitor of byKind(objects, 'ServiceMonitor')) {
      expect((monitor.spec as any).endpoints.map((e: { port: string }) => e.port)).toEqual(['metrics']);
    }
  });
});

describe('overlay differences', () => {
  it('dev runs Postgres and Redis as StatefulSets and scales workers on CPU', () => {
    const dev = renderOverlay('dev');
    expect(
      byKind(dev, 'StatefulSet')
        .map((s) => s.metadata.name)
        .sort(),
    ).toEqual(['postgres', 'redis']);
    expect(autoscalersOf(dev, 'agent-worker').map((a) => a.kind)).toEqual(['HorizontalPodAutoscaler']);
    const workerHpa = byKind(dev, 'HorizontalPodAutoscaler').find((h) => h.metadata.name === 'agent-worker')!;
    expect((workerHpa.spec as any).metrics[0].resource.name).toBe('cpu');
    expect(byKind(dev, 'ScaledObject')).toEqual([]);
  });

  it('prod expects managed databases, scales workers with KEDA on Redis and has more replicas and resources', () => {
    const dev = renderOverlay('dev');
    const prod = renderOverlay('prod');
    expect(byKind(prod, 'StatefulSet')).toEqual([]);
    expect(byKind(prod, 'Secret')).toEqual([]); // operators create it: applying the overlay never overwrites it
    expect(autoscalersOf(prod, 'agent-worker').map((a) => a.kind)).toEqual(['ScaledObject']);
    const [scaledObject] = byKind(prod, 'ScaledObject');
    expect((scaledObject.spec as any).triggers.map((t: { type: string }) => t.type)).toEqual(['redis']);
    expect(byKind(prod, 'ServiceMonitor')).toHaveLength(1);

    for (const name of ['orchestrator', 'agent-worker']) {
      const [devScaler] = autoscalersOf(dev, name);
      const [prodScaler] = autoscalersOf(prod, name);
      expect(prodScaler.min).toBeGreaterThan(devScaler.min);
      expect(prodScaler.max).toBeGreaterThan(devScaler.max);
      const memory = (objects: K8sObject[]) =>
        appDeployments(objects).find((w) => w.object.metadata.name === name)!.pod.containers[0].resources!
          .requests!.memory;
      expect(parseQuantity(memory(prod))).toBeGreaterThan(parseQuantity(memory(dev)));
    }
  });

  it('the prod Secret template is a valid Secret of the overlay namespace', () => {
    expect(validationProblems([secretTemplate])).toEqual([]);
    expect(secretTemplate.metadata.namespace).toBe(
      byKind(renderOverlay('prod'), 'Namespace')[0].metadata.name,
    );
  });

  it('the validator catches what it should (a misspelled field, a wrong type, a missing field)', () => {
    const { misspelled, wrongType, missing } = brokenDeployments;
    expect(validationProblems([misspelled]).join()).toMatch(/terminationGracePeriodSecond/);
    expect(validationProblems([wrongType]).join()).toMatch(/containerPort|number/);
    expect(validationProblems([missing]).join()).toMatch(/containers/);
  });

  it(
    kubectlAvailable()
      ? 'k8s/rendered/*.yaml (the fallback where kubectl is missing) match `kubectl kustomize`'
      : 'k8s/rendered/*.yaml parse (kubectl is not installed here, so they stand in for the render)',
    () => {
      for (const overlay of OVERLAYS) {
        const committed = parseObjects(readFileSync(renderedPath(overlay), 'utf8'));
        if (kubectlAvailable()) {
          expect({ overlay, objects: committed }).toEqual({
            overlay,
            objects: parseObjects(kustomize(overlay)),
          });
        } else {
          expect(committed.length).toBeGreaterThan(10);
        }
      }
    },
  );
});

/** Kubernetes memory quantity in bytes (Ki, Mi, Gi). */
function parseQuantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1);
}
