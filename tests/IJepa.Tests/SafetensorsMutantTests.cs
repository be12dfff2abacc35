using System.Text;
using System.Text.Json.Nodes;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Checkpoints (tests/mutants/Checkpoints.md),
/// reader and writer alone (no model is built, so mutation runs of the safetensors files can use this class alone):
/// the safetensors format as its specification states it (8-byte little-endian header length N, N bytes of JSON
/// header, optionally space-padded, then the data; offsets relative to the data, contiguous, covering it all),
/// checked at each boundary with the exact problem reported.
/// </summary>
public class SafetensorsMutantTests
{
    private static object Entry(string dtype, long[] shape, long begin, long end) =>
        new { dtype, shape, data_offsets = new[] { begin, end } };

    private static IReadOnlyList<string> Problems(string path)
    {
        var error = Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(Path.GetFullPath(path), error.Path);
        return error.Problems;
    }

    private static string Write(TempFolder folder, string json, int dataBytes)
    {
        string path = folder.File("t.safetensors");
        TestData.WriteRaw(path, TestData.Utf8(json), new byte[dataBytes]);
        return path;
    }

    private static string Write(TempFolder folder, object header, int dataBytes)
    {
        string path = folder.File("t.safetensors");
        TestData.WriteSafetensors(path, header, new byte[dataBytes]);
        return path;
    }

