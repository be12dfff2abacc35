using System.Text;
using DuckDB.NET.Data;
using IJepa.Parquet;

namespace IJepa.Tests;

/// <summary>The Parquet writer, the resumable shard output and sharding, read back with DuckDB as users read them.</summary>
public class ParquetTests
{
    private static EmbeddingParquetOptions Options(int dimension = 8, int tokens = 0, int rowGroupRows = 3) =>
        new() { Dimension = dimension, PatchTokens = tokens, ModelId = "test/model", Revision = "abc123", RowGroupRows = rowGroupRows };

    private static EmbeddingRecord Row(int i, int dimension = 8, int tokens = 0) => new(
        $"dir/img{i:D4}.png", 100 + i, new string('a', 63) + (i % 10), i % 3 == 0 ? null : 16 + i, i % 3 == 0 ? null : 9,
        [.. Enumerable.Range(0, dimension).Select(d => i + (d / 10f))],
        tokens == 0 ? null : [.. Enumerable.Range(0, tokens * dimension).Select(d => -i - (d / 100f))]);

    internal static List<object?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using DuckDBCommand command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Rows 0–9 with 4 patch tokens each, in groups of 3, written to e.parquet in the folder.</summary>
    private static string WriteTenRows(TempFolder folder)
    {
        string file = folder.File("e.parquet");
        using EmbeddingParquetWriter writer = EmbeddingParquetWriter.Create(file, Options(tokens: 4));
        for (int i = 0; i < 10; i++)
        {
            writer.Write(Row(i, tokens: 4));
        }
        writer.Close();
        return file;
    }

