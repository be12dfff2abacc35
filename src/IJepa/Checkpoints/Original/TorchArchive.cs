using System.IO.Compression;
using static TorchSharp.torch;

namespace IJepa.Checkpoints.Original;

/// <summary>A storage a saved tensor points into: an entry data/KEY of the archive, not read until needed.</summary>
internal sealed record StorageRef(string Key, ScalarType DType, long Elements);

/// <summary>A saved tensor: its storage, element offset, shape and strides. Holds no data.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Shape, long[] Stride)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(",", Shape) + "]";

    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Stride[i] != expected)
                {
                    return false;
                }
                expected *= Shape[i];
            }
            return true;
        }
    }
}

/// <summary>
/// A torch.save zip archive (ARCHIVE/data.pkl plus one ARCHIVE/data/KEY entry per storage). The pickle is
/// run by <see cref="PickleReader"/> with tensors left as <see cref="TensorRef"/>s; tensor data is read
/// only for the tensors asked for, straight into their destination.
/// </summary>
internal sealed class TorchArchive : IDisposable
{
    private const long MaxPickleBytes = 256L << 20;

    private static readonly Dictionary<string, ScalarType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = ScalarType.Float32,
        ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16,
        ["DoubleStorage"] = ScalarType.Float64,
        ["LongStorage"] = ScalarType.Int64,
        ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16,
        ["CharStorage"] = ScalarType.Int8,
        ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
    };

    private readonly ZipArchive _zip;
    private readonly string _prefix;

    private TorchArchive(string path, ZipArchive zip, string prefix, object? root)
    {
        Path = path;
        _zip = zip;
        _prefix = prefix;
        Root = root;
    }

    public string Path { get; }

    /// <summary>Tensor bytes read from storages so far (to show that only the selected tensors are read).</summary>
    public long BytesRead { get; private set; }

    /// <summary>The unpickled object: dicts, lists, tuples, strings, numbers and <see cref="TensorRef"/>s.</summary>
    public object? Root { get; }

    public static TorchArchive Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(full);
        }
        catch (InvalidDataException e)
        {
            throw new IJepaCheckpointException(full, $"not a torch.save zip archive (truncated or corrupt, or the pre-1.6 legacy format): {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IJepaCheckpointException(full, $"cannot open the checkpoint: {e.Message}", e);
        }
        try
        {
            ZipArchiveEntry[] pickles = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToArray();
            if (pickles.Length != 1)
            {
                throw new IJepaCheckpointException(full, $"expected one ARCHIVE/data.pkl in the zip, found {pickles.Length}: not a torch.save archive");
            }
            ZipArchiveEntry entry = pickles[0];
            if (entry.Length > MaxPickleBytes)
            {
                throw new IJepaCheckpointException(full, $"data.pkl is {entry.Length:N0} bytes, more than a checkpoint's pickle needs");
            }
            string prefix = entry.FullName[..^"data.pkl".Length];
            byte[] pickle = ReadAll(entry, full);
            var archive = new TorchArchive(full, zip, prefix, null);
            object? root = PickleReader.Load(pickle, full, IsAllowed, archive.Reduce, archive.PersistentLoad);
            return new TorchArchive(full, zip, prefix, root);
        }
        catch (InvalidDataException e)
        {
            // The central directory is read lazily, so a corrupt one shows up here.
            zip.Dispose();
            throw new IJepaCheckpointException(full, $"corrupt zip archive: {e.Message}", e);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    private static bool IsAllowed(PickleGlobal g) => (g.Module, g.Name) switch
    {
        ("collections", "OrderedDict") => true,
        ("torch._utils", "_rebuild_tensor_v2") => true,
        ("torch._utils", "_rebuild_parameter") => true,
        ("torch", var storage) => StorageTypes.ContainsKey(storage),
        _ => false,
    };

    private object? Reduce(PickleGlobal global, object?[] args)
    {
        switch (global.Name)
        {
            case "OrderedDict" when args.Length == 0:
                return new Dictionary<object, object?>();
            case "_rebuild_tensor_v2" when args.Length is 6 or 7 && args[0] is StorageRef storage && args[1] is long offset
                && args[2] is object?[] size && args[3] is object?[] stride && size.Length == stride.Length:
                {
                    long[] shape = size.Select(s => s is long v && v >= 0 ? v : throw Malformed("a tensor size is not a non-negative integer")).ToArray();
                    long[] strides = stride.Select(s => s is long v && v >= 0 ? v : throw Malformed("a tensor stride is not a non-negative integer")).ToArray();
                    var tensor = new TensorRef(storage, offset, shape, strides);
                    long last = offset + shape.Select((n, i) => n == 0 ? 0 : (n - 1) * strides[i]).Sum();
                    if (offset < 0 || (tensor.Elements > 0 && last >= storage.Elements))
                    {
                        throw Malformed($"a tensor {tensor.ShapeText} reaches past its storage of {storage.Elements} elements");
                    }
                    return tensor;
                }
            case "_rebuild_parameter" when args.Length >= 1 && args[0] is TensorRef parameter:
                return parameter;
            default:
                throw Malformed($"unexpected call {global}({args.Length} arguments)");
        }
    }

    private object? PersistentLoad(object? id)
    {
        if (id is not object?[] { Length: 5 } t || t[0] is not "storage" || t[1] is not PickleGlobal type || t[2] is not string key || t[4] is not long elements)
        {
            throw Malformed("a persistent id that is not ('storage', type, key, location, size)");
        }
        if (!StorageTypes.TryGetValue(type.Name, out ScalarType dtype))
        {
            throw Malformed($"unknown storage type {type}");
        }
        ZipArchiveEntry? entry = _zip.GetEntry(_prefix + "data/" + key);
        if (entry is null)
        {
            throw new IJepaCheckpointException(Path, $"storage '{key}' is missing from the archive (truncated or incomplete file)");
        }
        long bytes = elements * ElementSize(dtype);
        if (elements < 0 || entry.Length < bytes)
        {
            throw new IJepaCheckpointException(Path, $"storage '{key}' holds {entry.Length:N0} bytes, fewer than its {elements:N0} elements of {dtype} need");
        }
        return new StorageRef(key, dtype, elements);
    }

    /// <summary>Reads <paramref name="source"/> into <paramref name="destination"/> (same element count; dtype converted if needed).</summary>
    public void ReadInto(TensorRef source, Tensor destination)
    {
        ZipArchiveEntry entry = _zip.GetEntry(_prefix + "data/" + source.Storage.Key)!;
        int size = ElementSize(source.Storage.DType);
        try
        {
            using Stream stream = entry.Open();
            if (source.IsContiguous && destination.is_contiguous() && destination.device_type == TorchSharp.DeviceType.CPU && destination.dtype == source.Storage.DType)
            {
                Skip(stream, source.Offset * size);
                stream.ReadExactly(destination.bytes);
                BytesRead += destination.bytes.Length;
                return;
            }
            // Strided or converted: the whole storage through one staging tensor.
            using Tensor storage = empty([source.Storage.Elements], source.Storage.DType);
            stream.ReadExactly(storage.bytes);
            BytesRead += storage.bytes.Length;
            using Tensor view = storage.as_strided(source.Shape, source.Stride, source.Offset);
            using (no_grad())
            {
                destination.copy_(view.reshape(destination.shape));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException and not IJepaCheckpointException)
        {
            throw new IJepaCheckpointException(Path, $"cannot read storage '{source.Storage.Key}': {e.Message} (truncated or corrupt file)", e);
        }
    }

    public void Dispose() => _zip.Dispose();

    /// <summary>Bytes per element of a storage type.</summary>
    internal static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    private static void Skip(Stream stream, long bytes)
    {
        byte[] buffer = new byte[Math.Min(bytes, 1 << 16)];
        while (bytes > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(bytes, buffer.Length));
            if (read == 0)
            {
                throw new EndOfStreamException();
            }
            bytes -= read;
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, string path)
    {
        try
        {
            using Stream stream = entry.Open();
            byte[] data = new byte[entry.Length];
            stream.ReadExactly(data);
            return data;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new IJepaCheckpointException(path, $"cannot read {entry.FullName}: {e.Message} (truncated or corrupt file)", e);
        }
    }

    private IJepaCheckpointException Malformed(string problem) => new(Path, $"malformed checkpoint: {problem}");
}
