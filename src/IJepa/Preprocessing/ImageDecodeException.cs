namespace IJepa.Preprocessing;

/// <summary>
/// An image cannot be used: empty, truncated, corrupt, not an image, an unsupported format, or larger
/// than the configured pixel limit (a decompression bomb). <see cref="Source"/> names the input.
/// </summary>
public sealed class ImageDecodeException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file path or a description of the input ("stream", "bytes[1234]", ...).</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="inner">The decoder's own exception, if any.</param>
    public ImageDecodeException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        Source = source;
        Problem = problem;
    }

    /// <summary>The input at fault: a file path, or a description of a stream or buffer.</summary>
    public new string Source { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
