using System.Diagnostics;
using System.Globalization;
using IJepa.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>Forward throughput on a device by dtype and batch size, and where a forward pass spends its time.</summary>
internal static class GpuForward
{
    public static int Run(string modelDirectory, string deviceName, string[] dtypes, int[] batches, int repeats, bool profile)
    {
        Device device = IJepaRuntime.ResolveDevice(deviceName);
        var config = IJepaConfig.Load(Path.Combine(modelDirectory, "config.json"));
        double gflop = ComputeBenchmark.GflopPerImage(config);
        Console.WriteLine($"gpu-forward {device}, libtorch {IJepaRuntime.LibTorchDirectory ?? "(package)"}, {config.NumHiddenLayers} blocks width {config.HiddenSize}, {gflop:F1} GFLOP/image, median of {repeats}");
        if (device.type == DeviceType.CUDA)
        {
            Console.WriteLine($"  sdpa flash enabled {torch.backends.cuda.flash_sdp_enabled()}, math enabled {torch.backends.cuda.math_sdp_enabled()}, tf32 matmul {torch.backends.cuda.matmul.allow_tf32}");
        }
        foreach (string name in dtypes)
        {
            ScalarType dtype = name switch
            {
                "bfloat16" => ScalarType.BFloat16,
                "float16" => ScalarType.Float16,
                _ => ScalarType.Float32,
            };
            using IJepaModel model = IJepaModel.FromPretrained(modelDirectory, dtype, device);
            foreach (int batch in batches)
            {
                double seconds = ComputeBenchmark.Forward(model, batch, dtype, repeats);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  ijepa {name,-8} batch {batch,3}: {batch / seconds,8:F1} images/s  {gflop * batch / seconds / 1000,6:F1} TFLOP/s"));
            }
            if (profile && batches.FirstOrDefault(b => b >= 64) is int profiled and > 0)
            {
                Profile(model, profiled, device);
            }
        }
        return 0;
    }

    /// <summary>Per-part times of one pass, each part synchronized: embeddings, each block, final norm.</summary>
    private static void Profile(IJepaModel model, int batch, Device device)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        int size = model.Config.ImageSize;
        Tensor pixels = randn(batch, 3, size, size).to(model.DType, device);
        var blocks = new List<double>();
        double embeddings = 0, total = 0;
        for (int pass = 0; pass < 3; pass++)
        {
            blocks.Clear();
            var watch = Stopwatch.StartNew();
            ComputeBenchmark.Synchronize(device);
            Tensor x = model.ProfileEmbeddings(pixels);
            ComputeBenchmark.Synchronize(device);
            embeddings = watch.Elapsed.TotalMilliseconds;
            for (int i = 0; i < model.Config.NumHiddenLayers; i++)
            {
                double start = watch.Elapsed.TotalMilliseconds;
                Tensor next = model.ProfileBlock(i, x);
                ComputeBenchmark.Synchronize(device);
                blocks.Add(watch.Elapsed.TotalMilliseconds - start);
                x.Dispose();
                x = next;
            }
            total = watch.Elapsed.TotalMilliseconds;
            x.Dispose();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  profile {model.DType} batch {batch} (synchronized per part): embeddings {embeddings:F2} ms, blocks median {blocks.Order().ElementAt(blocks.Count / 2):F2} ms (min {blocks.Min():F2}, max {blocks.Max():F2}), sum {total:F1} ms"));
    }
}
