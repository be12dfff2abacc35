using System.Security.Cryptography;

namespace IJepa.Checkpoints;

/// <summary>
/// SHA-256 checks of checkpoint files against digests the user supplies (the Hugging Face hub lists
/// one per LFS file), so that a corrupted or substituted download is refused before it is loaded.
/// </summary>
public static class CheckpointIntegrity
{
    /// <summary>The SHA-256 of a file as 64 lowercase hex digits (streamed; memory stays small).</summary>
    /// <exception cref="IJepaCheckpointException">The file cannot be read.</exception>
    public static string ComputeSha256(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IJepaCheckpointException(path, $"cannot read the file to check its SHA-256: {e.Message}", e);
        }
    }

    /// <summary>Checks <paramref name="path"/> against <paramref name="expectedSha256"/> (64 hex digits, any case).</summary>
    /// <exception cref="ArgumentException">The expected digest is not 64 hex digits.</exception>
    /// <exception cref="IJepaCheckpointException">The digests differ, or the file cannot be read.</exception>
    public static void Verify(string path, string expectedSha256)
    {
        string expected = Normalize(expectedSha256);
        string actual = ComputeSha256(path);
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new IJepaCheckpointException(path, $"SHA-256 mismatch: expected {expected}, the file has {actual} (corrupted or different download)");
        }
    }

    /// <summary>
    /// Checks files of a model folder: keys are file names relative to <paramref name="modelDirectory"/>
    /// (e.g. "model.safetensors"), values their SHA-256. Every listed file must exist.
    /// </summary>
    public static void VerifyFolder(string modelDirectory, IReadOnlyDictionary<string, string> expectedSha256)
    {
        ArgumentNullException.ThrowIfNull(expectedSha256);
        string folder = Path.GetFullPath(modelDirectory);
        foreach ((string name, string digest) in expectedSha256)
        {
            string path = Path.GetFullPath(Path.Combine(folder, name));
            if (!path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{name}' is not a file inside {folder}", nameof(expectedSha256));
            }
            if (!File.Exists(path))
            {
                throw new IJepaCheckpointException(path, "a SHA-256 was given for this file, but it does not exist");
            }
            Verify(path, digest);
        }
    }

    private static string Normalize(string digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        string trimmed = digest.Trim();
        if (trimmed.Length != 64 || !trimmed.All(Uri.IsHexDigit))
        {
            throw new ArgumentException($"'{digest}' is not a SHA-256 digest (64 hex digits)", nameof(digest));
        }
        return trimmed.ToLowerInvariant();
    }
}
