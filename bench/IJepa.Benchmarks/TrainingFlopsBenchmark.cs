using System.Diagnostics;
using System.Globalization;
using IJepa.Masking;
using IJepa.Model;
using IJepa.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>
/// How much of the machine's matrix-multiply peak an I-JEPA training step reaches. The peak is the best float32
/// GEMM rate libtorch gets on large square matrices with the same threads; the step's work is counted from the
/// model's shapes and each step's actual mask sizes (matrix products only, a multiply-add = 2 FLOPs, backward = 2 x
/// forward for the networks that train), and divided by the measured step time.
/// </summary>
internal static class TrainingFlopsBenchmark
{
    public sealed record Settings(int Width, int Depth, int Heads, int PredictorWidth, int PredictorDepth, int Batch, int Patch, int ImageSize,
        int Steps, int Threads, string? Out, IReadOnlyList<ComputeDType> Precisions);

    public static int Run(Settings s)
    {
        torch.set_num_threads(s.Threads);
        var report = new StringWriter(CultureInfo.InvariantCulture);
        void Say(string line)
        {
            Console.WriteLine(line);
            report.WriteLine(line);
        }
        Say($"train-flops: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, libtorch threads {torch.get_num_threads()}, load {File.ReadAllText("/proc/loadavg").Trim()}");

        // 1. The peak: square float32 GEMMs, best of several, per size; and bfloat16's where a run uses it (its rate
        // says whether this CPU multiplies bfloat16 natively or libtorch emulates it).
        double peak = 0;
        if (s.Precisions.Contains(ComputeDType.BFloat16))
        {
            // One round of 4: emulated, a 1024³ product takes seconds.
            Say($"GEMM 1024 x 1024 x 1024 bfloat16: {GemmRate(1024, ScalarType.BFloat16, rounds: 1, repeats: 4) / 1e9:F1} GFLOP/s");
        }
        foreach (int n in new[] { 512, 1024, 2048 })
        {
            double best = GemmRate(n, ScalarType.Float32, rounds: 6, repeats: Math.Max(1, (int)(4e9 / (2.0 * n * n * n))));
            Say($"GEMM {n} x {n} x {n} float32: best {best / 1e9:F1} GFLOP/s");
            peak = Math.Max(peak, best);
        }

        // 2. The step, on random images (the work does not depend on their content).
        var config = new IJepaConfig
        {
            HiddenSize = s.Width,
            NumHiddenLayers = s.Depth,
            NumAttentionHeads = s.Heads,
            IntermediateSize = 4 * s.Width,
            PatchSize = s.Patch,
            ImageSize = s.ImageSize,
        };
        int patches = (s.ImageSize / s.Patch) * (s.ImageSize / s.Patch);
        Say($"model: width {s.Width}, depth {s.Depth}, heads {s.Heads}, predictor {s.PredictorWidth} x {s.PredictorDepth}, patch {s.Patch} at {s.ImageSize} px ({patches} patches), batch {s.Batch}");
        foreach (ComputeDType precision in s.Precisions)
        {
            var options = new IJepaTrainingOptions
            {
                Encoder = config,
                PredictorWidth = s.PredictorWidth,
                PredictorDepth = s.PredictorDepth,
                BatchSize = s.Batch,
                TotalSteps = 10_000,
                WarmupSteps = 100,
                Masks = new MultiBlockMaskOptions { MinKeep = 4 },
                Precision = precision,
            };
            using IJepaTrainer trainer = IJepaTrainer.Create(options);
            const int WarmUp = 5;
            var seconds = new List<double>();
            var flops = new List<double>();
            for (int step = 0; step < WarmUp + s.Steps; step++)
            {
                IReadOnlyList<MaskSet> masks = trainer.SampleMasks(s.Batch, step);
                using Tensor images = randn(s.Batch, 3, s.ImageSize, s.ImageSize);
                var watch = Stopwatch.StartNew();
                trainer.Step(images, masks);
                double elapsed = watch.Elapsed.TotalSeconds;
                if (step >= WarmUp)
                {
                    seconds.Add(elapsed);
                    flops.Add(StepFlops(s, patches, masks[0].Context.Count, masks[0].Targets.Select(t => t.Count).ToArray()));
                }
            }
            double median = HubBenchmark.Median(seconds), work = flops.Average(), total = seconds.Sum();
            double achieved = flops.Sum() / total;
            Say($"{precision}: {s.Steps} steps after {WarmUp} warm-up: median {median * 1000:F1} ms/step ({s.Batch / median:F0} images/s), mean matrix work {work / 1e9:F2} GFLOP/step");
            Say($"{precision}: achieved {achieved / 1e9:F1} GFLOP/s = {achieved / peak:P1} of the float32 GEMM peak ({peak / 1e9:F1} GFLOP/s)");
        }
        if (s.Out is { } file)
        {
            File.AppendAllText(file, report.ToString());
        }
        return 0;
    }

    /// <summary>The best rate of n × n × n products in <paramref name="dtype"/> over the rounds, after one product to warm up.</summary>
    private static double GemmRate(int n, ScalarType dtype, int rounds, int repeats)
    {
        using Tensor a = randn(n, n, dtype), b = randn(n, n, dtype);
        using (a.mm(b))
        {
        }
        double best = 0;
        for (int r = 0; r < rounds; r++)
        {
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++)
            {
                using Tensor c = a.mm(b);
            }
            best = Math.Max(best, repeats * 2.0 * n * n * n / watch.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>Matrix-product FLOPs of one step: target encoder forward, context encoder and predictor forward + backward.</summary>
    internal static double StepFlops(Settings s, int patches, int context, int[] targets)
    {
        double d = s.Width, dp = s.PredictorWidth, b = s.Batch, patchIn = 3.0 * s.Patch * s.Patch;
        // A block on n tokens of width w: qkv 6nw², scores and weighted sum 4n²w, output 2nw², MLP (4w) 16nw².
        static double Block(double n, double w) => (24 * n * w * w) + (4 * n * n * w);
        double embed = 2 * patches * patchIn * d;
        double target = b * (embed + (s.Depth * Block(patches, d)));
        double encoder = b * (embed + (s.Depth * Block(context, d)));
        // The context projected to the predictor's width once; per target block, the blocks over context + queries
        // and the queries projected back.
        double predictor = b * 2 * context * d * dp;
        foreach (int t in targets)
        {
            predictor += b * ((s.PredictorDepth * Block(context + t, dp)) + (2 * t * dp * d));
        }
        return target + (3 * (encoder + predictor));
    }
}
