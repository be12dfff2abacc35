using IJepa.Checkpoints;
using IJepa.Model;
using IJepa.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace IJepa.Fuzz;

/// <summary>One input format: its valid seed files and how an input goes through the public API.</summary>
/// <param name="Name">Format name on the command line.</param>
/// <param name="Seeds">Valid files the mutator starts from.</param>
/// <param name="Json">Whether the input is JSON (or holds a JSON header) and gets structural edits.</param>
/// <param name="Run">Feeds one input through the public API; returns normally or throws.</param>
/// <param name="Expected">The typed exceptions that count as a correct refusal.</param>
/// <param name="Fixup">Repairs checksums after mutation so that inputs get past them (PNG chunk CRCs); null for none.</param>
public sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, bool Json, Action<byte[]> Run, Type[] Expected, Func<byte[], byte[]>? Fixup = null)
{
    /// <summary>The index-th mutated input of a run, checksums repaired.</summary>
    public byte[] Input(ulong runSeed, long index)
    {
        byte[] input = Mutator.Generate(Seeds, Json, runSeed, index);
        // Every other PNG input keeps its broken CRCs, so that the CRC checks are fuzzed too.
        return Fixup is not null && index % 2 == 0 ? Fixup(input) : input;
    }

    public bool IsExpected(Exception e) => Expected.Any(t => t.IsInstanceOfType(e));
}

/// <summary>The fuzzed formats: images through the preprocessor; checkpoint files and configs through loading.</summary>
public static class FuzzTargets
{
    public static readonly string[] Names = ["png", "jpeg", "gif", "bmp", "tiff", "webp", "tga", "safetensors", "config", "preprocessor_config", "checkpoint_zip", "checkpoint_pickle"];

    private static readonly ImagePreprocessor Preprocessor = new(new PreprocessingOptions { Height = 32, Width = 32 });

