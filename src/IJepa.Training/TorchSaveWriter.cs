using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace IJepa.Training;

/// <summary>An ordered dict (<c>collections.OrderedDict</c>), as state dicts are pickled.</summary>
internal sealed class PickleOrderedDict : List<KeyValuePair<string, object?>>
{
}

/// <summary>
/// Writes what <c>torch.save</c> writes (the zip format of PyTorch ≥ 1.6): ARCHIVE/data.pkl, a protocol-2
/// pickle whose tensors are <c>torch._utils._rebuild_tensor_v2</c> calls on persistent storage ids,
/// ARCHIVE/data/N holding each storage's raw little-endian bytes, and ARCHIVE/version. Values are null,
/// bool, int, long, double, string, object?[] (tuple), List&lt;object?&gt; (list), Dictionary&lt;object, object?&gt;
/// (dict), <see cref="PickleOrderedDict"/> and CPU tensors (written contiguous, one storage each).
/// </summary>
internal sealed class TorchSaveWriter
{
    private const string ArchiveName = "archive";
    private readonly MemoryStream _pickle = new();
    private readonly List<Tensor> _storages = [];

    /// <summary>Pickles <paramref name="root"/> and writes the archive to <paramref name="path"/> (through a temporary file, so a crash never leaves half a checkpoint).</summary>
    public static void Save(string path, object? root)
    {
        var writer = new TorchSaveWriter();
        try
        {
            writer._pickle.Write([0x80, 2]); // PROTO 2
            writer.Write(root);
            writer._pickle.WriteByte((byte)'.');
            string temporary = path + ".tmp";
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            {
                using var zip = new ZipArchive(file, ZipArchiveMode.Create);
                Add(zip, $"{ArchiveName}/data.pkl", writer._pickle.ToArray());
                for (int i = 0; i < writer._storages.Count; i++)
                {
                    Add(zip, $"{ArchiveName}/data/{i}", writer._storages[i].bytes.ToArray());
                }
                Add(zip, $"{ArchiveName}/version", "3\n"u8.ToArray());
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            foreach (Tensor storage in writer._storages)
            {
                storage.Dispose();
            }
        }
    }

    private static void Add(ZipArchive zip, string name, byte[] data)
    {
        // Stored, not deflated: torch's reader reads either, and stored entries can be mapped in place.
        ZipArchiveEntry entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using Stream stream = entry.Open();
        stream.Write(data);
    }

    private void Write(object? value)
    {
        switch (value)
        {
            case null:
                _pickle.WriteByte((byte)'N');
                break;
            case bool b:
                _pickle.WriteByte(b ? (byte)0x88 : (byte)0x89);
                break;
            case int i:
                WriteInt(i);
                break;
            case long l:
                WriteInt(l);
                break;
            case double d:
                {
                    Span<byte> bytes = stackalloc byte[8];
                    BinaryPrimitives.WriteDoubleBigEndian(bytes, d);
                    _pickle.WriteByte((byte)'G');
                    _pickle.Write(bytes);
                    break;
                }
            case string s:
                WriteString(s);
                break;
            case object?[] tuple:
                _pickle.WriteByte((byte)'(');
                foreach (object? item in tuple)
                {
                    Write(item);
                }
                _pickle.WriteByte((byte)'t');
                break;
            case List<object?> list:
                _pickle.WriteByte((byte)']');
                if (list.Count > 0)
                {
                    _pickle.WriteByte((byte)'(');
                    foreach (object? item in list)
                    {
                        Write(item);
                    }
                    _pickle.WriteByte((byte)'e');
                }
                break;
            case PickleOrderedDict ordered:
                WriteGlobal("collections", "OrderedDict");
                _pickle.WriteByte((byte)')');
                _pickle.WriteByte((byte)'R');
                WriteItems(ordered.Select(kv => new KeyValuePair<object, object?>(kv.Key, kv.Value)).ToList());
                break;
            case Dictionary<object, object?> dict:
                _pickle.WriteByte((byte)'}');
                WriteItems([.. dict]);
                break;
            case Tensor tensor:
                WriteTensor(tensor);
                break;
            default:
                throw new ArgumentException($"cannot pickle a {value.GetType().Name}");
        }
    }

    private void WriteItems(List<KeyValuePair<object, object?>> items)
    {
        if (items.Count == 0)
        {
            return;
        }
        _pickle.WriteByte((byte)'(');
        foreach ((object key, object? item) in items)
        {
            Write(key);
            Write(item);
        }
        _pickle.WriteByte((byte)'u');
    }

    private void WriteTensor(Tensor tensor)
    {
        string storageType = tensor.dtype switch
        {
            ScalarType.Float32 => "FloatStorage",
            ScalarType.Float64 => "DoubleStorage",
            ScalarType.BFloat16 => "BFloat16Storage",
            ScalarType.Float16 => "HalfStorage",
            ScalarType.Int64 => "LongStorage",
            ScalarType.Int32 => "IntStorage",
            _ => throw new ArgumentException($"cannot save a {tensor.dtype} tensor"),
        };
        Tensor storage;
        using (no_grad())
        {
            storage = tensor.detach().to(CPU).contiguous().clone();
        }
        int key = _storages.Count;
        _storages.Add(storage);
        long[] shape = tensor.shape;
        var stride = new long[shape.Length];
        long step = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = step;
            step *= shape[i];
        }
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        _pickle.WriteByte((byte)'(');
        _pickle.WriteByte((byte)'(');
        WriteString("storage");
        WriteGlobal("torch", storageType);
        WriteString(key.ToString(System.Globalization.CultureInfo.InvariantCulture));
        WriteString("cpu");
        WriteInt(storage.numel());
        _pickle.WriteByte((byte)'t');
        _pickle.WriteByte((byte)'Q'); // BINPERSID
        WriteInt(0);
        Write(shape.Select(s => (object?)s).ToArray());
        Write(stride.Select(s => (object?)s).ToArray());
        _pickle.WriteByte(0x89); // requires_grad False
        WriteGlobal("collections", "OrderedDict");
        _pickle.WriteByte((byte)')');
        _pickle.WriteByte((byte)'R');
        _pickle.WriteByte((byte)'t');
        _pickle.WriteByte((byte)'R');
    }

    private void WriteGlobal(string module, string name)
    {
        _pickle.WriteByte((byte)'c');
        _pickle.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private void WriteString(string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        _pickle.WriteByte((byte)'X');
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
        _pickle.Write(length);
        _pickle.Write(bytes);
    }

    private void WriteInt(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            _pickle.WriteByte((byte)'J');
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            _pickle.Write(bytes[..4]);
            return;
        }
        _pickle.WriteByte(0x8A); // LONG1, 8 bytes two's complement little-endian
        _pickle.WriteByte(8);
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        _pickle.Write(bytes);
    }
}
