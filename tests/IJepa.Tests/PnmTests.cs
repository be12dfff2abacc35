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

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    // Files over Pillow's 1 MiB read block are committed gzipped.
    private static byte[] Inflate(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return bytes.ToArray();
    }

    // Pillow's words without the exception type, the bytes repr around a message raised as bytes, or the details it
    // appends ("(5 bytes not processed)", the stream's repr): our problem starts with them.
    private static string PillowReason(string reason)
    {
        string words = reason[(reason.IndexOf(": ", StringComparison.Ordinal) + 2)..];
        if (words.StartsWith("b'", StringComparison.Ordinal))
        {
            words = words[2..^1];
        }
        foreach (string tail in new[] { " (", " <" })
        {
            int at = words.IndexOf(tail, StringComparison.Ordinal);
            words = at < 0 ? words : words[..at];
        }
        return words;
    }

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        string path = Path.Combine(Folder, file);
        ImageInput input = file.EndsWith(".gz", StringComparison.Ordinal) ? ImageInput.FromBytes(Inflate(path), path) : ImageInput.FromFile(path);
        if (PillowCorpus.AssertVerdict(verdict, input, path) is ImageDecodeException refusal)
        {
            string reason = PillowReason(verdict.GetProperty("reason").GetString()!);
            // A file no reader claims (P7) gets the library's general "not an image" message.
            Assert.True(refusal.Problem.StartsWith(reason, StringComparison.Ordinal)
                || (reason == "cannot identify image file" && refusal.Problem.StartsWith("not an image", StringComparison.Ordinal)),
                $"Pillow: {reason}; ours: {refusal.Problem}");
        }
    }
}