    /// <summary>Builds the targets; <paramref name="imagesDirectory"/> holds the committed test images, <paramref name="originalDirectory"/> the tiny original checkpoint.</summary>
    public static FuzzTarget Create(string name, string imagesDirectory, string workDirectory, string originalDirectory)
    {
        string tinyOriginal = Path.Combine(originalDirectory, "tiny-ijepa.pth.tar");
        Directory.CreateDirectory(workDirectory);
        byte[][] Images(params string[] files) => files.Select(f => File.ReadAllBytes(Path.Combine(imagesDirectory, f))).ToArray();
        Type[] imageErrors = [typeof(ImageDecodeException)];
        switch (name)
        {
            case "png":
                return new(name, [.. Images("small_17x23.png", "palette_50x40.png", "rgba_60x45.png", "gray16_40x30.png", "rgb16_40x30.png", "gray_alpha_30x20.png", "checker_97x61.png"),
                    Encode(new SixLabors.ImageSharp.Formats.Png.PngEncoder { InterlaceMethod = SixLabors.ImageSharp.Formats.Png.PngInterlaceMode.Adam7 })], false, DecodeImage, imageErrors, FixPngCrcs);
            case "jpeg":
                return new(name, Images("exif_orientation_6.jpg", "exif_orientation_1.jpg", "cmyk_48x32.jpg", "photo_ladybird.jpg"), false, DecodeImage, imageErrors);
            case "gif":
                return new(name, Images("animated_32x24.gif"), false, DecodeImage, imageErrors);
            case "bmp":
                return new(name, Images("bmp_33x17.bmp"), false, DecodeImage, imageErrors);
            case "tiff":
                return new(name, [Encode(new TiffEncoder()), Encode(new TiffEncoder { Compression = SixLabors.ImageSharp.Formats.Tiff.Constants.TiffCompression.Deflate })], false, DecodeImage, imageErrors);
            case "webp":
                return new(name, [.. Images("animated_32x24.webp"), Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossy }), Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossless })], false, DecodeImage, imageErrors);
            case "tga":
                return new(name, [
                    Encode(new TgaEncoder { BitsPerPixel = TgaBitsPerPixel.Pixel24, Compression = TgaCompression.None }),
                    Encode(new TgaEncoder { BitsPerPixel = TgaBitsPerPixel.Pixel32, Compression = TgaCompression.RunLength }),
                    Encode(new TgaEncoder { BitsPerPixel = TgaBitsPerPixel.Pixel8, Compression = TgaCompression.RunLength }),
                    Encode(new TgaEncoder { BitsPerPixel = TgaBitsPerPixel.Pixel16, Compression = TgaCompression.None })], false, DecodeImage, imageErrors);
            case "safetensors":
                {
                    string model = MiniModel(workDirectory);
                    return new(name, [File.ReadAllBytes(Path.Combine(model, "model.safetensors"))], true, bytes => LoadModel(workDirectory, bytes, null), [typeof(IJepaCheckpointException)]);
                }
            case "config":
                {
                    string model = MiniModel(workDirectory);
                    return new(name, [File.ReadAllBytes(Path.Combine(model, "config.json"))], true, bytes => LoadModel(workDirectory, null, bytes), [typeof(IJepaCheckpointException)]);
                }
            case "preprocessor_config":
                {
                    string model = MiniModel(workDirectory);
                    string path = Path.Combine(workDirectory, "preprocessor_config.json");
                    byte[] image = File.ReadAllBytes(Path.Combine(imagesDirectory, "small_17x23.png"));
                    return new(name, [File.ReadAllBytes(Path.Combine(model, "preprocessor_config.json"))], true, bytes =>
                    {
                        File.WriteAllBytes(path, bytes);
                        PreprocessingOptions options = PreprocessingOptions.FromHuggingFaceConfig(path);
                        new ImagePreprocessor(options).Preprocess(ImageInput.FromBytes(image, "small_17x23.png"));
                    }, [typeof(IJepaCheckpointException)]);
                }
            case "checkpoint_zip":
                return new(name, [File.ReadAllBytes(tinyOriginal)], false, bytes => LoadOriginal(workDirectory, bytes), [typeof(IJepaCheckpointException)]);
            case "checkpoint_pickle":
                {
                    byte[] archive = File.ReadAllBytes(tinyOriginal);
                    byte[] pickle;
                    using (var zip = new System.IO.Compression.ZipArchive(new MemoryStream(archive)))
                    using (var stream = new MemoryStream())
                    {
                        zip.Entries.Single(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)).Open().CopyTo(stream);
                        pickle = stream.ToArray();
                    }
                    return new(name, [pickle], false, bytes => LoadOriginal(workDirectory, ReplacePickle(archive, bytes)), [typeof(IJepaCheckpointException)]);
                }
            default:
                throw new ArgumentException($"unknown format '{name}' ({string.Join(", ", Names)})");
        }
    }

    /// <summary>Recomputes the CRC of every whole chunk after the 8-byte signature.</summary>
    private static byte[] FixPngCrcs(byte[] png)
    {
        byte[] fixedUp = (byte[])png.Clone();
        int at = 8;
        while (at + 12 <= fixedUp.Length)
        {
            long length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(fixedUp.AsSpan(at));
            if (at + 12 + length > fixedUp.Length)
            {
                break;
            }
            uint crc = System.IO.Hashing.Crc32.HashToUInt32(fixedUp.AsSpan(at + 4, 4 + (int)length));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(fixedUp.AsSpan(at + 8 + (int)length), crc);
            at += 12 + (int)length;
        }
        return fixedUp;
    }

    private static void DecodeImage(byte[] bytes) => Preprocessor.Preprocess(ImageInput.FromBytes(bytes, "fuzz"));

    private static byte[] Encode(SixLabors.ImageSharp.Formats.IImageEncoder encoder)
    {
        using var image = new Image<Rgb24>(23, 17);
        for (int y = 0; y < 17; y++)
        {
            for (int x = 0; x < 23; x++)
            {
                image[x, y] = new Rgb24((byte)(x * 11), (byte)(y * 15), (byte)((x ^ y) * 9));
            }
        }
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    /// <summary>A very small random model (width 8, 1 block, 16 px) in the HF layout, written once per work folder.</summary>
    private static string MiniModel(string workDirectory)
    {
        string folder = Path.Combine(workDirectory, "mini-model");
        if (!File.Exists(Path.Combine(folder, "model.safetensors")))
        {
            var config = new IJepaConfig { HiddenSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 16, PatchSize = 8, ImageSize = 16 };
            using IJepaModel model = IJepaModel.Create(config);
            model.InitializeRandom(seed: 7);
            model.SavePretrained(folder);
        }
        return folder;
    }

    private static void LoadOriginal(string workDirectory, byte[] bytes)
    {
        string path = Path.Combine(workDirectory, "case.pth.tar");
        File.WriteAllBytes(path, bytes);
        using var checkpoint = IJepa.Checkpoints.Original.OriginalCheckpoint.Open(path);
        using IJepaModel encoder = checkpoint.LoadEncoder(numAttentionHeads: 4);
        using IJepaModel context = checkpoint.LoadEncoder(IJepa.Checkpoints.Original.EncoderPart.Encoder, numAttentionHeads: 4);
        using IJepaPredictor predictor = checkpoint.LoadPredictor(numAttentionHeads: 4);
    }

    private static byte[] ReplacePickle(byte[] archive, byte[] pickle)
    {
        using var output = new MemoryStream();
        using (var source = new System.IO.Compression.ZipArchive(new MemoryStream(archive)))
        using (var target = new System.IO.Compression.ZipArchive(output, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in source.Entries)
            {
                using Stream to = target.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
                if (entry.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                {
                    to.Write(pickle);
                }
                else
                {
                    using Stream from = entry.Open();
                    from.CopyTo(to);
                }
            }
        }
        return output.ToArray();
    }

    private static void LoadModel(string workDirectory, byte[]? weights, byte[]? config)
    {
        string mini = MiniModel(workDirectory);
        string folder = Path.Combine(workDirectory, "case");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), weights ?? File.ReadAllBytes(Path.Combine(mini, "model.safetensors")));
        File.WriteAllBytes(Path.Combine(folder, "config.json"), config ?? File.ReadAllBytes(Path.Combine(mini, "config.json")));
        using IJepaModel model = IJepaModel.FromPretrained(folder);
        using var pixels = TorchSharp.torch.zeros(1, 3, model.Config.ImageSize, model.Config.ImageSize);
        using IJepaModelOutput output = model.Forward(pixels);
    }
}
