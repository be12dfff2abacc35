using IJepa.Checkpoints;
using IJepa.Hub;
using IJepa.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// The I-JEPA ViT encoder as transformers' <c>IJepaModel</c> computes it, in TorchSharp. The module
/// tree mirrors the checkpoint's keys (<c>embeddings.patch_embeddings.projection.weight</c>,
/// <c>encoder.layer.{i}.attention.attention.query.weight</c>, …, <c>layernorm.bias</c>), so
/// <c>named_parameters()</c> is exactly the list of tensors a checkpoint must hold.
/// This is the advanced API for TorchSharp users; <c>IJepaEncoder</c> wraps it for everyone else.
/// </summary>
public sealed class IJepaModel : nn.Module
{
    private readonly IJepaEmbeddings _embeddings;
    private readonly IJepaEncoderStack _encoder;
    private readonly LayerNorm _layernorm;

    private IJepaModel(IJepaConfig config, ScalarType dtype, Device device)
        : base(nameof(IJepaModel))
    {
        IReadOnlyList<string> problems = config.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid configuration: " + string.Join("; ", problems), nameof(config));
        }
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
        {
            throw new ArgumentException($"Compute dtype {dtype} is not a floating-point type this model supports.", nameof(dtype));
        }
        Config = config;
        DType = dtype;
        Device = device;
        _embeddings = new IJepaEmbeddings(config, dtype, device);
        _encoder = new IJepaEncoderStack(config, dtype, device);
        _layernorm = new LayerNorm(config.HiddenSize, config.LayerNormEps, dtype, device);
        register_module("embeddings", _embeddings);
        register_module("encoder", _encoder);
        register_module("layernorm", _layernorm);
        eval();
    }

    /// <summary>The model's sizes.</summary>
    public IJepaConfig Config { get; }

    /// <summary>The dtype parameters are held and computed in.</summary>
    public ScalarType DType { get; }

    /// <summary>Where the parameters live.</summary>
    public Device Device { get; }

    /// <summary>
    /// Builds a model with uninitialized parameters; fill them with <see cref="LoadWeights"/> or
    /// <see cref="InitializeRandom"/> before use.
    /// </summary>
    public static IJepaModel Create(IJepaConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        IJepaRuntime.EnsureInitialized();
        return new IJepaModel(config, dtype, device ?? CPU);
    }

    /// <summary>
    /// Loads a Hugging Face I-JEPA folder: <c>config.json</c> plus <c>model.safetensors</c> or
    /// sharded <c>model-0000k-of-0000n.safetensors</c> with <c>model.safetensors.index.json</c>.
    /// Weights stored as F32, F16, BF16 or F64 are converted to <paramref name="dtype"/>.
    /// When no such folder exists and <paramref name="directory"/> is a hub id (<c>facebook/ijepa_vith14_1k</c>,
    /// optionally <c>@revision</c>), the model is fetched into the Hugging Face cache first (see <see cref="HuggingFaceHub"/>).
    /// </summary>
    /// <param name="directory">A model folder, or a hub model id.</param>
    /// <param name="dtype">The dtype of the parameters.</param>
    /// <param name="device">Where the model lives (default: the CPU).</param>
    /// <param name="hub">How a hub id is fetched; null: from the environment.</param>
    /// <exception cref="IJepaCheckpointException">The folder, config or weights are unusable; the message lists every problem.</exception>
    /// <exception cref="HubException">A hub id could not be fetched; the message says why and what to do.</exception>
    public static IJepaModel FromPretrained(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null, HubOptions? hub = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = ModelSource.Resolve(directory, hub).Folder;
        using var checkpoint = HuggingFaceCheckpoint.Open(directory);
        IJepaModel model = Create(checkpoint.Config, dtype, device);
        try
        {
            model.LoadWeights(checkpoint);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Fills every parameter from <paramref name="checkpoint"/>, after checking that names and shapes match exactly.</summary>
    /// <exception cref="IJepaCheckpointException">Missing, unexpected or mis-shaped tensors (all listed).</exception>
    internal void LoadWeights(HuggingFaceCheckpoint checkpoint) => WeightLoader.Load(this, checkpoint);

    /// <summary>Whether <see cref="PackWeightsForInference"/> has packed the projection weights.</summary>
    public bool IsPackedForInference => modules().OfType<Linear>().Any(linear => linear.IsPacked);

    /// <summary>
    /// Prepares a bfloat16 model on the CPU for inference: every projection weight is reordered once
    /// into the blocked layout that oneDNN's bfloat16 kernels read, and the plain copy is released,
    /// so memory does not grow. Without this the reorder is repeated on every forward pass (4–6 % of
    /// a ViT-H pass at batch 8; README, benchmark). <see cref="IJepaEncoder"/> does it itself.
    /// Afterwards the model only runs forward passes: <see cref="SavePretrained"/> and
    /// <see cref="InitializeRandom"/> throw, and the projection weights in <c>named_parameters()</c>
    /// are empty. For other dtypes and devices, or where libtorch lacks oneDNN, nothing changes.
    /// </summary>
    /// <returns>Whether the weights are now packed.</returns>
    public bool PackWeightsForInference()
    {
        if (DType == ScalarType.BFloat16 && Device.type == DeviceType.CPU)
        {
            // Each projection packs alone (again is a no-op); were one to fail (they share one shim, so
            // in practice all or none do), it would stay plain and forward passes would still be right.
            foreach (Linear linear in modules().OfType<Linear>())
            {
                linear.PackForInference();
            }
        }
        return IsPackedForInference;
    }

    private void ThrowIfPacked([System.Runtime.CompilerServices.CallerMemberName] string operation = "")
    {
        if (IsPackedForInference)
        {
            throw new InvalidOperationException(
                $"{operation} needs the plain weights, but this model's weights were packed for inference (PackWeightsForInference, done by IJepaEncoder for bfloat16 on the CPU). Load the model again with IJepaModel.FromPretrained.");
        }
    }

    /// <summary>
    /// Fills the parameters with random values (normal, std 0.02, for projections and position
    /// embeddings; LayerNorms at weight 1, bias 0), for demos and tests without real weights.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights were packed for inference.</exception>
    public void InitializeRandom(long seed)
    {
        ThrowIfPacked();
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed, CPU);
        using Scalar std = 0.02.ToScalar();
        foreach ((string name, TorchSharp.Modules.Parameter parameter) in named_parameters())
        {
            bool isNorm = name.Contains("layernorm", StringComparison.Ordinal);
            if (isNorm)
            {
                parameter.fill_(name.EndsWith(".weight", StringComparison.Ordinal) ? HeldScalars.One : HeldScalars.Zero);
                continue;
            }
            if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                parameter.zero_();
                continue;
            }
            using Tensor values = HeldScalars.Normal(std, parameter.shape, generator);
            parameter.copy_(values);
        }
    }

    /// <summary>
    /// Writes this model as a Hugging Face folder: <c>config.json</c>, <c>model.safetensors</c> (in the
    /// model's dtype) and a <c>preprocessor_config.json</c> with the I-JEPA checkpoints' preprocessing
    /// (bilinear resize to the image size, mean = std = 0.5).
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights were packed for inference.</exception>
    public void SavePretrained(string directory)
    {
        ThrowIfPacked();
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, HuggingFaceCheckpoint.ConfigFile), Config.ToJson());
        File.WriteAllText(Path.Combine(directory, "preprocessor_config.json"), $$"""
            {
              "do_normalize": true,
              "do_rescale": true,
              "do_resize": true,
              "image_mean": [0.5, 0.5, 0.5],
              "image_processor_type": "ViTImageProcessor",
              "image_std": [0.5, 0.5, 0.5],
              "resample": 2,
              "rescale_factor": 0.00392156862745098,
              "size": { "height": {{Config.ImageSize}}, "width": {{Config.ImageSize}} }
            }
            """);
        SafetensorsWriter.Write(
            Path.Combine(directory, HuggingFaceCheckpoint.WeightsFile),
            named_parameters().Select(p => (p.name, (Tensor)p.parameter)),
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// Encodes normalized pixels [B, C, H, W]. Runs under inference mode; the caller owns the returned output.
    /// On a GPU, page-locked (pinned) CPU input is copied without blocking: keep it unchanged until the outputs
    /// have been read back (which waits for the device).
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not [B, C, H, W] with the model's channel count, or its size differs from the model's without <see cref="IJepaForwardOptions.InterpolatePosEncoding"/>.</exception>
    public IJepaModelOutput Forward(Tensor pixelValues, IJepaForwardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        options ??= IJepaForwardOptions.Default;
        CheckInput(pixelValues, options);

        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        Tensor x = _embeddings.Forward(ToModel(pixelValues), options.InterpolatePosEncoding);
        List<Tensor>? hidden = options.OutputHiddenStates ? [x] : null;
        for (int i = 0; i < _encoder.Count; i++)
        {
            Tensor next = _encoder[i].Forward(x);
            if (hidden is null)
            {
                x.Dispose();
            }
            else
            {
                hidden.Add(next);
            }
            x = next;
        }
        Tensor last = _layernorm.Forward(x);
        Tensor pooled = last.mean([1]);
        var output = new IJepaModelOutput(last, pooled, hidden);
        scope.MoveToOuter(last, pooled);
        if (hidden != null)
        {
            scope.MoveToOuter(hidden);
        }
        return output;
    }

    /// <summary>The embeddings stage alone (benchmark profiling; the caller holds inference mode).</summary>
    internal Tensor ProfileEmbeddings(Tensor pixelValues) => _embeddings.Forward(ToModel(pixelValues), interpolatePosEncoding: false);

    /// <summary>One encoder block alone (benchmark profiling).</summary>
    internal Tensor ProfileBlock(int index, Tensor hidden) => _encoder[index].Forward(hidden);

    /// <summary>
    /// The input on the model's device in its dtype. For a GPU the float32 pixels travel first and are converted
    /// there (converting on the host would cost a CPU pass over the batch), and from page-locked memory the copy
    /// does not block the host.
    /// </summary>
    private Tensor ToModel(Tensor pixelValues)
    {
        if (Device.type == DeviceType.CPU || pixelValues.device_type != DeviceType.CPU)
        {
            return pixelValues.to(DType, Device);
        }
        using Tensor moved = pixelValues.to(Device, non_blocking: pixelValues.is_pinned());
        return moved.to(DType);
    }

    /// <summary>
    /// Masked encoding as I-JEPA's context encoder does it: position embeddings are added to all patch
    /// tokens, then only the tokens at each mask's indices go through the blocks and the final LayerNorm.
    /// Each mask is [B, K] patch indices (row-major on the patch grid); the result stacks the masks:
    /// [masks.Count × B, K, D], mask-major (all images for mask 0, then mask 1, …).
    /// </summary>
    /// <exception cref="ArgumentException">A mask is not [B, K] of in-range indices.</exception>
    public Tensor ForwardMasked(Tensor pixelValues, IReadOnlyList<Tensor> masks)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        ArgumentNullException.ThrowIfNull(masks);
        CheckInput(pixelValues, IJepaForwardOptions.Default);
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        Tensor x = _embeddings.Forward(ToModel(pixelValues), interpolatePosEncoding: false);
        x = MaskIndices.Apply(x, masks, Device);
        for (int i = 0; i < _encoder.Count; i++)
        {
            x = _encoder[i].Forward(x);
        }
        return _layernorm.Forward(x).MoveToOuterDisposeScope();
    }

    private void CheckInput(Tensor pixels, IJepaForwardOptions options)
    {
        if (pixels.dim() != 4)
        {
            throw new ArgumentException($"Pixel values must be [batch, channels, height, width]; got shape [{string.Join(",", pixels.shape)}].", nameof(pixels));
        }
        long channels = pixels.shape[1], height = pixels.shape[2], width = pixels.shape[3];
        if (pixels.shape[0] < 1)
        {
            throw new ArgumentException("The batch is empty.", nameof(pixels));
        }
        if (channels != Config.NumChannels)
        {
            throw new ArgumentException($"The model expects {Config.NumChannels} channels; the input has {channels}.", nameof(pixels));
        }
        if (!pixels.is_floating_point())
        {
            throw new ArgumentException($"Pixel values must be floating point (normalized); got {pixels.dtype}.", nameof(pixels));
        }
        if (options.InterpolatePosEncoding)
        {
            if (height < Config.PatchSize || width < Config.PatchSize)
            {
                throw new ArgumentException($"Input {height}x{width} is smaller than one {Config.PatchSize}-pixel patch.", nameof(pixels));
            }
        }
        else if (height != Config.ImageSize || width != Config.ImageSize)
        {
            throw new ArgumentException(
                $"Input image size ({height}x{width}) doesn't match the model ({Config.ImageSize}x{Config.ImageSize}); resize it, or set InterpolatePosEncoding to resample the position embeddings.",
                nameof(pixels));
        }
    }
}