    [Fact]
    public void The_header_length_is_bounded_by_two_bytes_the_format_limit_and_the_file()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("t.safetensors");
        File.WriteAllBytes(path, new byte[7]);
        Assert.Equal(["not a safetensors file: 7 bytes, shorter than the 8-byte header length"], Problems(path));
        foreach (ulong length in new ulong[] { 0, 1 })
        {
            TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: length);
            Assert.Equal([$"header length {length} is outside 2..104857600 bytes (not a safetensors file, or a corrupt one)"], Problems(path));
        }
        TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: 100UL * 1024 * 1024 + 1);
        Assert.Equal(["header length 104857601 is outside 2..104857600 bytes (not a safetensors file, or a corrupt one)"], Problems(path));
        // At the limit the length is accepted and the file is then too short for it.
        TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: 100UL * 1024 * 1024);
        Assert.Equal(["header length 104857600 runs past the end of the 10-byte file (truncated?)"], Problems(path));
        // Exactly the 8 bytes of the length and nothing else: long enough to read the length, too short for any header.
        File.WriteAllBytes(path, BitConverter.GetBytes(2UL));
        Assert.Equal(["header length 2 runs past the end of the 8-byte file (truncated?)"], Problems(path));
        TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: 3);
        Assert.Equal(["header length 3 runs past the end of the 10-byte file (truncated?)"], Problems(path));
        // Exactly "{}" and nothing else: a valid file with no tensors.
        TestData.WriteRaw(path, TestData.Utf8("{}"), []);
        using SafetensorsFile empty = SafetensorsFile.Open(path);
        Assert.Empty(empty.Tensors);
        Assert.Empty(empty.Metadata);
        Assert.Equal(Path.GetFullPath(path), empty.Path);
    }

    [Fact]
    public void The_header_length_is_little_endian_and_the_header_may_be_space_padded()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("t.safetensors");
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   ";
        byte[] header = TestData.Utf8(json);
        byte[] file = new byte[8 + header.Length + 8];
        file[0] = (byte)(header.Length & 0xFF);
        file[1] = (byte)(header.Length >> 8);
        header.CopyTo(file, 8);
        BitConverter.GetBytes(1.25f).CopyTo(file, 8 + header.Length);
        BitConverter.GetBytes(-3f).CopyTo(file, 8 + header.Length + 4);
        File.WriteAllBytes(path, file);
        using SafetensorsFile reader = SafetensorsFile.Open(path);
        SafetensorsTensorInfo a = reader.Tensors["a"];
        Assert.Equal(8 + header.Length, a.FileOffset);
        Assert.Equal(8, a.ByteLength);
        Assert.Equal(SafetensorsDType.F32, a.DType);
        Assert.Equal([2L], a.Shape);
        Assert.Equal("[2]", a.ShapeText);
        byte[] bytes = new byte[8];
        reader.ReadInto(a, bytes);
        Assert.Equal([1.25f, -3f], [BitConverter.ToSingle(bytes, 0), BitConverter.ToSingle(bytes, 4)]);
    }

    [Fact]
    public void Json_problems_at_the_top_level()
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Equal(["the header is not a JSON object"], Problems(Write(folder, "[1, 2]", 0)));
        Assert.StartsWith("the header is not valid JSON: ", Assert.Single(Problems(Write(folder, "{\"a\": ", 0))), StringComparison.Ordinal);
        // Depth 8 is the most a header may nest (a shape of 6 nested arrays reaches it); 9 is refused by the parser.
        string Shape(int arrays) => new string('[', arrays) + "1" + new string(']', arrays);
        string Nested(int arrays) => "{\"a\":{\"dtype\":\"F32\",\"shape\":" + Shape(arrays) + ",\"data_offsets\":[0,4]}}";
        Assert.Equal(["'a': shape [[[[[[1]]]]]] has a dimension that is not a non-negative integer"], Problems(Write(folder, Nested(6), 4)));
        Assert.StartsWith("the header is not valid JSON: ", Assert.Single(Problems(Write(folder, Nested(7), 4))), StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_in_a_name_is_a_checkpoint_error()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("t.safetensors");
        byte[] json = [.. TestData.Utf8("{\""), 0xC3, 0x28, .. TestData.Utf8("\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")];
        TestData.WriteRaw(path, json, new byte[4]);
        var error = Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.True(error.Problems.Single().StartsWith("the header holds invalid text or a value of the wrong type: ", StringComparison.Ordinal)
            || error.Problems.Single().StartsWith("the header is not valid JSON: ", StringComparison.Ordinal), error.Message);
    }

    [Fact]
    public void Metadata_must_be_an_object_of_unique_strings()
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Equal(["'__metadata__' is not an object of strings"], Problems(Write(folder, "{\"__metadata__\": [\"pt\"]}", 0)));
        Assert.Equal(["'__metadata__.format' is not a string", "'__metadata__.n' is not a string"],
            Problems(Write(folder, "{\"__metadata__\": {\"format\": 1, \"ok\": \"x\", \"n\": null}}", 0)));
        Assert.Equal(["'__metadata__.format' appears more than once"], Problems(Write(folder, "{\"__metadata__\": {\"format\": \"pt\", \"format\": \"np\"}}", 0)));
        Assert.Equal(["'__metadata__': the name appears more than once in the header"],
            Problems(Write(folder, "{\"__metadata__\": {\"format\": \"pt\"}, \"__metadata__\": {}}", 0)));
        using SafetensorsFile ok = SafetensorsFile.Open(Write(folder, "{\"__metadata__\": {\"format\": \"pt\", \"b\": \"\"}}", 0));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["b"] = "" }, ok.Metadata);
        Assert.Empty(ok.Tensors);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"F32\"")]
    [InlineData("{\"shape\":[1],\"data_offsets\":[0,4]}")]
    [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1]}")]
    public void An_entry_needs_all_three_fields(string entry)
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Equal(["'a': the entry needs dtype, shape and data_offsets"], Problems(Write(folder, "{\"a\":" + entry + "}", 4)));
    }

    [Fact]
    public void Dtypes_are_the_four_floats_with_their_sizes()
    {
        using TempFolder folder = TestData.NewFolder();
        var header = new Dictionary<string, object>
        {
            ["h"] = Entry("F16", [3], 0, 6),
            ["b"] = Entry("BF16", [1], 6, 8),
            ["f"] = Entry("F32", [1], 8, 12),
            ["d"] = Entry("F64", [1], 12, 20),
        };
        using (SafetensorsFile file = SafetensorsFile.Open(Write(folder, header, 20)))
        {
            Assert.Equal(SafetensorsDType.F16, file.Tensors["h"].DType);
            Assert.Equal(SafetensorsDType.BF16, file.Tensors["b"].DType);
            Assert.Equal(SafetensorsDType.F32, file.Tensors["f"].DType);
            Assert.Equal(SafetensorsDType.F64, file.Tensors["d"].DType);
        }
        Assert.Equal([2, 2, 4, 8], new[] { SafetensorsDType.F16, SafetensorsDType.BF16, SafetensorsDType.F32, SafetensorsDType.F64 }.Select(d => d.ElementSize()));
        Assert.Equal([ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float32, ScalarType.Float64],
            new[] { SafetensorsDType.F16, SafetensorsDType.BF16, SafetensorsDType.F32, SafetensorsDType.F64 }.Select(d => d.ToScalarType()));
        Assert.Equal("BF16", SafetensorsDType.BF16.ToText());
        Assert.Throws<ArgumentOutOfRangeException>(() => ((SafetensorsDType)99).ElementSize());
        Assert.Throws<ArgumentOutOfRangeException>(() => ((SafetensorsDType)99).ToScalarType());
        Assert.False(SafetensorsDTypeExtensions.TryParse("f32", out _));
        Assert.Equal(["'a': unknown or unsupported dtype '32' (supported: F32, F16, BF16, F64)"],
            Problems(Write(folder, "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4)));
    }

    [Fact]
    public void Shapes_are_up_to_16_non_negative_integers()
    {
        using TempFolder folder = TestData.NewFolder();
        long[] sixteen = Enumerable.Repeat(1L, 16).ToArray();
        using (SafetensorsFile ok = SafetensorsFile.Open(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", sixteen, 0, 4) }, 4)))
        {
            Assert.Equal(16, ok.Tensors["a"].Shape.Length);
        }
        Assert.Equal(["'a': shape is not an array of at most 16 dimensions"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [.. sixteen, 1], 0, 4) }, 4)));
        Assert.Equal(["'a': shape is not an array of at most 16 dimensions"], Problems(Write(folder, "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4)));
        foreach (string bad in new[] { "[1.5]", "[\"1\"]", "[-1]", "[1,-2]", "[99999999999999999999]" })
        {
            Assert.Equal([$"'a': shape {bad} has a dimension that is not a non-negative integer"],
                Problems(Write(folder, "{\"a\":{\"dtype\":\"F32\",\"shape\":" + bad + ",\"data_offsets\":[0,4]}}", 4)));
        }
        // A scalar (shape []) holds one element; a zero dimension none.
        using SafetensorsFile scalar = SafetensorsFile.Open(Write(folder, "{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[8,8]}}", 8));
        Assert.Equal(8, scalar.Tensors["s"].ByteLength);
        Assert.Equal(0, scalar.Tensors["z"].ByteLength);
        Assert.Equal([3L, 0], scalar.Tensors["z"].Shape);
    }

    [Fact]
    public void Element_and_byte_counts_that_overflow_are_reported()
    {
        using TempFolder folder = TestData.NewFolder();
        const long Big = 1L << 32;
        Assert.Equal([$"'a': shape [{Big},{Big}] overflows"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [Big, Big], 0, 4) }, 4)));
        // 2^62 elements fit in a long; their 2^64 bytes do not.
        Assert.Equal([$"'a': shape [{1L << 62}] overflows"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [1L << 62], 0, 4) }, 4)));
        Assert.Equal([$"'a': 4 bytes of data, but F16 [{1L << 61}] needs {1L << 62}"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F16", [1L << 61], 0, 4) }, 4)));
    }

    [Theory]
    [InlineData("4")]
    [InlineData("[0]")]
    [InlineData("[0,4,8]")]
    [InlineData("[0.5,4]")]
    [InlineData("[-4,0]")]
    [InlineData("[4,0]")]
    public void Data_offsets_are_a_pair_of_ordered_non_negative_integers(string offsets)
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Equal([$"'a': data_offsets {offsets} is not a pair [begin, end] with 0 <= begin <= end"],
            Problems(Write(folder, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", 4)));
    }

    [Fact]
    public void Offsets_and_sizes_at_the_end_of_the_data()
    {
        using TempFolder folder = TestData.NewFolder();
        Assert.Equal(["'a': data_offsets [0,12] run past the end of the data (8 bytes; truncated file?)"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [3], 0, 12) }, 8)));
        Assert.Equal(["'a': 8 bytes of data, but F32 [3] needs 12"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [3], 0, 8) }, 8)));
        Assert.Equal(["'a': 16 bytes of data, but F32 [3] needs 12"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [3], 0, 16) }, 16)));
        // The size is end - begin, wherever the tensor starts.
        Assert.Equal(["'b': 8 bytes of data, but F32 [3] needs 12"],
            Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [1], 0, 4), ["b"] = Entry("F32", [3], 4, 12) }, 12)));
        using SafetensorsFile ok = SafetensorsFile.Open(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [3], 0, 12) }, 12));
        Assert.Equal(12, ok.Tensors["a"].ByteLength);
    }

    [Fact]
    public void The_data_is_covered_exactly_in_any_header_order()
    {
        using TempFolder folder = TestData.NewFolder();
        // Listed out of order, with a zero-size tensor at the same offset as another: all fine.
        var shuffled = new Dictionary<string, object>
        {
            ["c"] = Entry("F32", [1], 8, 12),
            ["b"] = Entry("F32", [1], 4, 8),
            ["a"] = Entry("F32", [1], 0, 4),
            ["z"] = Entry("F32", [0], 4, 4),
        };
        using (SafetensorsFile ok = SafetensorsFile.Open(Write(folder, shuffled, 12)))
        {
            Assert.Equal(["a", "b", "c", "z"], ok.Tensors.Keys.Order(StringComparer.Ordinal));
        }
        // A tensor inside another, then one right after the outer one: one overlap, no gap.
        Assert.Equal(["'b': data [4,8] overlaps 'a'"], Problems(Write(folder, new Dictionary<string, object>
        {
            ["a"] = Entry("F32", [4], 0, 16),
            ["b"] = Entry("F32", [1], 4, 8),
            ["c"] = Entry("F32", [1], 16, 20),
        }, 20)));
        Assert.Equal(["'b': a gap of 4 bytes precedes its data at 8", "'c': a gap of 8 bytes precedes its data at 20"], Problems(Write(folder, new Dictionary<string, object>
        {
            ["a"] = Entry("F32", [1], 0, 4),
            ["b"] = Entry("F32", [1], 8, 12),
            ["c"] = Entry("F32", [1], 20, 24),
        }, 24)));
        Assert.Equal(["'a': a gap of 4 bytes precedes its data at 4"], Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [1], 4, 8) }, 8)));
        Assert.Equal(["4 bytes after the last tensor belong to no tensor"], Problems(Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [1], 0, 4) }, 8)));
        Assert.Equal(["8 bytes after the last tensor belong to no tensor"], Problems(Write(folder, "{}", 8)));
    }

    [Fact]
    public void Every_problem_of_every_entry_is_listed_once()
    {
        using TempFolder folder = TestData.NewFolder();
        var error = Problems(Write(folder, "{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"c\":[],\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"d\":1}", 8));
        Assert.Equal(["'a': unknown or unsupported dtype 'I8' (supported: F32, F16, BF16, F64)", "'c': the entry needs dtype, shape and data_offsets", "'d': the name appears more than once in the header"], error);
    }

    [Fact]
    public void Values_of_the_wrong_json_kind_are_checkpoint_errors()
    {
        using TempFolder folder = TestData.NewFolder();
        var problems = Problems(Write(folder, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},4]}}", 4));
        Assert.Equal(["'a': an entry holds a JSON value of the wrong type: {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},4]}"], problems);
        Assert.Equal(["'a': an entry holds a JSON value of the wrong type: {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}"],
            Problems(Write(folder, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4)));
        string longEntry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},4],\"pad\":\"" + new string('x', 60) + "\"}";
        string shown = Assert.Single(Problems(Write(folder, "{\"a\":" + longEntry + "}", 4)));
        Assert.Equal("'a': an entry holds a JSON value of the wrong type: " + longEntry[..80] + "…", shown);
        // Exactly 80 characters are shown whole.
        string entry80 = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{},4],\"pad\":\"" + new string('x', 80 - 58) + "\"}";
        Assert.Equal(80, entry80.Length);
        Assert.Equal("'a': an entry holds a JSON value of the wrong type: " + entry80, Assert.Single(Problems(Write(folder, "{\"a\":" + entry80 + "}", 4))));
    }

    [Fact]
    public void ReadInto_wants_a_buffer_of_the_tensors_size_and_reports_a_file_cut_short_later()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Write(folder, new Dictionary<string, object> { ["a"] = Entry("F32", [2], 0, 8) }, 8);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        SafetensorsTensorInfo a = file.Tensors["a"];
        var wrong = Assert.Throws<ArgumentException>(() => file.ReadInto(a, new byte[4]));
        Assert.Equal("destination", wrong.ParamName);
        Assert.StartsWith("buffer of 4 bytes for 8 bytes of 'a'", wrong.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => file.ReadInto(a, new byte[9]));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            stream.SetLength(stream.Length - 2);
        }
        var cut = Assert.Throws<IJepaCheckpointException>(() => file.ReadInto(a, new byte[8]));
        Assert.Equal(["tensor 'a' ends past the end of the file (was the file truncated while loading?)"], cut.Problems);
        Assert.IsType<EndOfStreamException>(cut.InnerException);
    }

    [Fact]
    public void A_large_tensor_is_read_whole()
    {
        // 24 MB: more than one positional read may return; every byte must land where it belongs.
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("big.safetensors");
        using Tensor values = IJepa.Runtime.HeldScalars.Arange(6L * 1024 * 1024, ScalarType.Float32);
        SafetensorsWriter.Write(path, [("v", values)]);
        using Tensor back = TestData.ReadTensor(path, "v");
        Assert.True(values.eq(back).all().item<bool>());
    }

    [Fact]
    public void Open_errors_name_the_file_and_leave_no_handle_open()
    {
        using TempFolder folder = TestData.NewFolder();
        string missing = folder.File("missing.safetensors");
        var error = Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open(missing));
        Assert.StartsWith("cannot open the safetensors file: ", Assert.Single(error.Problems), StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
        string bad = Write(folder, "{\"a\": 1}", 0);
        Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open(bad));
        if (OperatingSystem.IsLinux())
        {
            Assert.DoesNotContain(OpenFiles(), target => target == Path.GetFullPath(bad));
            using (SafetensorsFile open = SafetensorsFile.Open(Write(folder, "{}", 0)))
            {
                Assert.Contains(OpenFiles(), target => target == Path.GetFullPath(bad));
            }
            Assert.DoesNotContain(OpenFiles(), target => target == Path.GetFullPath(bad));
        }
    }

    internal static List<string?> OpenFiles() =>
        Directory.GetFiles("/proc/self/fd").Select(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                return null;
            }
        }).ToList();

    [Fact]
    public void The_writer_lays_out_the_file_as_the_specification_says()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("w.safetensors");
        using Tensor matrix = tensor(new float[] { 0, 1, 2, 3, 4, 5 }).view(2, 3);
        using Tensor transposed = matrix.t();                     // not contiguous: written in its logical order
        using Tensor half = tensor(new float[] { 1.5f }).to(ScalarType.Float16);
        using Tensor brain = tensor(new float[] { -2f, 0.25f }).to(ScalarType.BFloat16);
        using Tensor wide = tensor(new double[] { Math.PI });
        SafetensorsWriter.Write(path, [("m", transposed), ("h", half), ("b", brain), ("d", wide)], new Dictionary<string, string> { ["format"] = "pt" });
        byte[] bytes = File.ReadAllBytes(path);
        long n = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, n % 8);                                  // padded so the data is 8-byte aligned
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd().Length);
        Assert.True(header.TrimEnd(' ').EndsWith('}'));
        Assert.True(header.Length - header.TrimEnd(' ').Length < 8);
        JsonObject root = JsonNode.Parse(header)!.AsObject();
        Assert.Equal(["__metadata__", "m", "h", "b", "d"], root.Select(kv => kv.Key));
        Assert.Equal("pt", root["__metadata__"]!["format"]!.GetValue<string>());
        (string, long[], long, long) Spec(string name) => (root[name]!["dtype"]!.GetValue<string>(),
            root[name]!["shape"]!.AsArray().Select(v => v!.GetValue<long>()).ToArray(),
            root[name]!["data_offsets"]![0]!.GetValue<long>(), root[name]!["data_offsets"]![1]!.GetValue<long>());
        Assert.Equivalent(("F32", new long[] { 3, 2 }, 0L, 24L), Spec("m"));
        Assert.Equivalent(("F16", new long[] { 1 }, 24L, 26L), Spec("h"));
        Assert.Equivalent(("BF16", new long[] { 2 }, 26L, 30L), Spec("b"));
        Assert.Equivalent(("F64", new long[] { 1 }, 30L, 38L), Spec("d"));
        Assert.Equal(8 + n + 38, bytes.Length);
        float[] m = Enumerable.Range(0, 6).Select(i => BitConverter.ToSingle(bytes, (int)(8 + n + 4 * i))).ToArray();
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], m);
        Assert.Equal((Half)1.5f, BitConverter.ToHalf(bytes, (int)(8 + n + 24)));
        Assert.Equal(0xC000, BitConverter.ToUInt16(bytes, (int)(8 + n + 26)));   // bfloat16 -2
        Assert.Equal(Math.PI, BitConverter.ToDouble(bytes, (int)(8 + n + 30)));
        Assert.Equal([path], Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void The_writer_omits_empty_metadata_and_overwrites()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("w.safetensors");
        File.WriteAllText(path, "old");
        using Tensor one = ones(1);
        SafetensorsWriter.Write(path, [("x", one)], new Dictionary<string, string>());
        using (SafetensorsFile file = SafetensorsFile.Open(path))
        {
            Assert.Empty(file.Metadata);
            Assert.Equal(["x"], file.Tensors.Keys);
        }
        byte[] bytes = File.ReadAllBytes(path);
        Assert.DoesNotContain("__metadata__", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        SafetensorsWriter.Write(path, []);
        Assert.Equal(16, new FileInfo(path).Length);   // "{}" padded to 8 bytes
    }

    [Fact]
    public void The_writer_refuses_bad_names_and_dtypes_and_leaves_nothing_behind()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("w.safetensors");
        using Tensor one = ones(1);
        using Tensor ints = ones(new long[] { 1 }, ScalarType.Int32);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => SafetensorsWriter.Write(null!, [])).ParamName);
        // The arguments are checked before the tensors: a missing path is reported even when a tensor is unwritable.
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => SafetensorsWriter.Write(null!, [("i", ints)])).ParamName);
        Assert.Equal("tensors", Assert.Throws<ArgumentNullException>(() => SafetensorsWriter.Write(path, null!)).ParamName);
        var twice = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("x", one), ("x", one)]));
        Assert.StartsWith("Tensor name 'x' is reserved or used twice.", twice.Message, StringComparison.Ordinal);
        Assert.Equal("tensors", twice.ParamName);
        var reserved = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("__metadata__", one)]));
        Assert.StartsWith("Tensor name '__metadata__' is reserved or used twice.", reserved.Message, StringComparison.Ordinal);
        var dtype = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("i", ints)]));
        Assert.StartsWith("Tensor 'i' has dtype Int32; only float32, float16, bfloat16 and float64 are written.", dtype.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
        // The rename fails (a folder holds the name): the partial file is removed and the error surfaces.
        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => SafetensorsWriter.Write(path, [("x", one)]));
        Assert.Equal([path], Directory.GetFileSystemEntries(folder.Path));
    }
}
