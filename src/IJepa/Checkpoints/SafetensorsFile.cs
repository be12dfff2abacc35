using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace IJepa.Checkpoints;

/// <summary>
/// A strictly validated safetensors file: an 8-byte little-endian header length, a JSON header, then
/// the raw tensor data. The header is checked in full when the file is opened, so reading a tensor
/// later can only fail if the file changes underneath. Tensor bytes are read with positional reads
/// straight into the caller's buffer (typically a parameter's own storage), so no second copy of the
/// weights is ever resident.
/// </summary>
internal sealed class SafetensorsFile : IDisposable
{
    /// <summary>The format's own bound on the header (the reference implementation uses the same).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;

    private SafetensorsFile(string path, SafeFileHandle handle, Dictionary<string, SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _handle = handle;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="IJepaCheckpointException">The file is missing, truncated or malformed.</exception>
    public static SafetensorsFile Open(string path)
    {
        string fullPath = System.IO.Path.GetFullPath(path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IJepaCheckpointException(fullPath, $"cannot open the safetensors file: {e.Message}", e);
        }

        try
        {
            (Dictionary<string, SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata) = ReadHeader(fullPath, handle);
            return new SafetensorsFile(fullPath, handle, tensors, metadata);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads the bytes of <paramref name="tensor"/> into <paramref name="destination"/>, which must be exactly its size.</summary>
    public void ReadInto(SafetensorsTensorInfo tensor, Span<byte> destination)
    {
        if (destination.Length != tensor.ByteLength)
        {
            throw new ArgumentException($"buffer of {destination.Length} bytes for {tensor.ByteLength} bytes of '{tensor.Name}'", nameof(destination));
        }
        try
        {
            ReadExactly(_handle, destination, tensor.FileOffset);
        }
        catch (EndOfStreamException e)
        {
            throw new IJepaCheckpointException(Path, $"tensor '{tensor.Name}' ends past the end of the file (was the file truncated while loading?)", e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();

    private static (Dictionary<string, SafetensorsTensorInfo>, Dictionary<string, string>) ReadHeader(string path, SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
        {
            throw new IJepaCheckpointException(path, $"not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
        }
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(handle, prefix, 0);
        ulong headerLength = BitConverter.IsLittleEndian
            ? BitConverter.ToUInt64(prefix)
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > MaxHeaderBytes)
        {
            throw new IJepaCheckpointException(path, $"header length {headerLength} is outside 2..{MaxHeaderBytes} bytes (not a safetensors file, or a corrupt one)");
        }
        if ((long)headerLength > fileLength - 8)
        {
            throw new IJepaCheckpointException(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file (truncated?)");
        }

        byte[] header = new byte[(int)headerLength];
        ReadExactly(handle, header, 8);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new IJepaCheckpointException(path, $"the header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            try
            {
                return Interpret(document, path, dataStart, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // Invalid UTF-8 in a name, or a value of the wrong JSON kind (found by fuzzing).
                throw new IJepaCheckpointException(path, $"the header holds invalid text or a value of the wrong type: {e.Message}", e);
            }
        }
    }

    private static (Dictionary<string, SafetensorsTensorInfo>, Dictionary<string, string>) Interpret(JsonDocument document, string path, long dataStart, long dataLength)
    {
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new IJepaCheckpointException(path, "the header is not a JSON object");
        }

        var problems = new List<string>();
        var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ranges = new List<(long Begin, long End, string Name)>();

        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                problems.Add($"'{property.Name}': the name appears more than once in the header");
                continue;
            }
            if (property.Name == "__metadata__")
            {
                ReadMetadata(property.Value, metadata, problems); // checks each value's kind before reading it
                continue;
            }
            // Assigned here so that no path needs proving to the compiler: Stryker's mutants of the catch below would
            // otherwise not compile, and it then drops every mutant of this method.
            SafetensorsTensorInfo? info = null;
            try
            {
                info = ReadTensorEntry(property, dataStart, dataLength, problems);
            }
            catch (InvalidOperationException)
            {
                // A JSON value of the wrong kind where a number or string belongs (found by fuzzing).
                problems.Add($"'{property.Name}': an entry holds a JSON value of the wrong type: {Shorten(property.Value.GetRawText())}");
                continue;
            }
            if (info != null)
            {
                tensors.Add(info.Name, info);
                ranges.Add((info.FileOffset - dataStart, info.FileOffset - dataStart + info.ByteLength, info.Name));
            }
        }

        CheckLayout(ranges, dataLength, problems);

        static string Shorten(string json) => json.Length <= 80 ? json : json[..80] + "…";
        if (problems.Count > 0)
        {
            throw new IJepaCheckpointException(path, problems);
        }
        return (tensors, metadata);
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, List<string> problems)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            problems.Add("'__metadata__' is not an object of strings");
            return;
        }
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                problems.Add($"'__metadata__.{entry.Name}' is not a string");
                continue;
            }
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                problems.Add($"'__metadata__.{entry.Name}' appears more than once");
            }
        }
    }

