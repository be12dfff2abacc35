namespace IJepa.Parquet;

/// <summary>
/// A Parquet output folder or file that cannot be used: another process holds the shard, the manifest was
/// written by a different command or is damaged. The message names the file and the problem.
/// </summary>
/// <remarks>Derives from <see cref="IOException"/> because every case is a problem with files on disk.</remarks>
public sealed class IJepaParquetException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public IJepaParquetException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The file or folder the problem is about.</summary>
    public string Path { get; }
}
