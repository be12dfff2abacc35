using IJepa.Checkpoints;
using IJepa.Checkpoints.Original;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>
/// Training checkpoints in the original I-JEPA format: a torch.save archive of a dict with <c>encoder</c>,
/// <c>predictor</c> and <c>target_encoder</c> (state dicts with the <c>module.</c> prefix that distributed
/// training writes), <c>opt</c> (torch.optim.AdamW's state_dict: <c>state</c> by parameter number with
/// <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>, and the four <c>param_groups</c>), <c>scaler</c> (None),
/// <c>epoch</c>, <c>loss</c>, <c>batch_size</c>, <c>world_size</c> and <c>lr</c>, plus <c>ijepa_dotnet</c>: the
/// step count and seed this library needs to resume exactly (the original resumes at epoch boundaries only).
/// </summary>
internal static class TrainingCheckpoint
{
    private const string Prefix = "module.";

    public static PickleOrderedDict StateDict(nn.Module network)
    {
        var dict = new PickleOrderedDict();
        foreach ((string name, TorchSharp.Modules.Parameter parameter) in network.named_parameters())
        {
            dict.Add(new(Prefix + name, parameter));
        }
        return dict;
    }

    public static void Save(string path, IJepaTrainer trainer, int epoch, double loss)
    {
        AdamW optimizer = trainer.Optimizer;
        var state = new Dictionary<object, object?>();
        var groups = new List<object?>();
        long index = 0;
        var stepTensors = new List<Tensor>();
        try
        {
            foreach (AdamW.ParameterGroup group in optimizer.Groups)
            {
                var numbers = new List<object?>();
                foreach (AdamW.Slot slot in group.Slots)
                {
                    if (slot.ExpAvg is not null)
                    {
                        // torch ≥ 1.12 keeps the step as a float32 scalar tensor.
                        Tensor step = tensor((float)slot.Steps);
                        stepTensors.Add(step);
                        state[index] = new Dictionary<object, object?> { ["step"] = step, ["exp_avg"] = slot.ExpAvg, ["exp_avg_sq"] = slot.ExpAvgSq };
                    }
                    numbers.Add(index++);
                }
                var entry = new Dictionary<object, object?>
                {
                    ["lr"] = group.LearningRate,
                    ["betas"] = new object?[] { optimizer.Beta1, optimizer.Beta2 },
                    ["eps"] = optimizer.Epsilon,
                    ["weight_decay"] = group.WeightDecay,
                    ["amsgrad"] = false,
                    ["foreach"] = null,
                    ["maximize"] = false,
                    ["capturable"] = false,
                    ["params"] = numbers,
                };
                if (group.ExcludeFromDecay)
                {
                    entry["WD_exclude"] = true;
                }
                groups.Add(entry);
            }
            IJepaTrainingOptions options = trainer.Options;
            var root = new Dictionary<object, object?>
            {
                ["encoder"] = StateDict(trainer.Encoder),
                ["predictor"] = StateDict(trainer.Predictor),
                ["target_encoder"] = StateDict(trainer.Target),
                ["opt"] = new Dictionary<object, object?> { ["state"] = state, ["param_groups"] = groups },
                ["scaler"] = null,
                ["epoch"] = (long)epoch,
                ["loss"] = loss,
                ["batch_size"] = (long)options.BatchSize,
                ["world_size"] = 1L,
                ["lr"] = TrainingSchedules.LearningRate(options, Math.Max(1, trainer.StepCount)),
                ["ijepa_dotnet"] = new Dictionary<object, object?>
                {
                    ["step"] = trainer.StepCount,
                    ["seed"] = (long)options.Seed,
                    ["total_steps"] = options.TotalSteps,
                    ["num_attention_heads"] = (long)options.Encoder.NumAttentionHeads,
                },
            };
            TorchSaveWriter.Save(path, root);
        }
        finally
        {
            foreach (Tensor step in stepTensors)
            {
                step.Dispose();
            }
        }
    }

