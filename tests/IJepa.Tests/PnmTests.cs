using System.IO.Compression;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Portable anymaps (P1–P6) against Pillow 9.4's verdicts and pixels, committed by tests/reference/pnm/generate_pnm.py:
/// every magic number, raw and rescaled maxvals, 16-bit samples, comments and odd whitespace, samples above maxval,
/// and truncations of each kind of data. Where Pillow refuses a file we throw an <see cref="ImageDecodeException"/>
/// naming it; where Pillow accepts it we decode the same RGB pixels.
/// </summary>
public class PnmTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "pnm");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() =>
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "verdicts.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("file").GetString()!, c => c.Clone());
    });

    // Files over Pillow's 1 MiB read block are committed gzipped.
    private static byte[] Inflate(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return bytes.ToArray();
    }

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        string path = Path.Combine(Folder, file);
        ImageInput input = file.EndsWith(".gz", StringComparison.Ordinal) ? ImageInput.FromBytes(Inflate(path), path) : ImageInput.FromFile(path);
        if (verdict.GetProperty("pillow").GetString() == "refuse")
        {
            var refusal = Assert.Throws<ImageDecodeException>(() => input.Decode(1L << 28).Release());
            Assert.Equal(path, refusal.Source);
            return;
        }
        RgbImage ours = input.Decode(1L << 28);
        try
        {
            Assert.Equal((verdict.GetProperty("width").GetInt32(), verdict.GetProperty("height").GetInt32()), (ours.Width, ours.Height));
            using var inflate = new ZLibStream(new MemoryStream(Convert.FromBase64String(verdict.GetProperty("pixels").GetString()!)), CompressionMode.Decompress);
            using var expected = new MemoryStream();
            inflate.CopyTo(expected);
            Assert.Equal(Convert.ToHexString(expected.ToArray()), Convert.ToHexString(ours.Data));
        }
        finally
        {
            ours.Release();
        }
    }
}
