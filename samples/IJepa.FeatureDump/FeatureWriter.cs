using System.Globalization;
using System.Text;
using System.Text.Json;
using IJepa.Checkpoints;
using static TorchSharp.torch;

using IJepa.Samples;

namespace IJepa.FeatureDump;

/// <summary>Writes the collected features; every format goes to a temporary file renamed only when complete.</summary>
internal static class FeatureWriter
{
    private static readonly string[] Formats = [".safetensors", ".npy", ".jsonl"];

    /// <summary>
    /// Fails fast, before any image is encoded, when the format is unknown or the output folder cannot
    /// be written (it probes with the same temporary name the real write uses, then removes it).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown format.</exception>
    /// <exception cref="IOException">The folder is missing or not writable.</exception>
    public static void CheckWritable(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (!Formats.Contains(extension))
        {
            throw new ArgumentException($"unknown output format '{extension}' (use .safetensors, .npy or .jsonl)");
        }
        string probe = AtomicFile.TemporaryName(path);
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    /// <summary>Writes the rows; on any failure nothing is left at <paramref name="path"/> (an older file there stays as it was).</summary>
    /// <exception cref="IOException">The file could not be written completely (no permission, disk full, ...).</exception>
    public static void Write(string path, string modelId, IReadOnlyList<ImageEmbedding> rows, bool patches)
    {
        try
        {
            switch (Path.GetExtension(path).ToLowerInvariant())
            {
                case ".safetensors":
                    WriteSafetensors(path, modelId, rows, patches);
                    break;
                case ".npy":
                    AtomicFile.Write(path, stream => WriteNpy(stream, rows));
                    break;
                default:
                    AtomicFile.Write(path, stream => WriteJsonLines(stream, rows));
                    break;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    private static void WriteSafetensors(string path, string modelId, IReadOnlyList<ImageEmbedding> rows, bool patches)
    {
        int dim = rows.Count > 0 ? rows[0].Dimension : 0;
        using Tensor pooled = tensor(rows.SelectMany(r => r.Pooled).ToArray(), [rows.Count, dim]);
        var tensors = new List<(string, Tensor)> { ("pooled", pooled) };
        Tensor? patchTensor = null;
        try
        {
            if (patches && rows.Count > 0)
            {
                int tokens = rows[0].GridHeight * rows[0].GridWidth;
                patchTensor = tensor(rows.SelectMany(r => r.Patches!).ToArray(), [rows.Count, tokens, dim]);
                tensors.Add(("patches", patchTensor));
            }
            var metadata = new Dictionary<string, string>
            {
                ["model"] = modelId,
                ["inputs"] = JsonSerializer.Serialize(rows.Select(r => r.Name)),
            };
            SafetensorsWriter.Write(path, tensors, metadata);
        }
        finally
        {
            patchTensor?.Dispose();
        }
    }

    private static void WriteNpy(Stream stream, IReadOnlyList<ImageEmbedding> rows)
    {
        int dim = rows.Count > 0 ? rows[0].Dimension : 0;
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Count}, {dim}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        foreach (ImageEmbedding row in rows)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.Pooled.AsSpan()));
        }
    }

    private static void WriteJsonLines(Stream stream, IReadOnlyList<ImageEmbedding> rows)
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        foreach (ImageEmbedding row in rows)
        {
            writer.Write(JsonSerializer.Serialize(new { path = row.Name, pooled = row.Pooled }));
            writer.Write('\n');
        }
    }
}
