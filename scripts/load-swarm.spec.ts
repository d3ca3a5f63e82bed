import {
  containerIdOfCgroup,
  groupOf,
  parseServiceContainers,
  swarmLabelOf,
} from '../loadtest/src/containers';

// Issue 24: `npm run load -- --target swarm` labels host pids by Swarm service.
const GW = '5bb04434b0470056894cf4fd1bffe7042e5d6083e6b05015bdec8da6af6c8d0d';
const KAFKA = '6d64663b75ea05324d9b187f44d9c59432c818f34247c8a1946302effe8f7dfb';
const OTHER = 'e06f4cc3c2ef5c191491ebb162269dd77b5bcc12e038432fb3633d41f94484af';

// cgroup v1, cgroupfs driver (these machines: dockerd started by hand, no systemd).
const V1 = [
  `9:name=systemd:/docker/${GW}`,
  `4:memory:/docker/${GW}`,
  `2:cpuacct:/docker/${GW}`,
  `1:cpu:/docker/${GW}`,
  `0::/docker/${GW}`,
].join('\n');
// cgroup v2: the one line, cgroupfs and systemd drivers.
const V2_CGROUPFS = `0::/docker/${KAFKA}\n`;
const V2_SYSTEMD = `0::/system.slice/docker-${KAFKA}.scope\n`;
const HOST = ['9:name=systemd:/', '4:memory:/process_api/172e200315d4e974f68da335fb5f05e4', '0::/'].join(
  '\n',
);
const HOST_V2 = '0::/system.slice/docker.service\n';

const PS = [
  `${GW}\ttrading_api-gateway`,
  `${KAFKA}\ttrading_kafka-2`,
  `${OTHER}\tother_api-gateway`,
  `0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\t`,
  '',
].join('\n');

describe('containerIdOfCgroup', () => {
  it('finds the container of a process under cgroup v1 and v2, either driver', () => {
    expect(containerIdOfCgroup(V1)).toBe(GW);
    expect(containerIdOfCgroup(V2_CGROUPFS)).toBe(KAFKA);
    expect(containerIdOfCgroup(V2_SYSTEMD)).toBe(KAFKA);
  });

  it('is null for a host process, dockerd included', () => {
    expect(containerIdOfCgroup(HOST)).toBeNull();
    expect(containerIdOfCgroup(HOST_V2)).toBeNull();
    expect(containerIdOfCgroup('')).toBeNull();
  });
});

describe('parseServiceContainers', () => {
  it("keeps the stack's service containers, without the stack prefix", () => {
    expect([...parseServiceContainers(PS, 'trading')]).toEqual([
      [GW, 'api-gateway'],
      [KAFKA, 'kafka-2'],
    ]);
    expect([...parseServiceContainers(PS, 'other')]).toEqual([[OTHER, 'api-gateway']]);
  });
});

describe('swarmLabelOf', () => {
  const services = parseServiceContainers(PS, 'trading');

  it("labels a container's processes by their service, the engine by its name", () => {
    expect(swarmLabelOf(V1, 'node', services)).toBe('api-gateway');
    expect(swarmLabelOf(V2_SYSTEMD, 'java', services)).toBe('kafka-2');
    expect(swarmLabelOf(HOST, 'dockerd', services)).toBe('dockerd');
    expect(swarmLabelOf(HOST, 'containerd-shim', services)).toBe('containerd-shim');
  });

  it("leaves other stacks' containers and other host processes unlabelled", () => {
    expect(swarmLabelOf(`0::/docker/${OTHER}`, 'node', services)).toBeNull();
    expect(swarmLabelOf(HOST, 'node', services)).toBeNull();
    expect(swarmLabelOf(HOST, 'java', services)).toBeNull();
  });
});

describe('groupOf', () => {
  it('puts native and Swarm labels in the same kinds', () => {
    expect(['api-gateway', 'matching-worker-2', 'matching-worker', 'market-data'].map(groupOf)).toEqual([
      'services',
      'services',
      'services',
      'services',
    ]);
    expect(['kafka', 'kafka-3'].map(groupOf)).toEqual(['kafka', 'kafka']);
    expect(
      ['postgres', 'timescaledb', 'pgbouncer', 'redis', 'redis-replica', 'redis-sentinel-2'].map(groupOf),
    ).toEqual(Array(6).fill('data'));
    expect(['prometheus', 'node-exporter', 'cadvisor', 'redis-exporter'].map(groupOf)).toEqual(
      Array(4).fill('monitoring'),
    );
    expect(['dockerd', 'containerd-shim', 'edge', 'vegeta', 'load-driver', 'bash'].map(groupOf)).toEqual([
      'engine',
      'engine',
      'edge',
      'driver',
      'driver',
      'other',
    ]);
  });
});
