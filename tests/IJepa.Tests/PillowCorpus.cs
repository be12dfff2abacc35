using System.IO.Compression;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// The crafted-file corpora judged by Pillow 9.4 (tests/reference/&lt;format&gt;/cases/verdicts.json, written by each
/// folder's generator): one loader and one comparison for all of them, so every format is held to the same rule.
/// </summary>
internal static class PillowCorpus
{
    /// <summary>The cases of a corpus copied to the test output under <paramref name="folder"/>, by file name.</summary>
    public static Dictionary<string, JsonElement> Load(string folder)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "verdicts.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("file").GetString()!, c => c.Clone());
    }

    /// <summary>One file of the corpus in <paramref name="folder"/> (under the test output) and its verdict.</summary>
    public static (byte[] Bytes, JsonElement Verdict) Case(string folder, string file)
    {
        string cases = Path.Combine(AppContext.BaseDirectory, folder);
        return (File.ReadAllBytes(Path.Combine(cases, file)), Load(cases)[file]);
    }

    /// <summary>
    /// The problem named by the refusal of <paramref name="file"/> in <paramref name="folder"/> (a full path), opened by
    /// its path; the refusal must name that path.
    /// </summary>
    public static string Refusal(string folder, string file)
    {
        string path = Path.Combine(folder, file);
        var refusal = Assert.Throws<ImageDecodeException>(() => ImageInput.FromFile(path).Decode(1L << 28).Release());
        Assert.Equal(path, refusal.Source);
        return refusal.Problem;
    }

    /// <summary>Pillow's RGB bytes for a file it accepts (stored zlib-compressed, base64).</summary>
    public static byte[] Pixels(JsonElement verdict)
    {
        using var inflate = new ZLibStream(new MemoryStream(Convert.FromBase64String(verdict.GetProperty("pixels").GetString()!)), CompressionMode.Decompress);
        using var expected = new MemoryStream();
        inflate.CopyTo(expected);
        return expected.ToArray();
    }

    /// <summary>
    /// Decodes <paramref name="input"/> and holds it to Pillow's verdict: a file Pillow refuses must throw an
    /// <see cref="ImageDecodeException"/> naming <paramref name="source"/> (returned for further checks); a file it
    /// accepts must give its size and exactly its RGB bytes (null is returned). An input opened from a path gets the
    /// verdict Pillow gives a path (<c>from_path</c> in verdicts.json where it differs).
    /// </summary>
    public static ImageDecodeException? AssertVerdict(JsonElement verdict, ImageInput input, string source)
    {
        // A file opened by its path is held to Pillow's verdict from a path where memory-mapping makes that differ.
        if (input.FromPath && verdict.TryGetProperty("from_path", out JsonElement fromPath))
        {
            verdict = fromPath;
        }
        if (verdict.GetProperty("pillow").GetString() == "refuse")
        {
            var refusal = Assert.Throws<ImageDecodeException>(() => input.Decode(1L << 28).Release());
            Assert.Equal(source, refusal.Source);
            return refusal;
        }
        RgbImage ours = input.Decode(1L << 28);
        try
        {
            Assert.Equal((verdict.GetProperty("width").GetInt32(), verdict.GetProperty("height").GetInt32()), (ours.Width, ours.Height));
            Assert.Equal(Convert.ToHexString(Pixels(verdict)), Convert.ToHexString(ours.Data));
            return null;
        }
        finally
        {
            ours.Release();
        }
    }
}
