using System.Buffers.Binary;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker's run over PillowGif.cs left alive. Each GIF in tests/reference/gif/cases is made by
/// hand (generate_gif.py) to reach one branch of Pillow 9.4's block walk or GifDecode.c: every kind and length of
/// extension, palettes that are or are not the grey ramp, LZW streams that clear, fill the table or reach 12-bit
/// codes, frames off the origin, files cut short. Where Pillow accepts a file we must give its exact pixels; where it
/// refuses one we must refuse it with the exact reason below (Pillow's own words where it has them).
/// </summary>
public class GifMutantTests
{
    private const string Unidentified = "cannot identify image file: broken GIF structure ";
    private const string Broken = "broken data stream when reading image file (invalid LZW code in the GIF)";
    private const string Truncated = " bytes not processed): the GIF's LZW data ends before the frame is complete";

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "gif");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    // Our reason for each file Pillow refuses; the test also checks that Pillow does refuse it.
    private static readonly Dictionary<string, string> Refusals = new()
    {
        ["header_short.gif"] = Unidentified + "(the GIF header is cut short)",
        ["trailer_only.gif"] = Unidentified + "(the GIF holds no image)",
        ["ext_eof.gif"] = Unidentified + "(an extension is cut short)",
        ["gce_eof.gif"] = Unidentified + "(a graphic control extension is cut short)",
        ["gce_then_trailer.gif"] = Unidentified + "(the GIF holds no image)",
        ["gce_then_eof.gif"] = Unidentified + "(the GIF holds no image)",
        ["gce_len2.gif"] = Unidentified + "(a graphic control extension is cut short)",
        ["gce_len3_transparent.gif"] = Unidentified + "(a graphic control extension is cut short)",
        ["app_empty.gif"] = Unidentified + "(an application extension is empty)",
        ["netscape_no_loop_block.gif"] = Unidentified + "(the NETSCAPE2.0 loop block is missing)",
        // Pillow's generic sub-block skip reads the image descriptor's ',' as the length of a block.
        ["plain_text_empty.gif"] = Unidentified + "(the GIF holds no image)",
        ["descriptor_short.gif"] = Unidentified + "(the image descriptor is cut short)",
        ["no_code_size.gif"] = Unidentified + "(the image data is missing)",
        ["palette_cut_5.gif"] = Unidentified + "(the colour table is cut short)",
        ["palette_cut_7.gif"] = Unidentified + "(the colour table is cut short)",
        ["frame_width_0.gif"] = "image file is truncated (2" + Truncated,
        ["frame_width_0_at_x1.gif"] = "tile cannot extend outside image (the GIF frame is empty)",
        ["frame_height_0.gif"] = "tile cannot extend outside image (the GIF frame is empty)",
        ["truncated_mid_block.gif"] = "image file is truncated (6" + Truncated,
        ["truncated_after_terminator.gif"] = "image file is truncated (0" + Truncated,
        ["bits13.gif"] = "codec configuration error when reading image file (LZW minimum code size 13)",
        ["bits12_chain_past_table.gif"] = Broken,
        ["code_past_next.gif"] = Broken,
        ["first_code_past_clear.gif"] = Broken,
    };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string file in Verdicts.Value.Keys.Order(StringComparer.Ordinal))
        {
            data.Add(file);
        }
        return data;
    }

    private static RgbImage Decode(byte[] file, long maxPixels = 1 << 20) => PillowGif.Decode(file, "gif", maxPixels);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_crafted_gif_gets_pillows_verdict_and_our_reason(string file)
    {
        JsonElement verdict = Verdicts.Value[file];
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, file));
        string pillow = verdict.GetProperty("pillow").GetString()!;
        if (pillow == "refuse")
        {
            string reason = verdict.GetProperty("reason").GetString()!;
            // Exactly ImageDecodeException: a mutant that indexes past a span throws something else.
            var error = Assert.Throws<ImageDecodeException>(() => Decode(bytes));
            Assert.Equal(Refusals[file], error.Problem);
            Assert.Equal("gif", error.Source);
            // Where Pillow's reason is a codec's message, ours starts with the same words.
            string pillowWords = reason[(reason.IndexOf(": ", StringComparison.Ordinal) + 2)..];
            if (reason.StartsWith("UnidentifiedImageError", StringComparison.Ordinal))
            {
                Assert.StartsWith("cannot identify image file", error.Problem, StringComparison.Ordinal);
            }
            else
            {
                Assert.StartsWith(pillowWords, error.Problem, StringComparison.Ordinal);
            }
            return;
        }
        Assert.False(Refusals.ContainsKey(file), $"{file}: Pillow accepts it");
        RgbImage ours = Decode(bytes);
        Assert.Equal(verdict.GetProperty("width").GetInt32(), ours.Width);
        Assert.Equal(verdict.GetProperty("height").GetInt32(), ours.Height);
        Assert.Equal(Convert.ToHexString(PillowCorpus.Pixels(verdict)), Convert.ToHexString(ours.Data));
        ours.Release();
    }

    [Fact]
    public void Six_bytes_of_signature_are_enough_to_claim_a_gif()
    {
        // Pillow's _accept compares prefix[:6] only.
        Assert.True(PillowGif.Handles("GIF89a"u8));
        Assert.True(PillowGif.Handles("GIF87a"u8));
        Assert.False(PillowGif.Handles("GIF89"u8));
        Assert.False(PillowGif.Handles("GIF88a"u8));
    }

    [Fact]
    public void The_canvas_is_held_to_the_pixel_limit_before_decoding()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Folder, "transparent_fill.gif"));
        // 4 x 3 = 12 pixels: 12 is allowed, 11 is not.
        RgbImage image = Decode(file, 12);
        Assert.Equal(4, image.Width);
        image.Release();
        Assert.Equal("4x3 = 12 pixels exceeds the limit of 11 (a possible decompression bomb; raise PreprocessingOptions.MaxPixels to allow it)",
            Assert.Throws<ImageDecodeException>(() => Decode(file, 11)).Problem);
    }

    [Fact]
    public void A_canvas_of_more_than_int_max_pixels_overflows_rather_than_wrapping()
    {
        // Screen 65535 x 32769 and a 65535 x 1 frame at x = 65535: the canvas grows to 131070 x 32769 =
        // 4,295,032,830 pixels, which wraps to 65,534 in 32 bits; with no pixel limit only checked arithmetic stops it.
        byte[] file = new byte[13 + 10 + 1];
        "GIF89a"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(6), 65535);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), 32769);
        file[13] = (byte)',';
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(14), 65535);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(18), 65535);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(20), 1);
        file[23] = 2;
        Assert.Throws<OverflowException>(() => Decode(file, long.MaxValue));
    }
}
