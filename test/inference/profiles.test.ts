import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { detectProfile, loadProfiles, probeHostFacts } from '../../inference/index.js';
import type { HostFacts } from '../../shared/index.js';
import { tempDir } from '../helpers/agent.js';

// Each shipped profile is detected from the host facts of its device class.

const noCuda = { libcudart: false, devNvidia: false, nvidiaSmi: false };
const facts = (over: Partial<HostFacts>): HostFacts => ({
  runtime: 'node',
  arch: 'arm64',
  platform: 'linux',
  deviceTreeModel: null,
  cuda: noCuda,
  ...over,
});

const fixtures: Array<[string, HostFacts]> = [
  [
    'jetson-orin-nano',
    facts({ deviceTreeModel: 'NVIDIA Jetson Orin Nano Developer Kit', cuda: { ...noCuda, libcudart: true } }),
  ],
  [
    'jetson-agx-orin',
    facts({ deviceTreeModel: 'NVIDIA Jetson AGX Orin Developer Kit', cuda: { ...noCuda, libcudart: true } }),
  ],
  ['jetson-xavier-nx', facts({ deviceTreeModel: 'NVIDIA Jetson Xavier NX Developer Kit' })],
  ['raspberry-pi-5', facts({ deviceTreeModel: 'Raspberry Pi 5 Model B Rev 1.0' })],
  ['raspberry-pi-4', facts({ deviceTreeModel: 'Raspberry Pi 4 Model B Rev 1.4' })],
  ['raspberry-pi-4', facts({ arch: 'arm', deviceTreeModel: 'Raspberry Pi 4 Model B Rev 1.5' })],
  ['x86-64-cpu', facts({ arch: 'x64' })],
  ['x86-64-cuda', facts({ arch: 'x64', cuda: { ...noCuda, devNvidia: true, nvidiaSmi: true } })],
  ['x86-64-cuda', facts({ arch: 'x64', cuda: { ...noCuda, nvidiaSmi: true } })],
  ['x86-64-cuda', facts({ arch: 'x64', cuda: { ...noCuda, devNvidia: true } })],
  // A CUDA library on disk with no device node and no GPU listed is not a CUDA host.
  ['x86-64-cpu', facts({ arch: 'x64', cuda: { ...noCuda, libcudart: true } })],
  ['browser-webgpu', facts({ runtime: 'browser', arch: 'wasm32', platform: 'browser' })],
  ['generic-cpu', facts({ arch: 'riscv64' })],
  ['generic-cpu', facts({ deviceTreeModel: 'Pine64 RockPro64 v2.1' })],
];

describe('firmware profiles', () => {
  const profiles = loadProfiles();

  it('every shipped profile validates, and the required device classes are there', () => {
    const names = profiles.map((p) => p.name);
    for (const n of [
      'jetson-orin-nano',
      'jetson-agx-orin',
      'jetson-xavier-nx',
      'raspberry-pi-5',
      'raspberry-pi-4',
      'x86-64-cpu',
      'x86-64-cuda',
      'browser-webgpu',
    ]) {
      assert.ok(names.includes(n), n);
    }
    const gpu = profiles.find((p) => p.name === 'x86-64-cuda');
    assert.deepEqual(gpu?.engines.slice(0, 4), ['onnx:tensorrt', 'onnx:cuda', 'onnx:cpu', 'onnx:webgpu']);
    assert.ok(profiles.find((p) => p.name === 'browser-webgpu')?.engines.includes('onnx:webgpu'));
  });

  for (const [expected, host] of fixtures) {
    it(`detects ${expected} on ${host.deviceTreeModel ?? `${host.runtime}/${host.arch}`}`, () => {
      const found = detectProfile(host, profiles);
      assert.equal(found?.profile.name, expected, found?.reason);
      assert.ok(found?.reason.includes(host.runtime));
    });
  }

  it('reads host facts from the device tree, /dev and the library dirs', () => {
    const dir = tempDir('outpost-host-');
    try {
      const model = join(dir.path, 'model');
      writeFileSync(model, 'NVIDIA Jetson Orin Nano Developer Kit\0');
      mkdirSync(join(dir.path, 'dev'));
      writeFileSync(join(dir.path, 'dev', 'nvidia0'), '');
      mkdirSync(join(dir.path, 'lib'));
      writeFileSync(join(dir.path, 'lib', 'libcudart.so.12'), '');
      const got = probeHostFacts({
        deviceTreeModelPath: model,
        devDir: join(dir.path, 'dev'),
        libDirs: [join(dir.path, 'lib')],
        env: { PATH: '' },
      });
      assert.equal(got.deviceTreeModel, 'NVIDIA Jetson Orin Nano Developer Kit');
      assert.deepEqual(got.cuda, { libcudart: true, devNvidia: true, nvidiaSmi: false });
      const none = probeHostFacts({
        deviceTreeModelPath: join(dir.path, 'absent'),
        devDir: join(dir.path, 'lib'),
        libDirs: [],
        env: { PATH: '' },
      });
      assert.equal(none.deviceTreeModel, null);
      assert.deepEqual(none.cuda, { libcudart: false, devNvidia: false, nvidiaSmi: false });
    } finally {
      dir.remove();
    }
  });

  it('counts nvidia-smi only when it lists a GPU', () => {
    const dir = tempDir('outpost-smi-');
    try {
      const smi = join(dir.path, 'nvidia-smi');
      const probe = () => probeHostFacts({ devDir: dir.path, libDirs: [], env: { PATH: dir.path } }).cuda;
      writeFileSync(smi, '#!/bin/sh\necho "No devices were found"\nexit 6\n', { mode: 0o755 });
      assert.equal(probe().nvidiaSmi, false);
      writeFileSync(smi, '#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-1)"\n', { mode: 0o755 });
      assert.equal(probe().nvidiaSmi, true);
    } finally {
      dir.remove();
    }
  });

  it('a malformed profile is an error naming the file and the field', () => {
    const dir = tempDir('outpost-profiles-');
    try {
      const bad = { ...profiles[0], name: 'broken', engines: ['onnx:cpu', 'onnx:gpu'] };
      writeFileSync(join(dir.path, 'broken.json'), JSON.stringify(bad));
      assert.throws(() => loadProfiles(dir.path), /broken\.json: engines\.1: Invalid option/);
    } finally {
      dir.remove();
    }
  });
});
