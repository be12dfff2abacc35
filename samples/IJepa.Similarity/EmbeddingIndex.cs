using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;

using IJepa.Samples;

namespace IJepa.Similarity;

/// <summary>One indexed image: where it was, which version of the file, and its unit-length pooled embedding.</summary>
internal sealed record IndexEntry(string Path, long Length, DateTime ModifiedUtc, float[] Vector);

/// <summary>
/// The pooled embeddings of a folder, unit length so that a dot product is the cosine. Saved as JSON;
/// an entry is reused while its file's length and modification time are unchanged.
/// </summary>
internal sealed class EmbeddingIndex
{
    public EmbeddingIndex(string modelId, int dimension, List<IndexEntry> entries)
    {
        ModelId = modelId;
        Dimension = dimension;
        Entries = entries;
    }

    public string ModelId { get; }

    public int Dimension { get; }

    public List<IndexEntry> Entries { get; }

    public static IndexEntry Entry(string path, float[] pooled)
    {
        var info = new FileInfo(path);
        return new IndexEntry(Path.GetFullPath(path), info.Length, info.LastWriteTimeUtc, EmbeddingMath.Normalize(pooled));
    }

    public static bool IsCurrent(IndexEntry entry)
    {
        var info = new FileInfo(entry.Path);
        return info.Exists && info.Length == entry.Length && info.LastWriteTimeUtc == entry.ModifiedUtc;
    }

    /// <summary>The k entries most similar to <paramref name="query"/> (cosine), best first.</summary>
    public IEnumerable<(IndexEntry Entry, float Score)> Nearest(ReadOnlySpan<float> query, int k)
    {
        float[] unit = EmbeddingMath.Normalize(query);
        var scored = new (IndexEntry, float)[Entries.Count];
        for (int i = 0; i < Entries.Count; i++)
        {
            scored[i] = (Entries[i], TensorPrimitives.Dot(unit, Entries[i].Vector));
        }
        return scored.OrderByDescending(s => s.Item2).ThenBy(s => s.Item1.Path, StringComparer.Ordinal).Take(k);
    }

    /// <summary>Reads a saved index; null when there is none or it belongs to another model.</summary>
    /// <exception cref="InvalidDataException">The file is not an index this sample wrote.</exception>
    public static EmbeddingIndex? TryLoad(string path, string modelId, int dimension)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream);
            JsonElement root = document.RootElement;
            if (root.GetProperty("model").GetString() != modelId || root.GetProperty("dimension").GetInt32() != dimension)
            {
                return null;
            }
            var entries = new List<IndexEntry>();
            foreach (JsonElement e in root.GetProperty("entries").EnumerateArray())
            {
                float[] vector = e.GetProperty("vector").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                if (vector.Length != dimension)
                {
                    throw new InvalidDataException($"{path}: an entry has {vector.Length} values, not {dimension}");
                }
                entries.Add(new IndexEntry(e.GetProperty("path").GetString()!, e.GetProperty("length").GetInt64(),
                    DateTime.Parse(e.GetProperty("modified").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind), vector));
            }
            return new EmbeddingIndex(modelId, dimension, entries);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path} is not an index written by this sample: {e.Message}", e);
        }
    }

    /// <summary>Writes the index to a temporary file and renames it into place when complete.</summary>
    public void Save(string path) => AtomicFile.Write(path, stream =>
    {
        using var writer = new Utf8JsonWriter(stream);
        writer.WriteStartObject();
        writer.WriteString("model", ModelId);
        writer.WriteNumber("dimension", Dimension);
        writer.WriteStartArray("entries");
        foreach (IndexEntry entry in Entries)
        {
            writer.WriteStartObject();
            writer.WriteString("path", entry.Path);
            writer.WriteNumber("length", entry.Length);
            writer.WriteString("modified", entry.ModifiedUtc.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteStartArray("vector");
            foreach (float v in entry.Vector)
            {
                writer.WriteNumberValue(v);
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    });
}
