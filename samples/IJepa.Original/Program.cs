using System.Globalization;
using System.Text.Json;
using IJepa.Checkpoints;
using IJepa.Checkpoints.Original;
using IJepa.Masking;
using IJepa.Preprocessing;
using IJepa.Samples;
using static TorchSharp.torch;

// Works with the original I-JEPA training checkpoints (IN1K-vit.h.14-300e.pth.tar, ...).
//   dotnet run --project samples/IJepa.Original -c Release -- convert CHECKPOINT OUT_DIR [--part target_encoder|encoder] [--heads N]
//   dotnet run --project samples/IJepa.Original -c Release -- predict CHECKPOINT IMAGE [--seed N] [--out FILE.safetensors] [--heads N] [--min-keep N]
const string Usage = """
    usage: IJepa.Original convert CHECKPOINT OUT_DIR [--part target_encoder|encoder] [--heads N]
           IJepa.Original predict CHECKPOINT IMAGE [--seed N] [--out prediction.safetensors] [--heads N] [--min-keep 10]
      convert  writes a Hugging Face folder (config.json, model.safetensors, preprocessor_config.json)
               from one encoder (default target_encoder, which the paper evaluates; encoder matches HF's)
      predict  samples the paper's multi-block masks, predicts the hidden blocks from the visible context,
               compares with the target encoder, prints per-block cosine similarity and writes
               predicted / actual [M, K, D] and cosine [M, K] (masks in __metadata__)
      --heads  attention heads, for widths other than the published ones
    """;

if (args.Length < 3 || args[0] is not ("convert" or "predict"))
{
    return Exit.Usage(args.Length == 0 ? "no command" : $"expected convert or predict with two paths", Usage);
}
string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
int? heads = Option("--heads") is string h ? int.Parse(h, CultureInfo.InvariantCulture) : null;

try
{
    if (args[0] == "convert")
    {
        EncoderPart part = (Option("--part") ?? "target_encoder") switch
        {
            "target_encoder" => EncoderPart.TargetEncoder,
            "encoder" => EncoderPart.Encoder,
            var other => throw new ArgumentException($"unknown part '{other}' (target_encoder, encoder)"),
        };
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(args[1]);
        Console.WriteLine($"{checkpoint.Path}: parts {string.Join(", ", checkpoint.Parts)}; {string.Join(", ", checkpoint.Info.Select(kv => $"{kv.Key} {kv.Value}"))}");
        checkpoint.SaveAsHuggingFace(args[2], part, heads);
        Console.WriteLine($"wrote {Path.GetFullPath(args[2])} from {(part == EncoderPart.TargetEncoder ? "target_encoder" : "encoder")}");
        return 0;
    }

    int seed = int.Parse(Option("--seed") ?? "0", CultureInfo.InvariantCulture);
    string output = Option("--out") ?? "prediction.safetensors";
    var maskOptions = new MultiBlockMaskOptions { MinKeep = int.Parse(Option("--min-keep") ?? "10", CultureInfo.InvariantCulture) };
    using IJepaPredictionPipeline predictor = IJepaPredictionPipeline.Load(args[1], heads, masks: maskOptions);
    JepaPrediction result = predictor.Predict(ImageInput.FromFile(args[2]), seed: seed);
    Console.WriteLine($"context: {result.Masks.Context.Count} visible patches; {result.Targets} hidden blocks of {result.TokensPerTarget} patches (seed {seed})");
    for (int m = 0; m < result.Targets; m++)
    {
        float[] block = result.Cosine[(m * result.TokensPerTarget)..((m + 1) * result.TokensPerTarget)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  block {m}: cosine(predicted, actual) mean {block.Average():F4}, min {block.Min():F4}, max {block.Max():F4}"));
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mean over all hidden patches: {result.MeanCosine:F4}"));
    using Tensor predicted = tensor(result.Predicted, [result.Targets, result.TokensPerTarget, result.Dimension]);
    using Tensor actual = tensor(result.Actual, [result.Targets, result.TokensPerTarget, result.Dimension]);
    using Tensor cosine = tensor(result.Cosine, [result.Targets, result.TokensPerTarget]);
    SafetensorsWriter.Write(output, [("predicted", predicted), ("actual", actual), ("cosine", cosine)], new Dictionary<string, string>
    {
        ["checkpoint"] = Path.GetFileName(args[1]),
        ["image"] = args[2],
        ["seed"] = seed.ToString(CultureInfo.InvariantCulture),
        ["context"] = JsonSerializer.Serialize(result.Masks.Context),
        ["targets"] = JsonSerializer.Serialize(result.Masks.Targets),
    });
    Console.WriteLine($"wrote {Path.GetFullPath(output)}");
    return 0;
}
catch (Exception e) when (e is IJepaCheckpointException or ImageDecodeException or IOException or ArgumentException or UnauthorizedAccessException or FormatException)
{
    return Exit.Error(e.Message);
}
