using IJepa.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace IJepa.Checkpoints;

/// <summary>
/// Copies checkpoint tensors into a model's parameters by walking <c>named_parameters()</c>: the
/// module tree mirrors the checkpoint's keys, so there is no translation table. Every name and shape
/// is checked before any data is read, and all problems are reported together.
/// </summary>
internal static class WeightLoader
{
    /// <summary>Prefix of task models (e.g. IJepaForImageClassification) around the base model's keys.</summary>
    private const string BaseModelPrefix = "ijepa.";

    /// <summary>Heads that transformers drops when it loads the base model; so do we.</summary>
    private static readonly string[] IgnoredHeads = ["pooler.", "classifier."];

    public static void Load(IJepaModel model, HuggingFaceCheckpoint checkpoint)
    {
        string prefix = checkpoint.TryGet("embeddings.position_embeddings", out _, out _)
            || !checkpoint.TryGet(BaseModelPrefix + "embeddings.position_embeddings", out _, out _)
            ? ""
            : BaseModelPrefix;

        var problems = new List<string>();
        var plan = new List<(Parameter Parameter, SafetensorsFile File, SafetensorsTensorInfo Info)>();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, Parameter parameter) in model.named_parameters())
        {
            expected.Add(name);
            if (!checkpoint.TryGet(prefix + name, out SafetensorsFile file, out SafetensorsTensorInfo info))
            {
                problems.Add($"missing '{prefix}{name}' [{string.Join(",", parameter.shape)}]");
                continue;
            }
            if (!info.Shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"'{info.Name}' is {info.ShapeText} in the checkpoint but the config gives [{string.Join(",", parameter.shape)}]");
                continue;
            }
            plan.Add((parameter, file, info));
        }
        foreach (string stored in checkpoint.TensorNames.Order(StringComparer.Ordinal))
        {
            bool prefixed = stored.StartsWith(prefix, StringComparison.Ordinal);
            string name = prefixed ? stored[prefix.Length..] : stored;
            if (IgnoredHeads.Any(h => name.StartsWith(h, StringComparison.Ordinal)))
            {
                continue;
            }
            if (!prefixed || !expected.Contains(name))
            {
                problems.Add($"unexpected '{stored}'");
            }
        }
        if (problems.Count > 0)
        {
            throw new IJepaCheckpointException(checkpoint.WeightsDescription, problems);
        }

        // Straight from the file into the parameters' own memory, the only copy there is, on every core:
        // the time goes into faulting in fresh pages, which parallelizes. Conversions (dtype or device)
        // then go through one tensor-sized staging buffer at a time.
        var direct = plan.Where(p => IsDirect(p.Parameter, p.Info)).ToList();
        Parallel.ForEach(direct, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, p =>
        {
            HugePages.Advise(p.Parameter);
            p.File.ReadInto(p.Info, p.Parameter.bytes);
        });
        using var noGrad = no_grad();
        foreach ((Parameter parameter, SafetensorsFile file, SafetensorsTensorInfo info) in plan.Where(p => !IsDirect(p.Parameter, p.Info)))
        {
            using Tensor staging = empty(info.Shape, info.DType.ToScalarType(), CPU);
            file.ReadInto(info, staging.bytes);
            parameter.copy_(staging);
        }
    }

    private static bool IsDirect(Parameter parameter, SafetensorsTensorInfo info) =>
        parameter.device_type == TorchSharp.DeviceType.CPU && parameter.dtype == info.DType.ToScalarType() && parameter.is_contiguous();
}
