namespace IJepa.Tests;

/// <summary>The strict safetensors reader: every malformed file gives one typed exception naming the file.</summary>
public class SafetensorsTests
{
    private static object Entry(string dtype, long[] shape, long begin, long end) =>
        new { dtype, shape, data_offsets = new[] { begin, end } };

    private static IJepaCheckpointException OpenFails(string path)
    {
        var error = Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(Path.GetFullPath(path), error.Path);
        Assert.Contains(Path.GetFileName(path), error.Message, StringComparison.Ordinal);
        return error;
    }

    [Fact]
    public void A_valid_file_reads_back_its_values()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("ok.safetensors");
        byte[] data = [.. BitConverter.GetBytes(1.5f), .. BitConverter.GetBytes(-2f)];
        TestData.WriteSafetensors(path, new Dictionary<string, object>
        {
            ["__metadata__"] = new { format = "pt" },
            ["a"] = Entry("F32", [2], 0, 8),
        }, data);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        using Tensor a = TestData.ReadTensor(path, "a");
        Assert.Equal([1.5f, -2f], a.data<float>().ToArray());
    }

    [Fact]
    public void Zero_bytes()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("empty.safetensors");
        File.WriteAllBytes(path, []);
        Assert.Contains("shorter than the 8-byte header length", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_header_length_is_refused_before_allocating()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("huge.safetensors");
        TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: ulong.MaxValue / 2);
        Assert.Contains("header length", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_longer_than_the_file_is_truncation()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("short.safetensors");
        TestData.WriteRaw(path, TestData.Utf8("{}"), [], headerLengthOverride: 4096);
        Assert.Contains("past the end", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_checkpoint_names_the_tensors_cut_off()
    {
        using TempFolder folder = TestData.CopyModel("ijepa_tiny_p14");
        string path = folder.File("model.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        var error = OpenFails(path);
        Assert.Contains("run past the end of the data", error.Message, StringComparison.Ordinal);
        Assert.Throws<IJepaCheckpointException>(() => IJepaModel.FromPretrained(folder.Path).Dispose());
    }

    [Fact]
    public void Header_that_is_not_json()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("text.safetensors");
        TestData.WriteRaw(path, TestData.Utf8("{\"a\": [1, 2"), []);
        Assert.Contains("not valid JSON", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_safetensors_file()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("picture.safetensors");
        File.WriteAllBytes(path, TestData.Utf8("\u0089PNG\r\n\u001a\n this is not a tensor file at all"));
        OpenFails(path);
    }

    [Fact]
    public void Unknown_dtype()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("i64.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("I64", [1], 0, 8), ["b"] = Entry("Q4", [1], 8, 9) }, new byte[9]);
        var error = OpenFails(path);
        Assert.Contains("unknown or unsupported dtype 'I64'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Q4'", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Problems.Count);
    }

    [Fact]
    public void Byte_size_must_match_dtype_and_shape()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("size.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("F32", [3], 0, 8) }, new byte[8]);
        Assert.Contains("needs 12", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlapping_tensors()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("overlap.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("F32", [2], 0, 8), ["b"] = Entry("F32", [2], 4, 12) }, new byte[12]);
        Assert.Contains("overlaps 'a'", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Offsets_outside_the_file()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("outside.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("F32", [4], 0, 16) }, new byte[8]);
        Assert.Contains("run past the end", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_or_reversed_offsets()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("reversed.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("F32", [1], 8, 4) }, new byte[8]);
        Assert.Contains("data_offsets", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_names()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("dup.safetensors");
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        TestData.WriteRaw(path, TestData.Utf8(json), new byte[8]);
        Assert.Contains("more than once", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_belong_to_no_tensor()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("gap.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object> { ["a"] = Entry("F32", [1], 4, 8) }, new byte[12]);
        Assert.Contains("gap of 4 bytes", OpenFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_and_overflowing_shapes()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = folder.File("shape.safetensors");
        TestData.WriteSafetensors(path, new Dictionary<string, object>
        {
            ["a"] = Entry("F32", [-1], 0, 4),
            ["b"] = Entry("F32", [long.MaxValue, long.MaxValue], 0, 4),
        }, new byte[4]);
        var error = OpenFails(path);
        Assert.Equal(2, error.Problems.Count);
    }

    [Fact]
    public void A_missing_file()
    {
        Assert.Throws<IJepaCheckpointException>(() => SafetensorsFile.Open("/nonexistent/model.safetensors"));
    }
}
