using System.Diagnostics;
using IJepa.Model;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>
/// Interleaved comparison at batch 8, one pass of each side per round: float32 through oneDNN and
/// through nn.functional.linear (one model, route switched between passes), bfloat16 with packed and
/// with plain weights (two models), and ONNX Runtime float32 where an export exists. Alternating
/// pass by pass puts every side under the same machine conditions; separate runs on a shared VM
/// drift by several percent.
/// </summary>
internal static class RouteComparison
{
    public static void Run(string modelDirectory, string onnxPath, int rounds, int threads)
    {
        set_num_threads(threads);
        using var scope = NewDisposeScope();
        using var float32 = IJepaModel.FromPretrained(modelDirectory, ScalarType.Float32);
        using var plain = IJepaModel.FromPretrained(modelDirectory, ScalarType.BFloat16);
        using var packed = IJepaModel.FromPretrained(modelDirectory, ScalarType.BFloat16);
        packed.PackWeightsForInference();
        int size = float32.Config.ImageSize;
        Tensor pixels = randn(8, 3, size, size);
        float[] flat = pixels.data<float>().ToArray();
        using OnnxPeer? peer = File.Exists(onnxPath) ? new OnnxPeer(onnxPath, threads, size) : null;

        var sides = new List<(string Name, Action Pass)>
        {
            ("float32, oneDNN linear", () => Forward(float32, pixels, oneDnn: true)),
            ("float32, functional linear", () => Forward(float32, pixels, oneDnn: false)),
            ("bfloat16, packed weights", () => Forward(packed, pixels, oneDnn: true)),
            ("bfloat16, plain weights", () => Forward(plain, pixels, oneDnn: true)),
        };
        if (peer is not null)
        {
            sides.Add(("ONNX Runtime float32", () => peer.Run(flat, 8)));
        }
        var rates = sides.ToDictionary(s => s.Name, _ => new List<double>());
        foreach ((_, Action pass) in sides)
        {
            pass();
        }
        for (int round = 0; round < rounds; round++)
        {
            foreach ((string name, Action pass) in sides)
            {
                var watch = Stopwatch.StartNew();
                pass();
                rates[name].Add(8 / watch.Elapsed.TotalSeconds);
            }
        }
        OneDnnLinear.Enabled = true;
        double Median(string name) => rates[name].Order().ElementAt(rounds / 2);
        foreach ((string name, _) in sides)
        {
            Console.WriteLine($"{name,-28} median {Median(name):F3} images/s   ({string.Join(" ", rates[name].Select(r => r.ToString("F3")))})");
        }
        Console.WriteLine($"float32 oneDNN / functional     {Median(sides[0].Name) / Median(sides[1].Name):F3}");
        Console.WriteLine($"bfloat16 packed / plain         {Median(sides[2].Name) / Median(sides[3].Name):F3}");
        if (peer is not null)
        {
            Console.WriteLine($"float32 / ONNX Runtime          {Median(sides[0].Name) / Median("ONNX Runtime float32"):F3}");
            Console.WriteLine($"bfloat16 / ONNX Runtime         {Median(sides[2].Name) / Median("ONNX Runtime float32"):F3}");
        }
    }

    private static void Forward(IJepaModel model, Tensor pixels, bool oneDnn)
    {
        OneDnnLinear.Enabled = oneDnn;
        using IJepaModelOutput output = model.Forward(pixels);
    }
}
