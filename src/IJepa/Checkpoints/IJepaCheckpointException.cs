namespace IJepa.Checkpoints;

/// <summary>
/// A checkpoint file or folder cannot be used: a malformed safetensors file, a bad config.json, or
/// tensors that are missing, unexpected or of the wrong shape. The message names the file and lists
/// every problem found, not just the first.
/// </summary>
public sealed class IJepaCheckpointException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/> with one or more problems.</summary>
    /// <param name="path">The file (or folder) the problems were found in.</param>
    /// <param name="problems">What is wrong, one item per problem.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public IJepaCheckpointException(string path, IReadOnlyList<string> problems, Exception? inner = null)
        : base(Format(path, problems), inner)
    {
        Path = path;
        Problems = problems;
    }

    /// <summary>Creates the exception for <paramref name="path"/> with a single problem.</summary>
    /// <param name="path">The file (or folder) the problem was found in.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public IJepaCheckpointException(string path, string problem, Exception? inner = null)
        : this(path, [problem], inner)
    {
    }

    /// <summary>The file or folder at fault.</summary>
    public string Path { get; }

    /// <summary>Every problem found, one line each.</summary>
    public IReadOnlyList<string> Problems { get; }

    private static string Format(string path, IReadOnlyList<string> problems)
    {
        const int Shown = 20;
        if (problems.Count == 1)
        {
            return $"{path}: {problems[0]}";
        }
        IEnumerable<string> lines = problems.Take(Shown).Select(p => "  - " + p);
        string more = problems.Count > Shown ? $"{Environment.NewLine}  ... and {problems.Count - Shown} more" : "";
        return $"{path}: {problems.Count} problems:{Environment.NewLine}{string.Join(Environment.NewLine, lines)}{more}";
    }
}
