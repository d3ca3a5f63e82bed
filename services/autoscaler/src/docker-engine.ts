import { request } from 'node:http';

// The Docker Engine API over its unix socket, the two calls the autoscaler makes: read a
// service, set its replicas. API 1.41 is Docker 20.10's; later engines still serve it.
const API = '/v1.41';

export class DockerError extends Error {}

interface ServiceSpec {
  Name: string;
  Mode?: { Replicated?: { Replicas?: number } };
  [key: string]: unknown;
}

export interface ServiceView {
  id: string;
  version: number;
  /** Null for a global service or a job: not scalable. */
  replicas: number | null;
  /** The last rollout's state (`updating`, `completed`, `rollback_started`, `rollback_completed`...), or ''. */
  updateState: string;
  spec: ServiceSpec;
}

export interface ReplicaControl {
  inspect(service: string): Promise<ServiceView>;
  scale(view: ServiceView, replicas: number): Promise<void>;
}

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path: `${API}${path}`,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = text ? (JSON.parse(text) as { message?: string }) : {};
          if ((res.statusCode ?? 500) >= 300)
            reject(new DockerError(`${method} ${path}: ${res.statusCode} ${json.message ?? text}`));
          else resolve(json);
        });
      },
    );
    req.on('timeout', () => req.destroy(new DockerError(`${method} ${path}: timed out`)));
    req.on('error', (err) =>
      reject(err instanceof DockerError ? err : new DockerError(`${method} ${path}: ${err.message}`)),
    );
    if (payload) req.write(payload);
    req.end();
  });
}

export function dockerEngine(socketPath: string): ReplicaControl {
  return {
    async inspect(service) {
      const s = (await call(socketPath, 'GET', `/services/${encodeURIComponent(service)}`)) as {
        ID: string;
        Version: { Index: number };
        Spec: ServiceSpec;
        UpdateStatus?: { State?: string };
      };
      const replicas = s.Spec.Mode?.Replicated?.Replicas;
      return {
        id: s.ID,
        version: s.Version.Index,
        replicas: typeof replicas === 'number' ? replicas : null,
        updateState: s.UpdateStatus?.State ?? '',
        spec: s.Spec,
      };
    },
    async scale(view, replicas) {
      // The whole spec goes back with only the replicas changed; `version` makes a concurrent
      // change (an operator's update, a stack deploy) fail this call instead of being undone.
      const spec = { ...view.spec, Mode: { Replicated: { Replicas: replicas } } };
      await call(socketPath, 'POST', `/services/${view.id}/update?version=${view.version}`, spec);
    },
  };
}
