using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IJepa.Parquet;

/// <summary>
/// One of <see cref="Count"/> disjoint shares of an input list. An input belongs to a shard by its key (the
/// relative path) alone: <see cref="Assign"/> is Google's jump consistent hash of the key's SHA-256, so the
/// assignment does not depend on which other files exist (adding files moves none), is the same on every
/// machine and .NET version, and going from N to N+1 shards moves only about 1/(N+1) of the inputs.
/// </summary>
/// <param name="Index">This shard, 0 to <see cref="Count"/> − 1.</param>
/// <param name="Count">The number of shards.</param>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole input list as one shard.</summary>
    public static Shard All => new(0, 1);

    /// <summary>"<c>i/N</c>", e.g. "2/8"; what <see cref="Parse"/> reads back.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>"<c>i-of-N</c>", the shard's part of file names.</summary>
    public string FileTag => string.Create(CultureInfo.InvariantCulture, $"{Index}-of-{Count}");

    /// <summary>Whether the input with this key belongs to this shard.</summary>
    public bool Owns(string key) => Assign(key, Count) == Index;

    /// <summary>The shard, 0 to <paramref name="count"/> − 1, of the input with this key.</summary>
    public static int Assign(string key, int count)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return JumpHash(BinaryPrimitives.ReadUInt64LittleEndian(hash), count);
    }

    // Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
    private static int JumpHash(ulong key, int buckets)
    {
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = unchecked((key * 2862933555777941757UL) + 1);
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }
        return (int)b;
    }

    /// <summary>
    /// Reads a shard from the command line: "<c>i/N</c>"; "<c>auto</c>", the index and count of a Slurm job array
    /// (<c>SLURM_ARRAY_TASK_ID</c> less <c>SLURM_ARRAY_TASK_MIN</c>, and <c>SLURM_ARRAY_TASK_COUNT</c>); or
    /// "<c>auto/N</c>", the index of a Kubernetes Indexed Job (<c>JOB_COMPLETION_INDEX</c>, else Slurm's) with
    /// N shards, N being the Job's completion count, which Kubernetes does not put in the environment.
    /// </summary>
    /// <param name="spec">The text after <c>--shard</c>.</param>
    /// <param name="environment">Variable lookup; null reads the process environment.</param>
    /// <exception cref="FormatException">The text or the environment do not give a valid shard; the message says which.</exception>
    public static Shard Parse(string spec, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        environment ??= Environment.GetEnvironmentVariable;
        string[] parts = spec.Split('/');
        if (parts.Length is < 1 or > 2)
        {
            throw new FormatException($"shard '{spec}': expected i/N, auto or auto/N");
        }
        int count;
        int index;
        if (parts[0] == "auto")
        {
            string? k8s = environment("JOB_COMPLETION_INDEX");
            string? slurm = environment("SLURM_ARRAY_TASK_ID");
            if (parts.Length == 2)
            {
                count = Number(parts[1], "N", spec);
                index = k8s is not null ? Number(k8s, "JOB_COMPLETION_INDEX", spec)
                    : slurm is not null ? Number(slurm, "SLURM_ARRAY_TASK_ID", spec) - SlurmMin(environment, spec)
                    : throw new FormatException($"shard '{spec}': neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set");
            }
            else
            {
                if (slurm is null || environment("SLURM_ARRAY_TASK_COUNT") is not { } slurmCount)
                {
                    throw new FormatException(k8s is not null
                        ? $"shard '{spec}': Kubernetes gives JOB_COMPLETION_INDEX but not the completion count; pass --shard auto/N"
                        : $"shard '{spec}': SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set (not a Slurm job array); pass --shard i/N");
                }
                index = Number(slurm, "SLURM_ARRAY_TASK_ID", spec) - SlurmMin(environment, spec);
                count = Number(slurmCount, "SLURM_ARRAY_TASK_COUNT", spec);
            }
        }
        else if (parts.Length == 2)
        {
            index = Number(parts[0], "i", spec);
            count = Number(parts[1], "N", spec);
        }
        else
        {
            throw new FormatException($"shard '{spec}': expected i/N, auto or auto/N");
        }
        if (count < 1 || index < 0 || index >= count)
        {
            throw new FormatException($"shard '{spec}': index {index} is not in 0..{count - 1}");
        }
        return new Shard(index, count);
    }

    private static int SlurmMin(Func<string, string?> environment, string spec) =>
        environment("SLURM_ARRAY_TASK_MIN") is { } min ? Number(min, "SLURM_ARRAY_TASK_MIN", spec) : 0;

    private static int Number(string text, string what, string spec) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"shard '{spec}': {what} is '{text}', not a non-negative whole number");
}
