using System.Diagnostics;
using IJepa.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>Matrix-multiply peak and whole-encoder throughput on the CPU, median of several timed runs after a warm-up.</summary>
internal static class ComputeBenchmark
{
    /// <summary>GFLOP for one image through an encoder (2 per multiply-add): patch projection, four matmuls per block, attention.</summary>
    public static double GflopPerImage(IJepaConfig c)
    {
        long tokens = (long)(c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize);
        long d = c.HiddenSize;
        double patch = 2.0 * tokens * (3L * c.PatchSize * c.PatchSize) * d;
        double projections = 2.0 * tokens * ((4 * d * d) + (2 * d * c.IntermediateSize));
        double attention = 2.0 * 2.0 * tokens * tokens * d;
        return (patch + (c.NumHiddenLayers * (projections + attention))) / 1e9;
    }

    /// <summary>
    /// GFLOP/s of [m,k]·[k,n] in <paramref name="dtype"/>: the best over a few shapes the encoder uses
    /// and over the GEMM routes libtorch offers here (<c>nn.functional.linear</c>, oneDNN's linear with
    /// plain and, for bfloat16, packed weights), so the peak is never one the encoder's route lacks.
    /// </summary>
    public static double GemmPeak(ScalarType dtype, int repeats, Device? device = null)
    {
        device ??= CPU;
        (int M, int K, int N)[] shapes = [(2048, 1280, 5120), (2048, 5120, 1280), (2048, 1280, 1280), (4096, 4096, 4096)];
        double best = 0;
        foreach ((int m, int k, int n) in shapes)
        {
            using var scope = NewDisposeScope();
            using var guard = torch.inference_mode();
            Tensor a = randn(m, k).to(dtype, device);
            Tensor w = randn(n, k).to(dtype, device);
            Tensor? packed = OneDnnLinear.TryPack(w);
            var routes = new List<Func<Tensor>> { () => nn.functional.linear(a, w) };
            if (OneDnnLinear.Applies(a))
            {
                routes.Add(() => OneDnnLinear.TryForward(a, w, null, null)!);
            }
            if (packed is not null)
            {
                routes.Add(() => OneDnnLinear.TryForward(a, packed, null, null)!);
            }
            foreach (Func<Tensor> route in routes)
            {
                double seconds = Median(repeats, () =>
                {
                    using Tensor y = route();
                    Synchronize(device);
                });
                best = Math.Max(best, 2.0 * m * n * k / seconds / 1e9);
            }
        }
        return best;
    }

    /// <summary>Median seconds per forward pass of <paramref name="model"/> on a random batch.</summary>
    public static double Forward(IJepaModel model, int batch, ScalarType dtype, int repeats)
    {
        using var scope = NewDisposeScope();
        int size = model.Config.ImageSize;
        Tensor pixels = randn(batch, 3, size, size).to(model.Device);
        return Median(repeats, () =>
        {
            using IJepaModelOutput output = model.Forward(pixels);
            Synchronize(model.Device);
        });
    }

    /// <summary>CUDA runs asynchronously: a timing must wait for the device.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
        {
            torch.cuda.synchronize(device);
        }
    }

    /// <summary>One warm-up, then the median of <paramref name="repeats"/> timed runs.</summary>
    public static double Median(int repeats, Action run)
    {
        run();
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        return times.Order().ElementAt(repeats / 2);
    }
}
