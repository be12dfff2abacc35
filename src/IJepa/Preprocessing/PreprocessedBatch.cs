using static TorchSharp.torch;

namespace IJepa.Preprocessing;

/// <summary>One image that could not be used, and why.</summary>
/// <param name="Input">The image.</param>
/// <param name="Error">The reason, naming the image.</param>
public sealed record ImageFailure(ImageInput Input, ImageDecodeException Error);

/// <summary>The result of <see cref="ImagePreprocessor.PreprocessBatch"/>. Owns <see cref="Pixels"/>.</summary>
public sealed class PreprocessedBatch : IDisposable
{
    internal PreprocessedBatch(Tensor? pixels, IReadOnlyList<ImageInput> inputs, IReadOnlyList<(int Width, int Height)> sourceSizes, IReadOnlyList<ImageFailure> failures)
    {
        Pixels = pixels;
        Inputs = inputs;
        SourceSizes = sourceSizes;
        Failures = failures;
    }

    /// <summary>Normalized pixels [B, 3, H, W] of the images that succeeded, in input order; null when none did.</summary>
    public Tensor? Pixels { get; }

    /// <summary>The images in <see cref="Pixels"/>, row by row.</summary>
    public IReadOnlyList<ImageInput> Inputs { get; }

    /// <summary>Each of <see cref="Inputs"/>' source size (EXIF orientation applied), as its decoder read it.</summary>
    internal IReadOnlyList<(int Width, int Height)> SourceSizes { get; }

    /// <summary>The images that were skipped.</summary>
    public IReadOnlyList<ImageFailure> Failures { get; }

    /// <inheritdoc />
    public void Dispose() => Pixels?.Dispose();
}
