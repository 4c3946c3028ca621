import { millis, ratio } from '../lib/measure.js';
import { machine, table } from '../lib/report.js';
import type { Benchmark } from '../lib/types.js';
import { benchAgent, digitsBench } from './fixture.js';
import { measureCache, measureHttp, measureInProcess } from './overhead.js';
import { measureVariants } from './variants.js';
import { measureWebgpu } from './webgpu.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * `npm run bench -- inference`, on a digits MLP trained on real MNIST:
 * agent in-process inference against raw `InferenceSession.run` (goal ≤ 1.05×), local HTTP
 * API p50/p99 against in process, cache hit against miss, int8 and fp16 against fp32; then
 * each ONNX conformance-zoo model on onnx:webgpu against onnx:cpu.
 */
export const inferenceBenchmark: Benchmark = {
  description:
    'agent vs raw onnxruntime, local HTTP overhead, cache hit vs miss, int8/fp16 vs fp32, WebGPU vs CPU per zoo model',
  async run({ quick, progress }) {
    progress('training the digits model');
    const model = digitsBench();
    const { agent, close } = await benchAgent(model.bytes);
    try {
      const batch = 48; // about 0.2 ms per raw run on the reference machine
      const input = model.input(batch);
      progress('in process vs raw onnxruntime');
      const inproc = await measureInProcess(agent, model.bytes, input, quick ? 300 : 1000, quick ? 6 : 30);
      progress('local HTTP API');
      const http = await measureHttp(agent, model.input(1), quick ? 300 : 2000);
      progress('cache');
      const singles = Array.from({ length: quick ? 100 : 400 }, (_, i) => model.input(1, i % 500));
      const cache = await measureCache(agent, singles.slice(0, 400), quick ? 2 : 5);
      progress('variants');
      const batches = Array.from({ length: 50 }, (_, i) => model.input(10, i * 10));
      const variants = await measureVariants(model.bytes, batches, model.test, quick ? 3 : 15);
      const webgpu = await measureWebgpu(quick ? 3 : 10, progress);
      progress('done');
      const fp32 = variants[0];
      return [
        `inference benchmark${quick ? ' (--quick: small sizes, do not publish)' : ''} — ${machine()}, no GPU`,
        `model: digits MLP 784→64→10 trained here on real MNIST (${(model.bytes.byteLength / 1024).toFixed(0)} KiB), onnx:cpu, 1 thread`,
        '',
        `Agent in process (agent.models.infer, cache off) vs raw InferenceSession.run, batch ${batch}, medians of interleaved rounds:`,
        table(
          ['raw run', 'engine', 'engine ÷ raw', 'agent', 'agent ÷ raw', 'goal'],
          [
            [
              millis(inproc.rawMs),
              millis(inproc.engineMs),
              ratio(inproc.ratio.engine),
              millis(inproc.agentMs),
              ratio(inproc.ratio.agent),
              '≤ 1.05×',
            ],
          ],
        ),
        '(engine = the onnx:cpu LoadedModel.run alone; agent = signature check, policy, router, runtime and engine)',
        '',
        'Local HTTP API vs in process, one digit, cache off (per call):',
        table(
          ['path', 'p50', 'p99', 'p50 overhead'],
          [
            ['in process', millis(http.inProcess.p50), millis(http.inProcess.p99), '—'],
            [
              'HTTP JSON',
              millis(http.json.p50),
              millis(http.json.p99),
              millis(http.json.p50 - http.inProcess.p50),
            ],
            [
              'HTTP binary tensors',
              millis(http.binary.p50),
              millis(http.binary.p99),
              millis(http.binary.p50 - http.inProcess.p50),
            ],
          ],
        ),
        '',
        `Result cache, one digit per call (${singles.length} distinct digits):`,
        table(
          ['cache off', 'miss (run + put)', 'hit', 'hit ÷ miss', 'hit ÷ off'],
          [
            [
              millis(cache.offMs),
              millis(cache.missMs),
              millis(cache.hitMs),
              ratio(cache.hitMs / cache.missMs),
              ratio(cache.hitMs / cache.offMs),
            ],
          ],
        ),
        '',
        `Variants on 500 held-out digits (speed: batches of 10, median of rounds):`,
        table(
          [
            'variant',
            'size',
            'size ÷ fp32',
            'ms/batch',
            '÷ fp32',
            'accuracy',
            'agrees with fp32',
            'max |Δlogit|',
          ],
          variants.map((v) => [
            v.precision,
            `${(v.bytes / 1024).toFixed(1)} KiB`,
            ratio(v.bytes / (fp32?.bytes ?? 1)),
            millis(v.ms),
            ratio(v.ms / (fp32?.ms ?? 1)),
            pct(v.accuracy),
            pct(v.agreement),
            v.maxAbsDiff.toExponential(1),
          ]),
        ),
        '',
        'ONNX conformance-zoo models (test/conformance/zoo.ts) at real shapes, onnx:webgpu vs onnx:cpu (1 thread):',
        table(
          ['model', 'cpu/run', 'webgpu open + 1st run', 'webgpu/run', 'webgpu ÷ cpu', 'max |Δ|'],
          webgpu.map((w) =>
            w.error
              ? [w.id, millis(w.cpuMs), `failed: ${w.error}`, '—', '—', '—']
              : [
                  w.id,
                  millis(w.cpuMs),
                  millis(w.webgpuFirstMs),
                  millis(w.webgpuMs),
                  ratio(w.webgpuMs / w.cpuMs),
                  w.maxAbsDiff.toExponential(1),
                ],
          ),
        ),
        '(WebGPU runs on whatever adapter the host has; on a CPU-only host that is lavapipe, a software Vulkan driver)',
      ].join('\n');
    } finally {
      await close();
    }
  },
};
