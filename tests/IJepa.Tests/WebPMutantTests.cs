using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Kills the mutants that Stryker's run over WebPDemuxGuard left alive. The damaged-file corpus only truncates and
/// flips bytes of a few encoder outputs, so tests/reference/webp/generate_webp.py rebuilds tiny Pillow-encoded files
/// chunk by chunk and damages one thing libwebp 1.2.4's demuxer looks at per file (RIFF and chunk sizes, padding,
/// the VP8/VP8L headers WebPGetFeatures reads, ALPH placement, VP8X sizes, flags and canvases, ANIM and ANMF), and
/// records Pillow 9.4's verdict and RGB pixels. Where Pillow accepts a file we must decode the same pixels (lossy
/// ones too: Skia and Pillow run the same libwebp, and the damaged corpus already holds them to Pillow's bytes);
/// where it refuses we must refuse at the same stage, and say why.
/// </summary>
public class WebPMutantTests
{
    private const string Demuxer = "could not create decoder object (libwebp's demuxer: ";
    private const string Malformed = Demuxer + "a malformed chunk)";
    private const string RunsPast = Demuxer + "a chunk runs past the end of the data)";
    private const string Invalid = Demuxer + "the frames do not form a valid image)";
    private const string NotWebP = "cannot identify image file: a RIFF WEBP file whose first chunk is not VP8, VP8L or VP8X";

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "webp");

    private static readonly Lazy<Dictionary<string, JsonElement>> Verdicts = new(() => PillowCorpus.Load(Folder));

    public static TheoryData<string> Cases() => [.. Verdicts.Value.Keys.Order(StringComparer.Ordinal)];

    private static string Refusal(string file) => PillowCorpus.Refusal(Folder, file);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_file_gets_pillows_verdict_and_pixels(string file)
    {
        string path = Path.Combine(Folder, file);
        ImageDecodeException? refusal = PillowCorpus.AssertVerdict(Verdicts.Value[file], ImageInput.FromFile(path), path);
        if (refusal is null)
        {
            return;
        }
        // Pillow's message tells where it stopped: the plugin's signature check (not a WebP it knows), the
        // decoder's creation (WebPGetFeatures and the demuxer: the guard's refusals), or the first frame's decoding
        // (libwebp's decoder, which Skia runs after the guard). Ours must stop at the same place.
        string reason = Verdicts.Value[file].GetProperty("reason").GetString()!;
        Assert.Equal(reason.StartsWith("UnidentifiedImageError: cannot identify image file", StringComparison.Ordinal),
            refusal.Problem.StartsWith("cannot identify image file", StringComparison.Ordinal));
        Assert.Equal(reason == "OSError: could not create decoder object",
            refusal.Problem.StartsWith("could not create decoder object", StringComparison.Ordinal));
    }

    // Which of libwebp's verdicts the guard reached (demux.c: PARSE_ERROR, PARSE_NEED_MORE_DATA on a complete file,
    // or IsValid*Format failing), read from the C source for each file; Pillow reports them all as one error.
    [Theory]
    [InlineData("riff-15-bytes.webp", NotWebP)]
    [InlineData("first-chunk-alph.webp", NotWebP)]
    [InlineData("first-chunk-junk.webp", NotWebP)]
    [InlineData("riff-16-bytes.webp", Demuxer + "the file ends inside the RIFF header)")]
    [InlineData("riff-19-bytes.webp", Demuxer + "the file ends inside the RIFF header)")]
    [InlineData("vp8x-header-cut.webp", Demuxer + "the file ends inside the RIFF header)")]
    [InlineData("riff-20-bytes.webp", Malformed)]
    [InlineData("vp8l-riff-size-7.webp", Demuxer + "RIFF size 7)")]
    [InlineData("vp8l-riff-size-8.webp", Malformed)]
    [InlineData("vp8l-riff-size-11.webp", Malformed)]
    [InlineData("vp8l-riff-size-12.webp", Malformed)]
    [InlineData("vp8l-riff-size-fffffff6.webp", Demuxer + "the RIFF size says 4294967294 bytes, the file has 70)")]
    [InlineData("vp8l-riff-size-fffffff7.webp", Demuxer + "RIFF size 4294967287)")]
    [InlineData("vp8l-riff-size-ffffffff.webp", Demuxer + "RIFF size 4294967295)")]
    [InlineData("vp8l-riff-long-by-2.webp", Demuxer + "the RIFF size says 72 bytes, the file has 70)")]
    [InlineData("vp8l-riff-short-by-2.webp", Malformed)]
    [InlineData("vp8l-odd-unpadded.webp", Malformed)]
    [InlineData("vp8l-odd-unpadded-bytes-after-riff.webp", Malformed)]
    [InlineData("vp8l-size-past-riff.webp", Malformed)]
    [InlineData("vp8l-size-ffffffff.webp", Malformed)]
    [InlineData("vp8l-size-fffffff7.webp", Malformed)]
    [InlineData("vp8l-then-junk-past-riff.webp", Malformed)]
    [InlineData("vp8l-then-4-bytes.webp", RunsPast)]
    [InlineData("vp8l-then-7-bytes.webp", RunsPast)]
    [InlineData("vp8l-then-4-bytes-then-bytes-after-riff.webp", RunsPast)]
    [InlineData("vp8l-signature-2e.webp", Malformed)]
    [InlineData("vp8l-version-1.webp", Malformed)]
    [InlineData("vp8l-version-4.webp", Malformed)]
    [InlineData("vp8l-payload-0.webp", Malformed)]
    [InlineData("vp8l-payload-4.webp", Malformed)]
    [InlineData("vp8-inter-frame.webp", Malformed)]
    [InlineData("vp8-profile-4.webp", Malformed)]
    [InlineData("vp8-invisible.webp", Malformed)]
    [InlineData("vp8-partition-declared.webp", Malformed)]
    [InlineData("vp8-payload-partition-length.webp", Malformed)]
    [InlineData("vp8-start-code-9d.webp", Malformed)]
    [InlineData("vp8-start-code-01.webp", Malformed)]
    [InlineData("vp8-start-code-2a.webp", Malformed)]
    [InlineData("vp8-width-0.webp", Malformed)]
    [InlineData("vp8-height-0.webp", Malformed)]
    [InlineData("vp8-width-0-scaled.webp", Malformed)]
    [InlineData("vp8-payload-9.webp", Malformed)]
    [InlineData("vp8-payload-10.webp", Malformed)]
    [InlineData("vp8-partition-high-byte.webp", Malformed)]
    [InlineData("vp8x-vp8-alph.webp", Invalid)]
    [InlineData("vp8x-alph-alph-vp8.webp", Malformed)]
    [InlineData("vp8x-alph-vp8l.webp", Malformed)]
    [InlineData("vp8x-alph-only.webp", Invalid)]
    [InlineData("vp8x-alph-only-no-flag.webp", Invalid)]
    [InlineData("vp8x-alph-then-junk.webp", Invalid)]
    [InlineData("vp8x-vp8l-vp8l.webp", Malformed)]
    [InlineData("vp8x-vp8l-junk-vp8l.webp", Malformed)]
    [InlineData("vp8x-vp8x.webp", Malformed)]
    [InlineData("vp8x-vp8l-then-4-bytes.webp", RunsPast)]
    [InlineData("vp8x-junk-then-4-bytes.webp", RunsPast)]
    [InlineData("vp8x-junk-past-riff.webp", RunsPast)]
    [InlineData("vp8x-junk-size-ffffffff.webp", RunsPast)]
    [InlineData("vp8x-only.webp", Malformed)]
    [InlineData("vp8x-riff-size-8.webp", RunsPast)]
    [InlineData("vp8x-riff-size-11.webp", RunsPast)]
    [InlineData("vp8x-chunk-header-only.webp", Malformed)]
    [InlineData("vp8x-then-empty-junk.webp", Invalid)]
    [InlineData("vp8x-junk-size-ffffffff-first.webp", Malformed)]
    [InlineData("vp8x-then-4-bytes.webp", Malformed)]
    [InlineData("vp8x-junk-only.webp", Invalid)]
    [InlineData("vp8x-vp8l-size-past-riff.webp", Malformed)]
    [InlineData("vp8x-size-8.webp", Malformed)]
    [InlineData("vp8x-size-9.webp", Malformed)]
    [InlineData("vp8x-size-11.webp", "could not create decoder object (WebPGetFeatures: a VP8X chunk of 11 bytes, not 10)")]
    [InlineData("vp8x-size-12.webp", "could not create decoder object (WebPGetFeatures: a VP8X chunk of 12 bytes, not 10)")]
    [InlineData("vp8x-size-fffffff7.webp", Malformed)]
    [InlineData("vp8x-size-past-riff.webp", Malformed)]
    [InlineData("vp8x-flags-01.webp", Invalid)]
    [InlineData("vp8x-flags-40.webp", Invalid)]
    [InlineData("vp8x-flags-80.webp", Invalid)]
    [InlineData("vp8x-canvas-4x2.webp", Invalid)]
    [InlineData("vp8x-canvas-3x3.webp", Invalid)]
    [InlineData("vp8x-canvas-2x2.webp", Invalid)]
    [InlineData("vp8x-canvas-3x1.webp", Invalid)]
    [InlineData("vp8x-257x258-canvas-1x258.webp", Invalid)]
    [InlineData("vp8x-257x258-canvas-257x2.webp", Invalid)]
    [InlineData("vp8x-257x258-canvas-65793x258.webp", Invalid)]
    [InlineData("vp8x-257x258-canvas-257x65794.webp", Invalid)]
    [InlineData("vp8x-canvas-65536x65536.webp", Malformed)]
    [InlineData("vp8x-canvas-65536x65535.webp", Invalid)]
    [InlineData("vp8x-canvas-65537x65536.webp", Malformed)]
    [InlineData("vp8x-canvas-16777216x256.webp", Malformed)]
    [InlineData("vp8x-canvas-16777216x255.webp", Invalid)]
    [InlineData("anim-no-frames.webp", Invalid)]
    [InlineData("anim-no-anim-chunk.webp", Malformed)]
    [InlineData("anim-anim-size-4.webp", Malformed)]
    [InlineData("anim-anim-past-riff.webp", Malformed)]
    [InlineData("anim-flag-without-anim-vp8l.webp", Malformed)]
    [InlineData("anim-anim-then-vp8l.webp", Malformed)]
    [InlineData("anim-anim-then-alph.webp", Malformed)]
    [InlineData("anim-anmf-no-anim-flag.webp", Invalid)]
    [InlineData("anim-anmf-no-anim-flag-then-vp8l.webp", Malformed)]
    [InlineData("anim-second-frame-x-past-canvas.webp", Invalid)]
    [InlineData("anim-second-frame-y-past-canvas.webp", Invalid)]
    [InlineData("anim-frame-larger-than-canvas.webp", Invalid)]
    [InlineData("anim-frame-taller-than-canvas.webp", Invalid)]
    [InlineData("anim-frame-header-65536x65536.webp", Malformed)]
    [InlineData("anim-frame-header-16777216x256.webp", Malformed)]
    [InlineData("anim-frame-header-256x16777216.webp", Malformed)]
    [InlineData("anim-offset-x-65536.webp", Invalid)]
    [InlineData("anim-offset-y-65536.webp", Invalid)]
    [InlineData("anim-offset-x-512-past.webp", Invalid)]
    [InlineData("anim-offset-y-512-past.webp", Invalid)]
    [InlineData("anim-anmf-size-14.webp", Malformed)]
    [InlineData("anim-anmf-empty-last.webp", RunsPast)]
    [InlineData("anim-anmf-size-0-last.webp", Malformed)]
    [InlineData("anim-anmf-size-10-last.webp", Malformed)]
    [InlineData("anim-anmf-5-bytes-last.webp", RunsPast)]
    [InlineData("anim-anmf-junk-first.webp", Malformed)]
    [InlineData("anim-anmf-short-by-2.webp", Malformed)]
    [InlineData("anim-anmf-junk-past-anmf-then-frame.webp", Malformed)]
    [InlineData("anim-anmf-4-garbage-bytes-then-frame.webp", Malformed)]
    [InlineData("anim-anmf-size-past-riff.webp", Malformed)]
    [InlineData("anim-anmf-subchunk-past-riff.webp", Malformed)]
    [InlineData("anim-alph-only-then-frame.webp", Malformed)]
    [InlineData("anim-alph-only-last.webp", Invalid)]
    [InlineData("anim-vp8-alph.webp", Invalid)]
    [InlineData("anim-vp8-alph-no-alpha-flag.webp", Invalid)]
    [InlineData("anim-alph-vp8l.webp", Malformed)]
    [InlineData("anim-frame-then-vp8l.webp", Malformed)]
    [InlineData("anim-frame-then-vp8x.webp", Malformed)]
    [InlineData("anim-frame-then-4-bytes.webp", RunsPast)]
    [InlineData("anim-flags-01.webp", Invalid)]
    public void A_refused_file_says_why(string file, string problem) => Assert.Equal(problem, Refusal(file));

    [Fact]
    public void The_guard_takes_riff_webp_only()
    {
        Assert.True(WebPDemuxGuard.Handles("RIFF\0\0\0\0WEBP"u8));
        Assert.False(WebPDemuxGuard.Handles("RIFF\0\0\0\0WEB"u8));
        Assert.False(WebPDemuxGuard.Handles("RIFX\0\0\0\0WEBP"u8));
        Assert.False(WebPDemuxGuard.Handles("RIFF\0\0\0\0WAVE"u8));
    }
}
