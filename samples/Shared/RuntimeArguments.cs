using System.Globalization;
using IJepa.Preprocessing;

namespace IJepa.Samples;

/// <summary>The samples' shared runtime options: --libtorch, --workers, --fast-decode and --backend.</summary>
internal static class RuntimeArguments
{
    public const string Usage = """
          --libtorch DIR   load libtorch from DIR (e.g. an installed PyTorch's torch/lib, for CUDA) instead of the package's
          --workers N      threads that decode and preprocess images (default: one per core)
          --fast-decode    decode large JPEGs at a reduced size (libjpeg DCT scaling): faster, not bit-exact with Python
          --backend B      torchvision (default: transformers 5's ViTImageProcessor), torchvision-float (the same where
                           torchvision resizes in float32: AVX-512 CPUs, GPUs) or pil (ViTImageProcessorPil, transformers 4)
        """;

    /// <summary>
    /// Prepares libtorch before anything else touches TorchSharp: its OpenMP threads sleep rather than spin (the
    /// decoding threads share the cores with the model; <see cref="IJepaRuntime.PreferPassiveThreadWaits"/>), and it
    /// loads from --libtorch when given. Null when fine, else the exit code.
    /// </summary>
    public static int? ApplyLibTorch(string? directory)
    {
        IJepaRuntime.PreferPassiveThreadWaits();
        if (directory is null)
        {
            return null;
        }
        try
        {
            IJepaRuntime.UseLibTorch(directory);
            return null;
        }
        catch (IJepaRuntimeException e)
        {
            return Exit.Error(e.Message);
        }
    }

    /// <summary>Parses --workers (null when absent).</summary>
    /// <exception cref="FormatException">Not a positive integer.</exception>
    public static int? Workers(string? text) =>
        text is null ? null
        : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
        : throw new FormatException($"--workers takes a positive integer, not '{text}'");

    /// <summary>Parses --backend (null keeps the preset's).</summary>
    /// <exception cref="FormatException">Not torchvision, torchvision-float or pil.</exception>
    public static PreprocessingBackend? Backend(string? text) => text switch
    {
        null => null,
        "torchvision" => PreprocessingBackend.Torchvision,
        "torchvision-float" => PreprocessingBackend.TorchvisionFloat,
        "pil" => PreprocessingBackend.Pil,
        _ => throw new FormatException($"--backend takes torchvision, torchvision-float or pil, not '{text}'"),
    };

    /// <summary>The decoding --fast-decode asks for (null keeps the preset's).</summary>
    public static ImageDecoding? Decoding(bool fast) => fast ? ImageDecoding.NativeReduced : null;
}