    public static void Load(string path, IJepaTrainer trainer)
    {
        using TorchArchive archive = TorchArchive.Open(path);
        if (archive.Root is not Dictionary<object, object?> root)
        {
            throw new IJepaCheckpointException(archive.Path, "the checkpoint is not a dict");
        }
        var problems = new List<string>();
        LoadNetwork(archive, root, "encoder", trainer.Encoder, problems);
        LoadNetwork(archive, root, "predictor", trainer.Predictor, problems);
        LoadNetwork(archive, root, "target_encoder", trainer.Target, problems);
        if (root.GetValueOrDefault("ijepa_dotnet") is not Dictionary<object, object?> extra || extra.GetValueOrDefault("step") is not long step)
        {
            throw new IJepaCheckpointException(archive.Path, "the checkpoint has no 'ijepa_dotnet' step count: it was not written by this library, so the schedules' position is unknown (load its weights with OriginalCheckpoint instead)");
        }
        if (extra.GetValueOrDefault("total_steps") is long total && total != trainer.Options.TotalSteps)
        {
            problems.Add($"the run was planned for {total} steps, the options say {trainer.Options.TotalSteps}: the schedules would differ");
        }
        if (root.GetValueOrDefault("opt") is not Dictionary<object, object?> opt
            || opt.GetValueOrDefault("state") is not Dictionary<object, object?> state)
        {
            throw new IJepaCheckpointException(archive.Path, "the checkpoint has no optimizer state ('opt')");
        }
        if (problems.Count > 0)
        {
            throw new IJepaCheckpointException(archive.Path, problems);
        }
        long index = 0;
        foreach (AdamW.Slot slot in trainer.Optimizer.Groups.SelectMany(g => g.Slots))
        {
            if (state.GetValueOrDefault(index++) is Dictionary<object, object?> moments)
            {
                if (moments.GetValueOrDefault("exp_avg") is not TensorRef avg || moments.GetValueOrDefault("exp_avg_sq") is not TensorRef avgSq
                    || !avg.Shape.SequenceEqual(slot.Parameter.shape) || !avgSq.Shape.SequenceEqual(slot.Parameter.shape))
                {
                    throw new IJepaCheckpointException(archive.Path, $"optimizer state {index - 1} ({slot.Network}.{slot.Name}) is missing or mis-shaped");
                }
                slot.ExpAvg = zeros_like(slot.Parameter).DetachFromDisposeScope();
                slot.ExpAvgSq = zeros_like(slot.Parameter).DetachFromDisposeScope();
                archive.ReadInto(avg, slot.ExpAvg);
                archive.ReadInto(avgSq, slot.ExpAvgSq);
                slot.Steps = moments.GetValueOrDefault("step") switch
                {
                    long l => l,
                    double d => (long)d,
                    TensorRef t => ReadScalar(archive, t),
                    _ => throw new IJepaCheckpointException(archive.Path, $"optimizer state {index - 1} has no step"),
                };
            }
        }
        trainer.Restore(step);
    }

    private static long ReadScalar(TorchArchive archive, TensorRef t)
    {
        using Tensor value = empty([], ScalarType.Float64);
        archive.ReadInto(t, value);
        return (long)Math.Round(value.item<double>());
    }

    private static void LoadNetwork(TorchArchive archive, Dictionary<object, object?> root, string part, nn.Module network, List<string> problems)
    {
        if (root.GetValueOrDefault(part) is not Dictionary<object, object?> stateDict)
        {
            problems.Add($"'{part}' is missing");
            return;
        }
        var tensors = new Dictionary<string, TensorRef>(StringComparer.Ordinal);
        foreach ((object key, object? value) in stateDict)
        {
            if (key is string name && value is TensorRef reference)
            {
                tensors[name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name] = reference;
            }
        }
        var plan = new List<(TorchSharp.Modules.Parameter, TensorRef)>();
        foreach ((string name, TorchSharp.Modules.Parameter parameter) in network.named_parameters())
        {
            if (!tensors.Remove(name, out TensorRef? source))
            {
                problems.Add($"missing '{part}.{name}'");
            }
            else if (!source.Shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"'{part}.{name}' is {source.ShapeText}, the options need [{string.Join(",", parameter.shape)}]");
            }
            else
            {
                plan.Add((parameter, source));
            }
        }
        problems.AddRange(tensors.Keys.Select(k => $"unexpected '{part}.{k}'"));
        if (problems.Count == 0)
        {
            using var noGrad = no_grad();
            foreach ((TorchSharp.Modules.Parameter parameter, TensorRef source) in plan)
            {
                if (parameter.device_type == DeviceType.CPU)
                {
                    archive.ReadInto(source, parameter);
                }
                else
                {
                    using Tensor staging = empty(parameter.shape, parameter.dtype);
                    archive.ReadInto(source, staging);
                    parameter.copy_(staging);
                }
            }
        }
    }
}
