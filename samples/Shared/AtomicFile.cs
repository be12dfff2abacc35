using System.Globalization;

namespace IJepa.Samples;

/// <summary>
/// Output that is either complete or absent: written under a temporary name next to the target and
/// renamed over it only when the write has finished, so a failed run never leaves a file that looks done.
/// </summary>
internal static class AtomicFile
{
    /// <summary>The temporary name used for <paramref name="path"/> (the library's SafetensorsWriter uses the same scheme).</summary>
    public static string TemporaryName(string path) =>
        Path.GetFullPath(path) + ".partial-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    /// <summary>Runs <paramref name="write"/> on a temporary file, flushes it to disk and renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string temporary = TemporaryName(path);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, Path.GetFullPath(path), overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (IOException)
            {
            }
            throw;
        }
    }
}
