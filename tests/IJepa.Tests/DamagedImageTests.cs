using System.Security.Cryptography;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Damaged images (truncated, broken LZW/deflate/strip/entropy-coded data, short pixel data, bad CRCs, crafted
/// headers) against Pillow 9.4's verdicts, committed by tests/reference/damaged/generate_damaged.py: where Pillow
/// refuses a file we throw an <see cref="ImageDecodeException"/> naming it; where Pillow accepts it we decode the
/// same RGB pixels. The few cases known to differ still (known_differences.txt) need only a typed result.
/// </summary>
public class DamagedImageTests
{
    private static string Folder => Path.Combine(AppContext.BaseDirectory, "damaged");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    private static readonly Lazy<HashSet<string>> KnownDifferences = new(() =>
        [.. File.ReadAllLines(Path.Combine(Folder, "known_differences.txt")).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')[0])]);

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string file in Verdicts.Value.Keys.Order(StringComparer.Ordinal))
        {
            data.Add(file);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_damaged_file_gets_pillows_verdict(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        string path = Path.Combine(Folder, file);
        RgbImage? ours = null;
        ImageDecodeException? refusal = null;
        var decode = Task.Run(() =>
        {
            try
            {
                ours = ImageInput.FromFile(path).Decode(1L << 28);
            }
            catch (ImageDecodeException e)
            {
                refusal = e;
            }
        });
        // WaitAsync throws TimeoutException if decoding hangs.
        await decode.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            if (refusal is not null)
            {
                // Whatever the verdict, a refusal names the file.
                Assert.Equal(path, refusal.Source);
                Assert.Contains(path, refusal.Message, StringComparison.Ordinal);
            }
            if (KnownDifferences.Value.Contains(file))
            {
                return;
            }
            if (verdict.GetProperty("pillow").GetString() == "refuse")
            {
                Assert.True(refusal is not null, $"{file}: decoded, but Pillow refuses it ({verdict.GetProperty("reason").GetString()})");
                return;
            }
            Assert.True(ours is not null, $"{file}: refused ({refusal?.Problem}), but Pillow reads it");
            Assert.Equal(verdict.GetProperty("width").GetInt32(), ours!.Width);
            Assert.Equal(verdict.GetProperty("height").GetInt32(), ours.Height);
            if (verdict.TryGetProperty("pixels", out _))
            {
                Assert.True(PillowCorpus.Pixels(verdict).AsSpan().SequenceEqual(ours.Data), $"{file}: pixels differ from Pillow's");
            }
            else
            {
                Assert.Equal(verdict.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(ours.Data)));
            }
        }
        finally
        {
            ours?.Release();
        }
    }

    [Fact]
    public void The_committed_corpus_covers_every_format_and_both_verdicts()
    {
        var formats = Verdicts.Value.Values.GroupBy(c => c.GetProperty("format").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(7, formats.Count);
        foreach ((string format, List<JsonElement> cases) in formats)
        {
            Assert.Contains(cases, c => c.GetProperty("pillow").GetString() == "accept");
            Assert.Contains(cases, c => c.GetProperty("pillow").GetString() == "refuse");
        }
        Assert.True(KnownDifferences.Value.Count * 10 < Verdicts.Value.Count, "more than a tenth of the cases differ from Pillow");
    }
}
