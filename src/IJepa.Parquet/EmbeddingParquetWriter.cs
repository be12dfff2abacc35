using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using ParquetSharp;
using ArrowFileWriter = ParquetSharp.Arrow.FileWriter;

namespace IJepa.Parquet;

/// <summary>
/// Writes embeddings to one Parquet file, one row per image, a row group at a time so that memory does not grow
/// with the number of rows. Columns: <c>path</c>, <c>size</c>, <c>sha256</c>, <c>width</c>, <c>height</c>,
/// <c>model</c>, <c>revision</c>, <c>pooled</c> (fixed-size list of float32) and, with patches, <c>patches</c>
/// (fixed-size list of tokens, each a fixed-size list of float32).
/// </summary>
/// <remarks>
/// The file is written in place and is only a valid Parquet file once <see cref="Close"/> has written its footer;
/// <see cref="ShardedParquetOutput"/> adds temporary names, renames and a manifest for runs that may crash.
/// Not thread-safe.
/// </remarks>
public sealed class EmbeddingParquetWriter : IDisposable
{
    private readonly EmbeddingParquetOptions _options;
    private readonly Schema _schema;
    private readonly ArrowFileWriter _writer;
    private readonly List<EmbeddingRecord> _pending = [];
    private bool _closed;

    private EmbeddingParquetWriter(string path, EmbeddingParquetOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Dimension, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.PatchTokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RowGroupRows, 1);
        _options = options;
        _schema = CreateSchema(options);
        // Snappy: embeddings barely compress, and it is the codec every reader has. Dictionary encoding and min/max
        // statistics are left to the columns where they help (model, revision; sizes): on float vectors and unique
        // strings the writer would hash every value only to fall back to plain, which made writing patches cost
        // 13–20 % of a small model's run.
        using WriterPropertiesBuilder builder = new WriterPropertiesBuilder().Compression(Compression.Snappy);
        foreach (string column in VectorColumns(options))
        {
            builder.DisableDictionary(column).DisableStatistics(column);
        }
        using WriterProperties properties = builder.DisableDictionary("path").DisableDictionary("sha256").Build();
        // The stored Arrow schema lets pyarrow read pooled back as fixed_size_list rather than list.
        using ParquetSharp.Arrow.ArrowWriterProperties arrowProperties = new ParquetSharp.Arrow.ArrowWriterPropertiesBuilder().StoreSchema().Build();
        _writer = new ArrowFileWriter(path, _schema, properties, arrowProperties);
        Path = path;
    }

    /// <summary>The file being written.</summary>
    public string Path { get; }

    /// <summary>Rows accepted so far (written or waiting for their row group).</summary>
    public long Rows { get; private set; }

    /// <summary>Creates (or replaces) <paramref name="path"/>.</summary>
    /// <exception cref="IOException">The file cannot be created.</exception>
    public static EmbeddingParquetWriter Create(string path, EmbeddingParquetOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            return new EmbeddingParquetWriter(path, options);
        }
        catch (ParquetException e)
        {
            throw new IOException($"cannot write {System.IO.Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    /// <summary>Adds a row; every <see cref="EmbeddingParquetOptions.RowGroupRows"/> rows are written as a row group.</summary>
    /// <exception cref="ArgumentException">The embedding's length does not match the options.</exception>
    public void Write(EmbeddingRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ObjectDisposedException.ThrowIf(_closed, this);
        if (record.Pooled.Length != _options.Dimension)
        {
            throw new ArgumentException($"{record.Path}: pooled has {record.Pooled.Length} values, the file holds {_options.Dimension}", nameof(record));
        }
        int patchValues = _options.PatchTokens * _options.Dimension;
        if (_options.PatchTokens > 0 && record.Patches?.Length != patchValues)
        {
            throw new ArgumentException($"{record.Path}: patches has {record.Patches?.Length ?? 0} values, the file holds {patchValues}", nameof(record));
        }
        _pending.Add(record);
        Rows++;
        if (_pending.Count >= _options.RowGroupRows)
        {
            Flush();
        }
    }

    /// <summary>Writes the rows waiting in memory as a row group (nothing when none wait).</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_pending.Count == 0)
        {
            return;
        }
        using RecordBatch batch = ToRecordBatch(_pending);
        try
        {
            _writer.WriteRecordBatch(batch, _pending.Count);
        }
        catch (ParquetException e)
        {
            throw new IOException($"cannot write {System.IO.Path.GetFullPath(Path)}: {e.Message}", e);
        }
        _pending.Clear();
    }

    /// <summary>Writes the remaining rows and the footer; only then is the file a readable Parquet file.</summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }
        Flush();
        try
        {
            _writer.Close();
        }
        catch (ParquetException e)
        {
            throw new IOException($"cannot write {System.IO.Path.GetFullPath(Path)}: {e.Message}", e);
        }
        _closed = true;
    }

    /// <summary>Releases the native writer; a writer not closed first leaves an unreadable file.</summary>
    public void Dispose()
    {
        _closed = true;
        _writer.Dispose();
    }

    internal static Schema CreateSchema(EmbeddingParquetOptions options)
    {
        var fields = new List<Field>
        {
            new("path", StringType.Default, nullable: false),
            new("size", Int64Type.Default, nullable: false),
            new("sha256", StringType.Default, nullable: false),
            new("width", Int32Type.Default, nullable: true),
            new("height", Int32Type.Default, nullable: true),
            new("model", StringType.Default, nullable: false),
            new("revision", StringType.Default, nullable: true),
            new("pooled", Vector(options.Dimension), nullable: false),
        };
        if (options.PatchTokens > 0)
        {
            fields.Add(new Field("patches", new FixedSizeListType(new Field("element", Vector(options.Dimension), false), options.PatchTokens), nullable: false));
        }
        var metadata = new Dictionary<string, string> { ["ijepa.model"] = options.ModelId };
        if (options.Revision is { } revision)
        {
            metadata["ijepa.revision"] = revision;
        }
        return new Schema(fields, metadata);
    }

    // Parquet column paths of the float values: Arrow writes a fixed-size list as a LIST group (list.element).
    private static IEnumerable<string> VectorColumns(EmbeddingParquetOptions options) =>
        options.PatchTokens > 0 ? ["pooled.list.element", "patches.list.element.list.element"] : ["pooled.list.element"];

    private static FixedSizeListType Vector(int dimension) =>
        new(new Field("element", FloatType.Default, nullable: false), dimension);

    private RecordBatch ToRecordBatch(List<EmbeddingRecord> rows)
    {
        int n = rows.Count;
        var path = new StringArray.Builder();
        var size = new Int64Array.Builder();
        var sha = new StringArray.Builder();
        var width = new Int32Array.Builder();
        var height = new Int32Array.Builder();
        var model = new StringArray.Builder();
        var revision = new StringArray.Builder();
        foreach (EmbeddingRecord row in rows)
        {
            path.Append(row.Path);
            size.Append(row.Size);
            sha.Append(row.Sha256);
            width.Append(row.Width);
            height.Append(row.Height);
            model.Append(_options.ModelId);
            if (_options.Revision is { } r)
            {
                revision.Append(r);
            }
            else
            {
                revision.AppendNull();
            }
        }
        var columns = new List<IArrowArray>
        {
            path.Build(), size.Build(), sha.Build(), width.Build(), height.Build(), model.Build(), revision.Build(),
            Vectors(rows.Select(r => r.Pooled), n, _options.Dimension, (FixedSizeListType)_schema.FieldsList[7].DataType),
        };
        if (_options.PatchTokens > 0)
        {
            var outer = (FixedSizeListType)_schema.FieldsList[8].DataType;
            FixedSizeListArray tokens = Vectors(rows.Select(r => r.Patches!), n * _options.PatchTokens, _options.Dimension, (FixedSizeListType)outer.ValueDataType);
            columns.Add(new FixedSizeListArray(outer, n, tokens, ArrowBuffer.Empty, nullCount: 0));
        }
        return new RecordBatch(_schema, columns, n);
    }

    // Copies the float arrays once into one Arrow buffer; the list array is a view of it in fixed-size slices.
    private static FixedSizeListArray Vectors(IEnumerable<float[]> parts, int lists, int width, FixedSizeListType type)
    {
        byte[] bytes = new byte[checked(lists * width * sizeof(float))];
        Span<float> values = MemoryMarshal.Cast<byte, float>(bytes.AsSpan());
        int at = 0;
        foreach (float[] part in parts)
        {
            part.CopyTo(values[at..]);
            at += part.Length;
        }
        var floats = new FloatArray(new ArrowBuffer(bytes), ArrowBuffer.Empty, lists * width, nullCount: 0, offset: 0);
        return new FixedSizeListArray(type, lists, floats, ArrowBuffer.Empty, nullCount: 0);
    }
}
