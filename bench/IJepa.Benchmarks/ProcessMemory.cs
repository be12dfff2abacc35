namespace IJepa.Benchmarks;

/// <summary>Resident memory of this process, or of a child by its id, from /proc (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set, bytes.</summary>
    public static long Resident() => ReadStatus("VmRSS:");

    /// <summary>Current resident set of another process, bytes.</summary>
    public static long Resident(int processId) => ReadStatus("VmRSS:", $"/proc/{processId}/status");

    /// <summary>Peak resident set since start or the last <see cref="ResetPeak"/>, bytes.</summary>
    public static long Peak() => ReadStatus("VmHWM:");

    /// <summary>Peak resident set of another process, bytes (its native memory included); null once it has exited.</summary>
    public static long? Peak(int processId)
    {
        try
        {
            return ReadStatus("VmHWM:", $"/proc/{processId}/status");
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            return null; // gone, or a zombie: its status no longer lists memory
        }
    }

    /// <summary>Resets the kernel's peak-RSS mark to the current RSS (writes 5 to /proc/self/clear_refs).</summary>
    public static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");

    private static long ReadStatus(string key, string file = "/proc/self/status")
    {
        foreach (string line in File.ReadLines(file))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException($"{key} not found in {file}");
    }
}