    [Fact]
    public void Writer_output_reads_back_in_DuckDB_with_fixed_size_arrays_and_row_groups()
    {
        using TempFolder folder = TestData.NewFolder();
        string file = WriteTenRows(folder);
        string source = $"read_parquet('{file}')";
        // Parquet has no fixed-size list: DuckDB sees lists (cast to FLOAT[n] for array functions); the stored
        // Arrow schema gives pyarrow its fixed_size_list back.
        object?[] types = Query($"SELECT typeof(path), typeof(size), typeof(width), typeof(pooled::FLOAT[8]), typeof(patches::FLOAT[8][4]) FROM {source} LIMIT 1")[0];
        Assert.Equal(["VARCHAR", "BIGINT", "INTEGER", "FLOAT[8]", "FLOAT[8][4]"], types);
        Assert.Single(Query($"SELECT key FROM parquet_kv_metadata('{file}') WHERE decode(key) = 'ARROW:schema'"));
        List<object?[]> rows = Query($"SELECT path, size, sha256, width, height, model, revision, pooled, patches FROM {source} ORDER BY path");
        Assert.Equal(10, rows.Count);
        for (int i = 0; i < 10; i++)
        {
            EmbeddingRecord expected = Row(i, tokens: 4);
            Assert.Equal(expected.Path, rows[i][0]);
            Assert.Equal(expected.Size, rows[i][1]);
            Assert.Equal(expected.Sha256, rows[i][2]);
            Assert.Equal(expected.Width, (int?)rows[i][3]);
            Assert.Equal(expected.Height, (int?)rows[i][4]);
            Assert.Equal("test/model", rows[i][5]);
            Assert.Equal("abc123", rows[i][6]);
            Assert.Equal(expected.Pooled, ((System.Collections.IEnumerable)rows[i][7]!).Cast<float>());
            Assert.Equal(expected.Patches!, ((System.Collections.IEnumerable)rows[i][8]!).Cast<System.Collections.IEnumerable>().SelectMany(t => t.Cast<float>()));
        }
        // 10 rows in groups of 3: memory holds one group, not the file.
        Assert.Equal(4L, Convert.ToInt64(Query($"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{file}')")[0][0], System.Globalization.CultureInfo.InvariantCulture));
        // The float vectors are written plain, without dictionaries or min/max statistics (cost, no benefit); the
        // repeated model id keeps its dictionary.
        List<object?[]> chunks = Query($"SELECT DISTINCT path_in_schema, encodings, stats_min IS NULL FROM parquet_metadata('{file}') ORDER BY 1");
        foreach (object?[] chunk in chunks.Where(c => ((string)c[0]!).StartsWith("p", StringComparison.Ordinal) && ((string)c[0]!).EndsWith("element", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain("DICTIONARY", (string)chunk[1]!, StringComparison.Ordinal);
            Assert.True((bool)chunk[2]!, $"{chunk[0]} has statistics");
        }
        Assert.Equal(2, chunks.Count(c => ((string)c[0]!).EndsWith("element", StringComparison.Ordinal)));
        Assert.Contains("DICTIONARY", (string)chunks.Single(c => (string)c[0]! == "model")[1]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writer_output_reads_back_in_Parquet_Net_an_independent_managed_reader()
    {
        // DuckDB is one reader; pyarrow shares our writer's code (Arrow C++), and Spark is not installed here.
        // Parquet.Net decodes Parquet with none of either's code: the standard three-level lists, the optional
        // ints and the plain float pages must come back as written.
        using TempFolder folder = TestData.NewFolder();
        string file = WriteTenRows(folder);
        global::Parquet.Serialization.DeserializationResult<ParquetNetRow> read = await global::Parquet.Serialization.ParquetSerializer.DeserializeAsync<ParquetNetRow>(file);
        Assert.Equal(["path", "size", "sha256", "width", "height", "model", "revision", "pooled", "patches"], read.Schema.Fields.Select(f => f.Name));
        IList<ParquetNetRow> rows = read.Data;
        Assert.Equal(10, rows.Count);
        for (int i = 0; i < 10; i++)
        {
            EmbeddingRecord expected = Row(i, tokens: 4);
            ParquetNetRow row = rows.Single(r => r.Path == expected.Path);
            Assert.Equal((expected.Size, expected.Sha256, expected.Width, expected.Height), (row.Size, row.Sha256, row.Width, row.Height));
            Assert.Equal(("test/model", "abc123"), (row.Model, row.Revision));
            Assert.Equal(expected.Pooled, row.Pooled);
            Assert.Equal(4, row.Patches!.Count);
            Assert.All(row.Patches, token => Assert.Equal(8, token.Count));
            Assert.Equal(expected.Patches!, row.Patches.SelectMany(t => t));
        }
    }

    /// <summary>One row as Parquet.Net's serializer maps it, by column name.</summary>
    public sealed class ParquetNetRow
    {
        [System.Text.Json.Serialization.JsonPropertyName("path")]
        [global::Parquet.Serialization.Attributes.ParquetRequired]
        public string? Path { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("size")]
        public long Size { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("sha256")]
        [global::Parquet.Serialization.Attributes.ParquetRequired]
        public string? Sha256 { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("width")]
        public int? Width { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("height")]
        public int? Height { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("model")]
        [global::Parquet.Serialization.Attributes.ParquetRequired]
        public string? Model { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("revision")]
        public string? Revision { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("pooled")]
        [global::Parquet.Serialization.Attributes.ParquetRequired]
        [global::Parquet.Serialization.Attributes.ParquetListElementRequired]
        public List<float>? Pooled { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("patches")]
        [global::Parquet.Serialization.Attributes.ParquetRequired]
        [global::Parquet.Serialization.Attributes.ParquetListElementRequired]
        public List<List<float>>? Patches { get; set; }
    }

    [Fact]
    public void Writer_refuses_a_row_of_the_wrong_dimension()
    {
        using TempFolder folder = TestData.NewFolder();
        using EmbeddingParquetWriter writer = EmbeddingParquetWriter.Create(folder.File("e.parquet"), Options());
        var e = Assert.Throws<ArgumentException>(() => writer.Write(Row(1, dimension: 7)));
        Assert.Contains("dir/img0001.png", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shard_assignment_depends_on_the_key_alone_and_moves_few_keys_when_a_shard_is_added()
    {
        string[] keys = [.. Enumerable.Range(0, 4000).Select(i => $"photos/{i % 37}/img{i}.jpg")];
        int[] four = [.. keys.Select(k => Shard.Assign(k, 4))];
        // Stable across runs and machines: SHA-256 and jump hash only (fixed values checked in).
        Assert.Equal([0, 2, 0, 3, 1], keys.Take(5).Select(k => Shard.Assign(k, 4)));
        int[] counts = [.. Enumerable.Range(0, 4).Select(s => four.Count(x => x == s))];
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        int moved = keys.Select(k => Shard.Assign(k, 5)).Zip(four).Count(p => p.First != p.Second);
        Assert.InRange(moved, 600, 1000); // about 1/5 of 4000
        Assert.All(keys, k => Assert.Single(Enumerable.Range(0, 4), s => new Shard(s, 4).Owns(k)));
    }

    [Theory]
    [InlineData("2/8", null, null, null, null, 2, 8)]
    [InlineData("auto", null, "5", "4", "4", 1, 4)]
    [InlineData("auto", null, "3", null, "7", 3, 7)]
    [InlineData("auto/6", "5", null, null, null, 5, 6)]
    [InlineData("auto/6", null, "2", null, null, 2, 6)]
    public void Shard_comes_from_the_command_line_or_the_scheduler(string spec, string? k8s, string? slurmId, string? slurmMin, string? slurmCount, int index, int count)
    {
        var environment = new Dictionary<string, string?>
        {
            ["JOB_COMPLETION_INDEX"] = k8s,
            ["SLURM_ARRAY_TASK_ID"] = slurmId,
            ["SLURM_ARRAY_TASK_MIN"] = slurmMin,
            ["SLURM_ARRAY_TASK_COUNT"] = slurmCount,
        };
        Assert.Equal(new Shard(index, count), Shard.Parse(spec, n => environment.GetValueOrDefault(n)));
    }

    [Theory]
    [InlineData("4/4", "not in 0..3")]
    [InlineData("x/4", "not a non-negative whole number")]
    [InlineData("auto", "not a Slurm job array")]
    [InlineData("auto/4", "neither JOB_COMPLETION_INDEX")]
    [InlineData("1/2/3", "expected i/N")]
    public void A_bad_shard_says_what_is_wrong(string spec, string message)
    {
        var e = Assert.Throws<FormatException>(() => Shard.Parse(spec, _ => null));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_resumes_committed_parts_and_drops_the_part_in_flight()
    {
        using TempFolder folder = TestData.NewFolder();
        string dataset = folder.File("e.parquet");
        var shard = new Shard(1, 3);
        using (ShardedParquetOutput output = ShardedParquetOutput.Open(dataset, shard, Options(), "s", partRows: 4))
        {
            for (int i = 0; i < 10; i++)
            {
                output.Add(Row(i));
            }
            output.AddFailure("bad.png", "cannot decode");
            // Disposed without Complete, as a crash would leave it: rows 8 and 9 are in flight.
        }
        Assert.Equal(2, Directory.GetFiles(dataset, "part-1-of-3-*.parquet").Length);
        Assert.Empty(Directory.GetFiles(dataset, ".part-*"));
        Assert.False(File.Exists(Path.Combine(dataset, "_SUCCESS-1-of-3.json")));
        // A torn last line, as a kill during an append leaves it.
        File.AppendAllText(Path.Combine(dataset, "_manifest-1-of-3.jsonl"), "{\"sequence\":9,\"part\":\"part-1-of-3-0000");
        using (ShardedParquetOutput output = ShardedParquetOutput.Open(dataset, shard, Options(), "s", partRows: 4))
        {
            Assert.Equal(Enumerable.Range(0, 8).Select(i => Row(i).Path).Order(), output.Done.Order());
            Assert.Equal(8, output.CommittedRows);
            for (int i = 8; i < 12; i++)
            {
                output.Add(Row(i));
            }
            output.AddFailure("bad.png", "cannot decode");
            output.Complete();
            Assert.Equal("cannot decode", output.Failed["bad.png"]);
        }
        List<object?[]> rows = Query($"SELECT path FROM read_parquet('{dataset}/*.parquet') ORDER BY path");
        Assert.Equal(Enumerable.Range(0, 12).Select(i => Row(i).Path), rows.Select(r => (string)r[0]!));
        string success = File.ReadAllText(Path.Combine(dataset, "_SUCCESS-1-of-3.json"));
        Assert.Contains("\"rows\":12", success, StringComparison.Ordinal);
        Assert.Contains("bad.png", success, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_refuses_a_manifest_of_another_command_and_a_shard_held_by_another_writer()
    {
        using TempFolder folder = TestData.NewFolder();
        string dataset = folder.File("e.parquet");
        using (ShardedParquetOutput first = ShardedParquetOutput.Open(dataset, Shard.All, Options(), "dtype=Float32"))
        {
            var held = Assert.Throws<IJepaParquetException>(() => ShardedParquetOutput.Open(dataset, Shard.All, Options(), "dtype=Float32"));
            Assert.Contains("_lock-0-of-1", held.Message, StringComparison.Ordinal);
            Assert.Contains("another process", held.Message, StringComparison.Ordinal);
        }
        var other = Assert.Throws<IJepaParquetException>(() => ShardedParquetOutput.Open(dataset, Shard.All, Options(), "dtype=BFloat16"));
        Assert.Contains("_manifest-0-of-1.jsonl", other.Message, StringComparison.Ordinal);
        Assert.Contains("different command", other.Message, StringComparison.Ordinal);
        using ShardedParquetOutput restarted = ShardedParquetOutput.Open(dataset, Shard.All, Options(), "dtype=BFloat16", restart: true);
        Assert.Empty(restarted.Done);
    }
}
