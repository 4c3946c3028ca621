/**
 * docker/k8s: every manifest parses as YAML, has apiVersion/kind/metadata,
 * the kustomization lists exactly the files present, and the hub objects fit together:
 * selectors match labels, the Service and probes target named container ports, the HPA
 * scales the Deployment, the PVC and ConfigMap/Secret it mounts exist, the pod runs as
 * non-root, and every OUTPOST_HUB_* key in the ConfigMap is one hub/config.ts accepts.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { HubConfigSchema } from '../../hub/index.js';
import { configFromEnv } from '../../shared/index.js';
import { repoRoot } from '../helpers/paths.js';

const dir = resolve(repoRoot, 'docker/k8s');

// biome-ignore lint/suspicious/noExplicitAny: manifests are arbitrary YAML
type Any = any;

function load(): Map<string, Any> {
  const byKind = new Map<string, Any>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(resolve(dir, file), 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const object = doc.toJS() as Any;
      assert.ok(object.apiVersion && object.kind, `${file}: apiVersion and kind required`);
      if (object.kind !== 'Kustomization')
        assert.ok(object.metadata?.name, `${file}: metadata.name required`);
      assert.ok(!byKind.has(object.kind), `${file}: a second ${object.kind}`);
      byKind.set(object.kind, { ...object, file });
    }
  }
  return byKind;
}

test('k8s: every file parses, the kustomization lists each one', () => {
  const objects = load();
  const listed: string[] = objects.get('Kustomization').resources;
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...listed].sort(), files.sort());
  for (const kind of [
    'Namespace',
    'Deployment',
    'Service',
    'HorizontalPodAutoscaler',
    'PersistentVolumeClaim',
    'ConfigMap',
    'Secret',
  ])
    assert.ok(objects.has(kind), `${kind} missing`);
});

test('k8s: Deployment, Service, HPA, PVC, ConfigMap and Secret fit together', () => {
  const o = load();
  const deploy = o.get('Deployment');
  const pod = deploy.spec.template;
  const selector = deploy.spec.selector.matchLabels as Record<string, string>;
  for (const [k, v] of Object.entries(selector)) assert.equal(pod.metadata.labels[k], v, `pod label ${k}`);
  const service = o.get('Service');
  for (const [k, v] of Object.entries(service.spec.selector as Record<string, string>))
    assert.equal(pod.metadata.labels[k], v, `service selector ${k}`);
  const container = pod.spec.containers[0];
  const ports = new Set(container.ports.map((p: Any) => p.name));
  for (const p of service.spec.ports)
    assert.ok(ports.has(p.targetPort), `service targets unknown port ${p.targetPort}`);
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    assert.equal(container[probe].httpGet.path, '/healthz');
    assert.ok(ports.has(container[probe].httpGet.port));
  }
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.spec.securityContext.runAsUser, 0);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.ok(container.resources.requests.cpu, 'the HPA needs a CPU request');
  const hpa = o.get('HorizontalPodAutoscaler');
  assert.equal(hpa.spec.scaleTargetRef.kind, 'Deployment');
  assert.equal(hpa.spec.scaleTargetRef.name, deploy.metadata.name);
  assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);
  const pvc = o.get('PersistentVolumeClaim');
  const claims = pod.spec.volumes
    .filter((v: Any) => v.persistentVolumeClaim)
    .map((v: Any) => v.persistentVolumeClaim.claimName);
  assert.deepEqual(claims, [pvc.metadata.name]);
  // With several replicas every pod mounts the same volume.
  if (hpa.spec.maxReplicas > 1) assert.ok(pvc.spec.accessModes.includes('ReadWriteMany'));
  const mount = container.volumeMounts.find((m: Any) => m.mountPath === '/data');
  assert.ok(mount, 'the data volume is mounted at /data');
  const configMap = o.get('ConfigMap');
  const secret = o.get('Secret');
  const refs = container.envFrom.map((e: Any) => e.configMapRef?.name ?? e.secretRef?.name);
  assert.deepEqual(refs.sort(), [configMap.metadata.name, secret.metadata.name].sort());
  assert.equal(configMap.data.OUTPOST_HUB_DATA_DIR, mount.mountPath);
  // What the pod gets (ConfigMap + Secret as env) is a config the hub accepts.
  const parsed = HubConfigSchema.safeParse(
    configFromEnv({ ...configMap.data, ...secret.stringData }, 'OUTPOST_HUB_'),
  );
  assert.ok(parsed.success, `ConfigMap + Secret: ${JSON.stringify(parsed.error?.issues)}`);
  assert.ok(parsed.data.store.url?.startsWith('postgres://'), 'replicas need the PostgreSQL store');
  assert.ok(parsed.data.broker.url, 'replicas need an external broker');
  assert.ok(secret.stringData.OUTPOST_HUB_ADMIN_TOKEN.length >= 16);
  assert.equal(pod.metadata.annotations['prometheus.io/path'], '/metrics');
});