    private static SafetensorsTensorInfo? ReadTensorEntry(JsonProperty property, long dataStart, long dataLength, List<string> problems)
    {
        string name = property.Name;
        JsonElement entry = property.Value;
        if (entry.ValueKind != JsonValueKind.Object
            || !entry.TryGetProperty("dtype", out JsonElement dtypeElement)
            || !entry.TryGetProperty("shape", out JsonElement shapeElement)
            || !entry.TryGetProperty("data_offsets", out JsonElement offsetsElement))
        {
            problems.Add($"'{name}': the entry needs dtype, shape and data_offsets");
            return null;
        }

        string dtypeText = dtypeElement.ValueKind == JsonValueKind.String ? dtypeElement.GetString()! : dtypeElement.GetRawText();
        if (!SafetensorsDTypeExtensions.TryParse(dtypeText, out SafetensorsDType dtype))
        {
            problems.Add($"'{name}': unknown or unsupported dtype '{dtypeText}' (supported: F32, F16, BF16, F64)");
            return null;
        }

        if (shapeElement.ValueKind != JsonValueKind.Array || shapeElement.GetArrayLength() > 16)
        {
            problems.Add($"'{name}': shape is not an array of at most 16 dimensions");
            return null;
        }
        var shape = new long[shapeElement.GetArrayLength()];
        long elements = 1;
        int d = 0;
        foreach (JsonElement dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt64(out long size) || size < 0)
            {
                problems.Add($"'{name}': shape {shapeElement.GetRawText()} has a dimension that is not a non-negative integer");
                return null;
            }
            shape[d++] = size;
            try
            {
                elements = checked(elements * size);
            }
            catch (OverflowException)
            {
                problems.Add($"'{name}': shape {shapeElement.GetRawText()} overflows");
                return null;
            }
        }

        if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2
            || !offsetsElement[0].TryGetInt64(out long begin) || !offsetsElement[1].TryGetInt64(out long end)
            || begin < 0 || end < begin)
        {
            problems.Add($"'{name}': data_offsets {offsetsElement.GetRawText()} is not a pair [begin, end] with 0 <= begin <= end");
            return null;
        }
        if (end > dataLength)
        {
            problems.Add($"'{name}': data_offsets [{begin},{end}] run past the end of the data ({dataLength} bytes; truncated file?)");
            return null;
        }

        long expectedBytes;
        try
        {
            expectedBytes = checked(elements * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            problems.Add($"'{name}': shape {shapeElement.GetRawText()} overflows");
            return null;
        }
        if (end - begin != expectedBytes)
        {
            problems.Add($"'{name}': {end - begin} bytes of data, but {dtypeText} {shapeElement.GetRawText()} needs {expectedBytes}");
            return null;
        }
        return new SafetensorsTensorInfo(name, dtype, shape, dataStart + begin, expectedBytes);
    }

    private static void CheckLayout(List<(long Begin, long End, string Name)> ranges, long dataLength, List<string> problems)
    {
        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        string? previous = null;
        foreach ((long begin, long end, string name) in ranges)
        {
            if (begin < cursor)
            {
                problems.Add($"'{name}': data [{begin},{end}] overlaps '{previous}'");
            }
            else if (begin > cursor)
            {
                problems.Add($"'{name}': a gap of {begin - cursor} bytes precedes its data at {begin}");
            }
            cursor = Math.Max(cursor, end);
            previous = name;
        }
        if (problems.Count == 0 && cursor != dataLength)
        {
            problems.Add($"{dataLength - cursor} bytes after the last tensor belong to no tensor");
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read == 0)
            {
                throw new EndOfStreamException();
            }
            buffer = buffer[read..];
            offset += read;
        }
    }
}
