using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using IJepa.Checkpoints.Original;
using TorchSharp;

namespace IJepa.Tests;

/// <summary>
/// The original-checkpoint reader (Checkpoints/Original) rule by rule, for the mutants Stryker left alive: crafted
/// pickles and torch.save archives (opcodes as in Python's pickletools; each sequence spelled out beside it) and
/// tiny-formats.pth.tar, written by torch.save in tests/reference/generate_original.py, whose values come from there.
/// </summary>
public class OriginalCheckpointMutantTests
{
    private const string Source = "test.pkl";

    private static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "original", name);

    // ---- pickle building: B() concatenates opcodes (char), single bytes (int), ASCII text (string) and byte arrays ----

    private static byte[] B(params object[] parts) => parts.SelectMany(p => p switch
    {
        char c => [(byte)c],
        int i => [(byte)i],
        string s => Encoding.ASCII.GetBytes(s),
        byte[] b => b,
        _ => throw new ArgumentException(p.GetType().Name),
    }).ToArray();

    private static byte[] Le32(int v)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return b;
    }

    /// <summary>BINUNICODE: 'X', a 4-byte little-endian length, UTF-8.</summary>
    private static byte[] Str(string s) => B('X', Le32(Encoding.UTF8.GetByteCount(s)), Encoding.UTF8.GetBytes(s));

    /// <summary>BININT: 'J' and a 4-byte little-endian signed integer.</summary>
    private static byte[] Int(long v) => B('J', Le32(checked((int)v)));

    /// <summary>MARK, the items, TUPLE.</summary>
    private static byte[] Tuple(params byte[][] items) => B('(', Cat(items), 't');

    private static byte[] Cat(IEnumerable<byte[]> parts) => parts.SelectMany(p => p).ToArray();

    private static byte[] Global(string module, string name) => B('c', $"{module}\n{name}\n");

    /// <summary>A persistent id as torch.save writes it, ('storage', torch.TYPE, key, 'cpu', elements), then BINPERSID.</summary>
    private static byte[] Storage(string key, long elements, string type = "FloatStorage") =>
        B(Tuple(Str("storage"), Global("torch", type), Str(key), Str("cpu"), Int(elements)), 'Q');

    /// <summary>
    /// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()): GLOBAL, MARK, the
    /// arguments, TUPLE, REDUCE; the hooks' OrderedDict is GLOBAL, EMPTY_TUPLE, REDUCE.
    /// </summary>
    private static byte[] TensorV2(byte[] storage, long offset, long[] size, long[]? stride = null) =>
        B(Global("torch._utils", "_rebuild_tensor_v2"), '(', storage, Int(offset), Tuple(size.Select(Int).ToArray()),
            Tuple((stride ?? Contiguous(size)).Select(Int).ToArray()), 0x89, Global("collections", "OrderedDict"), ')', 'R', 't', 'R');

    private static long[] Contiguous(long[] shape)
    {
        long[] stride = new long[shape.Length];
        long step = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = step;
            step *= shape[i];
        }
        return stride;
    }

    /// <summary>A float32 tensor in the 128-element storage "0" every crafted checkpoint has.</summary>
    private static byte[] F32(params long[] shape) => TensorV2(Storage("0", 128), 0, shape);

    /// <summary>EMPTY_DICT, MARK, key value …, SETITEMS.</summary>
    private static byte[] Dict(params (string Key, byte[] Value)[] items) => B('}', '(', Cat(items.Select(kv => B(Str(kv.Key), kv.Value))), 'u');

    /// <summary>PROTO 2, the body, STOP: the frame of every torch.save pickle.</summary>
    private static byte[] Pickle(byte[] body) => B(0x80, 2, body, '.');

    private static byte[] Floats(int count) => Enumerable.Range(0, count).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();

    /// <summary>The least an encoder state dict needs for its sizes to be inferred: width 8, 4 positions (grid 2), patch 2, 3 channels, 1 block, MLP 16.</summary>
    private static (string, byte[])[] MinimalEncoder(string prefix = "module.", params (string, byte[])[] more) =>
    [
        ("pos_embed", F32(1, 4, 8)),
        (prefix + "patch_embed.proj.weight", F32(8, 3, 2, 2)),
        (prefix + "blocks.0.norm1.weight", F32(8)),
        (prefix + "blocks.0.mlp.fc1.weight", F32(16, 8)),
        .. more,
    ];

    /// <summary>Predictor tensors for width 4 over encoder width 8, MLP 8, one block; <paramref name="positions"/> rows of positions.</summary>
    private static byte[] MinimalPredictor(long width = 4, long positions = 4) => Dict(
        ("module.predictor_embed.weight", F32(width, 8)),
        ("module.predictor_pos_embed", F32(1, positions, width)),
        ("module.predictor_blocks.0.norm1.weight", F32(width)),
        ("module.predictor_blocks.0.mlp.fc1.weight", F32(8, width)));

    private static string WriteZip(TempFolder folder, params (string Name, byte[] Data)[] entries)
    {
        string path = folder.File($"{Guid.NewGuid():N}.pth.tar");
        using ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach ((string name, byte[] data) in entries)
        {
            using Stream stream = zip.CreateEntry(name).Open();
            stream.Write(data);
        }
        return path;
    }

    /// <summary>A torch.save archive: arch/data.pkl and arch/data/0 holding 128 float32 (0, 1, 2, …), plus <paramref name="storages"/>.</summary>
    private static string Archive(TempFolder folder, byte[] pickle, params (string Key, byte[] Data)[] storages) =>
        WriteZip(folder, [("arch/data.pkl", pickle), ("arch/data/0", Floats(128)), .. storages.Select(s => ("arch/data/" + s.Key, s.Data))]);

    private static string Checkpoint(TempFolder folder, params (string Key, byte[] Value)[] root) => Archive(folder, Pickle(Dict(root)));

    private static object? Run(byte[] pickle) =>
        PickleReader.Load(pickle, Source, _ => true, (g, args) => $"{g}({args.Length})", id => id);

    private static void PickleFails(byte[] pickle, string problem)
    {
        var error = Assert.Throws<IJepaCheckpointException>(() => Run(pickle));
        Assert.Equal($"{Source}: malformed pickle: {problem}", error.Message);
    }

    private static IJepaCheckpointException Fails(string path, Action<string> action)
    {
        var error = Assert.Throws<IJepaCheckpointException>(() => action(path));
        Assert.Equal(Path.GetFullPath(path), error.Path);
        return error;
    }

    private static void OpenArchive(string path)
    {
        using TorchArchive archive = TorchArchive.Open(path);
    }

    private static bool IsOpen(string path) => SafetensorsMutantTests.OpenFiles().Contains(Path.GetFullPath(path));

    /// <summary>Patches the uncompressed size the zip records for <paramref name="name"/> (local header offset 22, central directory offset 24).</summary>
    private static void ClaimSize(string path, string name, uint size)
    {
        byte[] zip = File.ReadAllBytes(path);
        byte[] needle = Encoding.ASCII.GetBytes(name);
        for (int i = 0; i + 46 + needle.Length <= zip.Length; i++)
        {
            uint signature = BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i));
            if (signature == 0x04034b50 && zip.AsSpan(i + 30, needle.Length).SequenceEqual(needle))
            {
                BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(i + 22), size);
            }
            else if (signature == 0x02014b50 && zip.AsSpan(i + 46, needle.Length).SequenceEqual(needle))
            {
                BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(i + 24), size);
            }
        }
        File.WriteAllBytes(path, zip);
    }

    /// <summary>Makes the deflate data of the entry <paramref name="name"/> invalid: first block type 3, which deflate reserves.</summary>
    private static void CorruptDeflate(string path, string name)
    {
        byte[] zip = File.ReadAllBytes(path);
        byte[] needle = Encoding.ASCII.GetBytes(name);
        for (int i = 0; i + 30 <= zip.Length; i++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(i)) == 0x04034b50 && zip.AsSpan(i + 30, needle.Length).SequenceEqual(needle))
            {
                int data = i + 30 + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(i + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(i + 28));
                zip[data] = 0x07; // BFINAL 1, BTYPE 11
            }
        }
        File.WriteAllBytes(path, zip);
    }

    // ---- OriginalCheckpoint ----

    [Fact]
    public void An_empty_path_is_an_argument_error_of_its_own()
    {
        var error = Assert.Throws<ArgumentException>(() => OriginalCheckpoint.Open(""));
        Assert.Equal("path", error.ParamName);
        Assert.StartsWith("The value cannot be an empty string.", error.Message, StringComparison.Ordinal); // the caller's error, not the file's
    }

    [Fact]
    public void A_root_that_is_not_a_dict_is_refused_and_the_file_closed()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Archive(folder, Pickle(B(']'))); // EMPTY_LIST
        var error = Fails(path, p => OriginalCheckpoint.Open(p));
        Assert.Equal($"{path}: the checkpoint is not a dict (expected encoder, predictor, target_encoder, opt, ...)", error.Message);
        if (OperatingSystem.IsLinux())
        {
            Assert.False(IsOpen(path));
        }
    }

    [Fact]
    public void A_part_that_is_not_a_state_dict_of_tensors_is_named()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Checkpoint(folder, ("encoder", Dict(("module.pos_embed", Int(1)))));
        var error = Fails(path, p => OriginalCheckpoint.Open(p));
        Assert.Equal($"{path}: 'encoder' is not a state dict of named tensors", error.Message);
    }

    [Fact]
    public void Keys_without_the_module_prefix_are_kept_whole()
    {
        // A checkpoint saved without DistributedDataParallel has plain keys; here pos_embed is plain and the rest prefixed.
        using TempFolder folder = TestData.NewFolder();
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, ("encoder", Dict(MinimalEncoder()))));
        IJepaConfig config = checkpoint.InferEncoderConfig(EncoderPart.Encoder, numAttentionHeads: 2);
        Assert.Equal((8, 1, 2, 16, 2, 4, 3), (config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads, config.IntermediateSize, config.PatchSize, config.ImageSize, config.NumChannels));
    }

    [Fact]
    public void Either_encoder_alone_makes_a_checkpoint_and_neither_is_refused()
    {
        using TempFolder folder = TestData.NewFolder();
        foreach (string part in new[] { "encoder", "target_encoder" })
        {
            using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, (part, Dict(MinimalEncoder())), ("epoch", Int(3))));
            Assert.Equal([part], checkpoint.Parts);
            Assert.Equal("3", checkpoint.Info["epoch"]);
        }
        string path = Checkpoint(folder, ("predictor", MinimalPredictor()));
        var error = Fails(path, p => OriginalCheckpoint.Open(p));
        Assert.Equal($"{path}: neither 'encoder' nor 'target_encoder' is in the checkpoint: not an I-JEPA training checkpoint", error.Message);
    }

    [Fact]
    public void Info_holds_only_the_plain_top_level_values()
    {
        // generate_original.py: "epoch": 300, "loss": 0.1234, "batch_size": 128, "world_size": 16, "lr": 0.001 beside the dicts.
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Data("tiny-ijepa.pth.tar"));
        Assert.Equal(
            [("batch_size", "128"), ("epoch", "300"), ("loss", "0.1234"), ("lr", "0.001"), ("world_size", "16")],
            checkpoint.Info.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)));
    }

    [Fact]
    public void Position_tables_must_be_square_and_three_dimensional()
    {
        using TempFolder folder = TestData.NewFolder();
        using (OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, ("encoder", Dict([.. MinimalEncoder().Skip(1), ("pos_embed", F32(1, 5, 8))])))))
        {
            var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.InferEncoderConfig(EncoderPart.Encoder, 2));
            Assert.Equal($"{checkpoint.Path}: pos_embed holds 5 positions, not a square grid", error.Message);
        }
        using (OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, ("encoder", Dict([.. MinimalEncoder().Skip(1), ("pos_embed", F32(4, 8))])))))
        {
            var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.InferEncoderConfig(EncoderPart.Encoder, 2));
            Assert.Equal($"{checkpoint.Path}: 'pos_embed' is missing or not 3-dimensional, so the sizes cannot be inferred", error.Message);
        }
    }

    [Fact]
    public void Inferred_configs_that_fit_no_model_say_so()
    {
        using TempFolder folder = TestData.NewFolder();
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, ("encoder", Dict(MinimalEncoder()))));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.InferEncoderConfig(EncoderPart.Encoder, 3));
        Assert.Equal(["inferred config: hidden_size 8 is not a multiple of num_attention_heads 3"], error.Problems);
    }

    [Fact]
    public void A_missing_part_names_the_parts_there_are()
    {
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Data("tiny-no-predictor.pth.tar"));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadPredictor(numAttentionHeads: 4));
        Assert.Equal($"{checkpoint.Path}: the checkpoint has no 'predictor' (it has encoder, target_encoder)", error.Message);
    }

    [Fact]
    public void Loading_lists_missing_misshaped_and_unexpected_tensors_in_order()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Checkpoint(folder, ("encoder", Dict(MinimalEncoder("module.",
            ("module.blocks.0.attn.proj.weight", F32(8)), ("module.zz.extra", F32(1)), ("module.aa.extra", F32(1))))));
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(path);
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadEncoder(EncoderPart.Encoder, numAttentionHeads: 2));
        Assert.Contains("missing 'encoder.norm.weight'", error.Problems);
        Assert.Contains("'encoder.blocks.0.attn.proj.weight' is [8] but the inferred config needs [8,8]", error.Problems);
        Assert.Equal(["unexpected 'encoder.aa.extra'", "unexpected 'encoder.zz.extra'"], error.Problems.TakeLast(2));
    }

    [Fact]
    public void A_failed_load_releases_the_model_it_built()
    {
        using TempFolder folder = TestData.NewFolder();
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder,
            ("encoder", Dict(MinimalEncoder())), ("predictor", MinimalPredictor())));
        // This thread's live tensors: a model left undisposed keeps its 18 parameters (a predictor its 20) alive.
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadEncoder(EncoderPart.Encoder, numAttentionHeads: 2));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadPredictor(numAttentionHeads: 2));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Contains("missing 'predictor.mask_token'", error.Problems);
    }

    [Fact]
    public void The_predictor_takes_its_heads_from_whichever_encoder_there_is()
    {
        // The predictor dict is empty, so loading stops at its first tensor: after the heads came from the encoder present.
        using TempFolder folder = TestData.NewFolder();
        foreach (string part in new[] { "encoder", "target_encoder" })
        {
            using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder, (part, Dict(MinimalEncoder())), ("predictor", Dict())));
            var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadPredictor(numAttentionHeads: 2));
            Assert.Equal($"{checkpoint.Path}: 'predictor_embed.weight' is missing or not 2-dimensional, so the sizes cannot be inferred", error.Message);
        }
    }

    [Theory]
    [InlineData(4, 5, "width 4, 2 heads, 5 positions")] // not a square grid
    [InlineData(5, 4, "width 5, 2 heads, 4 positions")] // heads do not divide the width
    public void Predictor_sizes_that_do_not_fit_are_refused(long width, long positions, string sizes)
    {
        using TempFolder folder = TestData.NewFolder();
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Checkpoint(folder,
            ("target_encoder", Dict(MinimalEncoder())), ("predictor", MinimalPredictor(width, positions))));
        var error = Assert.Throws<IJepaCheckpointException>(() => checkpoint.LoadPredictor(numAttentionHeads: 2));
        Assert.Equal($"{checkpoint.Path}: predictor sizes do not fit: {sizes}", error.Message);
    }

    [Fact]
    public void The_predictor_is_built_on_the_device_asked_for()
    {
        // The meta device holds no data, so the load goes through the staging copy and leaves every parameter there.
        using OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Data("tiny-ijepa.pth.tar"));
        using IJepaPredictor predictor = checkpoint.LoadPredictor(device: new Device(TorchSharp.DeviceType.META), numAttentionHeads: 4);
        Assert.Equal(TorchSharp.DeviceType.META, predictor.Device.type);
        Assert.All(predictor.parameters(), p => Assert.Equal(TorchSharp.DeviceType.META, p.device_type));
    }

    [Fact]
    public void A_converted_folder_has_the_Hugging_Face_preprocessing()
    {
        // The preprocessor_config.json of the Hugging Face I-JEPA conversions; 1/255 as Python prints it.
        using TempFolder folder = TestData.NewFolder();
        using (OriginalCheckpoint checkpoint = OriginalCheckpoint.Open(Data("tiny-ijepa.pth.tar")))
        {
            checkpoint.SaveAsHuggingFace(folder.Path, EncoderPart.Encoder, numAttentionHeads: 4);
        }
        string text = File.ReadAllText(folder.File("preprocessor_config.json"));
        Assert.StartsWith("{\n  \"do_normalize\": true,\n  \"do_rescale\": true,\n  \"do_resize\": true,\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        using JsonDocument json = JsonDocument.Parse(text);
        Assert.Equal(
            ["do_normalize=True", "do_rescale=True", "do_resize=True", "image_mean=[0.5,0.5,0.5]", "image_processor_type=ViTImageProcessor",
                "image_std=[0.5,0.5,0.5]", "resample=2", "rescale_factor=0.00392156862745098", "size={\"height\":42,\"width\":42}"],
            json.RootElement.EnumerateObject().Select(p => $"{p.Name}={(p.Value.ValueKind is JsonValueKind.Array or JsonValueKind.Object ? JsonSerializer.Serialize(p.Value) : p.Value.ToString())}"));
    }

    // ---- PickleReader ----

    [Fact]
    public void Protocols_up_to_5_are_read()
    {
        Assert.Null(Run(B(0x80, 5, 'N', '.'))); // PROTO 5, NONE, STOP
        PickleFails(B(0x80, 6, 'N', '.'), "unsupported pickle protocol");
        // PROTO 4, FRAME of 3 bytes (8-byte length), BININT1 7, STOP
        Assert.Equal(7L, Run(B(0x80, 4, 0x95, 3, 0, 0, 0, 0, 0, 0, 0, 'K', 7, '.')));
    }

    [Fact]
    public void Constants_and_small_integers()
    {
        Assert.Null(Run(B('N', '.')));
        Assert.Equal(true, Run(B(0x88, '.'))); // NEWTRUE
        Assert.Equal(false, Run(B(0x89, '.'))); // NEWFALSE
        Assert.Equal(-2L, Run(B('J', 0xFE, 0xFF, 0xFF, 0xFF, '.'))); // BININT, signed
        Assert.Equal(65535L, Run(B('M', 0xFF, 0xFF, '.'))); // BININT2, unsigned
    }

    [Theory]
    // The bytes are Python's pickle.encode_long(value): little-endian two's complement, as short as it goes.
    [InlineData("", 0L)]
    [InlineData("ff", -1L)]
    [InlineData("ff00", 255L)]
    [InlineData("8000", 128L)]
    [InlineData("00ff", -256L)]
    [InlineData("0000008000", 2147483648L)]
    [InlineData("ffffff7fff", -2147483649L)]
    [InlineData("ffffffffffffff7f", long.MaxValue)]
    [InlineData("0000000000000080", long.MinValue)]
    public void LONG1_reads_two_s_complement(string hex, long value)
    {
        byte[] raw = Convert.FromHexString(hex);
        Assert.Equal(value, Run(B(0x8A, raw.Length, raw, '.')));
    }

    [Fact]
    public void LONG1_beyond_64_bits_is_refused() =>
        PickleFails(B(0x8A, 9, Convert.FromHexString("000000000000008000"), '.'), "integer too large"); // 2**63

    [Fact]
    public void Strings_and_bytes_in_every_encoding()
    {
        Assert.Equal("é", Run(B(0x8C, 2, 0xC3, 0xA9, '.'))); // SHORT_BINUNICODE, UTF-8
        Assert.Equal("", Run(B('X', 0, 0, 0, 0, '.'))); // BINUNICODE of length 0
        Assert.Equal("é", Run(B('U', 1, 0xE9, '.'))); // SHORT_BINSTRING, Latin-1
        Assert.Equal("é", Run(B('T', 1, 0, 0, 0, 0xE9, '.'))); // BINSTRING
        Assert.Equal("", Run(B('T', 0, 0, 0, 0, '.')));
        PickleFails(B('T', 0xFF, 0xFF, 0xFF, 0xFF, '.'), "negative length");
        Assert.Equal(new byte[] { 1, 2 }, Run(B('C', 2, 1, 2, '.'))); // SHORT_BINBYTES
        Assert.Equal(new byte[] { 3 }, Run(B('B', 1, 0, 0, 0, 3, '.'))); // BINBYTES
        Assert.Equal(Array.Empty<byte>(), Run(B('B', 0, 0, 0, 0, '.')));
    }

    [Fact]
    public void Lists_dicts_and_the_memo()
    {
        Assert.Equal(new List<object?> { 1L, 2L }, Run(B('(', 'K', 1, 'K', 2, 'l', '.'))); // MARK 1 2 LIST
        Assert.Equal(new Dictionary<object, object?> { [1L] = 2L }, Run(B('(', 'K', 1, 'K', 2, 'd', '.'))); // MARK 1 2 DICT
        Assert.Equal(new List<object?> { 1L }, Run(B(']', 'K', 1, 'a', '.'))); // EMPTY_LIST 1 APPEND
        Assert.Equal(new List<object?> { 1L, 2L }, Run(B(']', '(', 'K', 1, 'K', 2, 'e', '.'))); // EMPTY_LIST MARK 1 2 APPENDS
        Assert.Equal(new Dictionary<object, object?> { [1L] = 2L }, Run(B('}', 'K', 1, 'K', 2, 's', '.'))); // EMPTY_DICT 1 2 SETITEM
        // A key without a value: CPython's messages ("odd number of items for SETITEMS", "… for DICT")
        PickleFails(B('}', '(', 'K', 1, 'K', 2, 'K', 3, 'u', '.'), "odd number of items for SETITEMS"); // EMPTY_DICT MARK 1 2 3 SETITEMS
        PickleFails(B('(', 'K', 1, 'K', 2, 'K', 3, 'd', '.'), "odd number of items for DICT"); // MARK 1 2 3 DICT
        // EMPTY_DICT MARK NONE 1 SETITEMS: a None key (a .NET dictionary holds no null key)
        Assert.Equal(new Dictionary<object, object?> { ["None"] = 1L }, Run(B('}', '(', 'N', 'K', 1, 'u', '.')));
        Assert.Equal(new object?[] { 5L, 5L }, Run(B('K', 5, 0x94, 'h', 0, 0x86, '.'))); // 5 MEMOIZE BINGET 0 TUPLE2
        Assert.Equal(new object?[] { 1L, 2L }, Run(B('(', 'K', 1, 'K', 2, 't', '.'))); // a MARK at the bottom of the stack
    }

    [Fact]
    public void Globals_reduce_and_build()
    {
        Assert.Equal(new PickleGlobal("m", "n"), Run(B(Str("m"), Str("n"), 0x93, '.'))); // STACK_GLOBAL
        PickleFails(B('K', 1, 'K', 2, 0x93, '.'), "STACK_GLOBAL without a module and a name");
        PickleFails(B('K', 1, ')', 'R', '.'), "REDUCE of something that is not an allowed global");
        Assert.Equal(new Dictionary<object, object?>(), Run(B('}', 'K', 1, 'b', '.'))); // BUILD drops the state
        PickleFails(B('(', 'K', 1, 'b', ')', '.'), "stack underflow"); // BUILD onto a MARK
        string module = new('m', 256);
        Assert.Equal(new PickleGlobal(module, "n"), Run(B(Global(module, "n"), '.'))); // the longest GLOBAL line
        PickleFails(B(Global(module + "m", "n"), '.'), "malformed GLOBAL");
    }

    [Fact]
    public void Malformed_pickles_say_what_is_wrong()
    {
        PickleFails(B('K', 1, 'K', 2, 'a', '.'), "APPEND to something that is not a list");
        PickleFails(B('K', 1, 'K', 2, 'K', 3, 's', '.'), "SETITEM on something that is not a dict");
        PickleFails(B('h', 5, '.'), "memo key 5 used before it was set");
        PickleFails(B('.'), "stack underflow");
        PickleFails(B('t', '.'), "no MARK on the stack");
        PickleFails(B(), "the pickle ends early (truncated)");
        PickleFails(B('X', 3, 0, 0, 0, "abc"), "the pickle ends early (truncated)"); // the string fits; STOP is missing
        PickleFails(B('X', 16, 0, 0, 0, "ab"), "the pickle ends early (truncated), or a length is corrupt");
        PickleFails(B(0x80, 2, 0xFF), "unsupported pickle opcode 0xFF at byte 2");
    }

    [Fact]
    public void The_memo_holds_at_most_ten_million_objects()
    {
        // NONE, then 10,000,001 MEMOIZE: the last one is over the limit.
        byte[] pickle = new byte[10_000_003];
        pickle[0] = (byte)'N';
        pickle.AsSpan(1, 10_000_001).Fill(0x94);
        pickle[^1] = (byte)'.';
        PickleFails(pickle, "too many memoized objects");
    }

    // ---- TorchArchive ----

    [Fact]
    public void Every_storage_type_and_view_reads_back_as_torch_saved_it()
    {
        // Values and layouts as generate_original.py's formats_checkpoint wrote them (torch 1.13).
        using TorchArchive archive = TorchArchive.Open(Data("tiny-formats.pth.tar"));
        var root = Assert.IsType<Dictionary<object, object?>>(archive.Root);
        double[] Read(string name, ScalarType dtype, params long[] shape)
        {
            TensorRef source = Assert.IsType<TensorRef>(root[name]);
            Assert.Equal(shape, source.Shape);
            using Tensor destination = zeros(shape, dtype);
            archive.ReadInto(source, destination);
            if (destination.numel() == 0)
            {
                return [];
            }
            using Tensor values = destination.to(ScalarType.Float64);
            return values.data<double>().ToArray();
        }
        (string Name, ScalarType DType, double[] Values)[] types =
        [
            ("float32", ScalarType.Float32, [1.5, -2.25]), ("float16", ScalarType.Float16, [1.5, -2.25]),
            ("bfloat16", ScalarType.BFloat16, [1.5, -2.25]), ("float64", ScalarType.Float64, [1.5, -2.25]),
            ("int64", ScalarType.Int64, [3, -4]), ("int32", ScalarType.Int32, [3, -4]), ("int16", ScalarType.Int16, [3, -4]),
            ("int8", ScalarType.Int8, [3, -4]), ("uint8", ScalarType.Byte, [3, 250]), ("bool", ScalarType.Bool, [1, 0]),
        ];
        foreach ((string name, ScalarType dtype, double[] values) in types)
        {
            Assert.Equal(dtype, ((TensorRef)root[name]!).Storage.DType);
            Assert.Equal(values, Read(name, dtype, 2));
            Assert.Equal(values, Read(name, ScalarType.Float64, 2)); // converted through the staging copy
        }
        long before = archive.BytesRead;
        Assert.Equal([4.0, 5, 6], Read("offset", ScalarType.Float32, 3)); // base[4:7]
        Assert.Equal(12, archive.BytesRead - before); // only the three elements
        before = archive.BytesRead;
        Assert.Equal([1.0, 5, 9, 2, 6, 10, 3, 7, 11], Read("strided", ScalarType.Float32, 3, 3)); // view(3, 4).t()[1:]
        Assert.Equal(48, archive.BytesRead - before); // the whole 12-element storage, staged
        Assert.Equal([2.5, 2.5, 2.5], Read("expanded", ScalarType.Float32, 3)); // stride 0
        Assert.Equal([0.5, 0.75, 1.0], Read("half_offset", ScalarType.Float16, 3)); // (arange(6) / 4)[2:5]: 2-byte elements
        Assert.Empty(Read("empty", ScalarType.Float32, 0, 3));
        Assert.Equal([1.0, 2.0], Read("parameter", ScalarType.Float32, 2)); // nn.Parameter: _rebuild_parameter
        Assert.Equal((2, 2, 2, 1), (TorchArchive.ElementSize(ScalarType.Float16), TorchArchive.ElementSize(ScalarType.BFloat16), TorchArchive.ElementSize(ScalarType.Int16), TorchArchive.ElementSize(ScalarType.Bool)));
    }

    [Fact]
    public void Contiguity_follows_the_strides_and_ignores_size_one_dimensions()
    {
        var storage = new StorageRef("0", ScalarType.Float32, 100);
        Assert.True(new TensorRef(storage, 0, [2, 3], [3, 1]).IsContiguous);
        Assert.True(new TensorRef(storage, 0, [1, 3], [7, 1]).IsContiguous); // a size-1 dimension's stride is free
        Assert.False(new TensorRef(storage, 0, [2, 3], [1, 2]).IsContiguous); // transposed
        Assert.False(new TensorRef(storage, 0, [2, 4], [8, 1]).IsContiguous); // every other row: only dimension 0 is off
    }

    [Fact]
    public void A_large_offset_is_skipped_in_pieces()
    {
        // 20,000 float32 i at element i; the tensor starts at element 17,000 (68,000 bytes in, over the 64 KiB skip buffer).
        using TempFolder folder = TestData.NewFolder();
        string path = Archive(folder, Pickle(Dict(("t", TensorV2(Storage("big", 20_000), 17_000, [3])))), ("big", Floats(20_000)));
        using TorchArchive archive = TorchArchive.Open(path);
        using Tensor destination = zeros(3);
        archive.ReadInto((TensorRef)((Dictionary<object, object?>)archive.Root!)["t"]!, destination);
        Assert.Equal([17_000f, 17_001f, 17_002f], destination.data<float>().ToArray());
    }

    [Theory]
    // Storage "0" holds 128 elements; [offset, shape, stride]
    [InlineData(0, new long[] { 128 }, new long[] { 1 }, true)] // exactly the storage
    [InlineData(125, new long[] { 3 }, new long[] { 1 }, true)] // its last three elements
    [InlineData(126, new long[] { 3 }, new long[] { 1 }, false)] // one past
    [InlineData(1, new long[] { 2, 64 }, new long[] { 64, 1 }, false)] // last element 1 + 64 + 63 = 128
    [InlineData(0, new long[] { 2, 64 }, new long[] { 64, 1 }, true)]
    [InlineData(-1, new long[] { 2 }, new long[] { 1 }, false)] // a negative offset
    [InlineData(128, new long[] { 0 }, new long[] { 1 }, true)] // no elements: nothing is read
    [InlineData(0, new long[] { 2, 0 }, new long[] { 200, 1 }, true)]
    public void Tensors_must_lie_inside_their_storage(long offset, long[] shape, long[] stride, bool fits)
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Archive(folder, Pickle(TensorV2(Storage("0", 128), offset, shape, stride)));
        if (fits)
        {
            using TorchArchive archive = TorchArchive.Open(path);
            Assert.Equal(shape, Assert.IsType<TensorRef>(archive.Root).Shape);
        }
        else
        {
            var error = Fails(path, OpenArchive);
            Assert.Equal($"{error.Path}: malformed checkpoint: a tensor [{string.Join(",", shape)}] reaches past its storage of 128 elements", error.Message);
        }
    }

    [Fact]
    public void Malformed_tensors_and_storages_say_what_is_wrong()
    {
        using TempFolder folder = TestData.NewFolder();
        void Refused(byte[] body, string problem, params (string, byte[])[] storages)
        {
            var error = Fails(Archive(folder, Pickle(body), storages), OpenArchive);
            Assert.Equal($"{error.Path}: {problem}", error.Message);
        }
        Refused(TensorV2(Storage("0", 128), 0, [-1]), "malformed checkpoint: a tensor size is not a non-negative integer");
        Refused(TensorV2(Storage("0", 128), 0, [2], [-1]), "malformed checkpoint: a tensor stride is not a non-negative integer");
        // ('storage', FloatStorage, '0', 'cpu') BINPERSID: four items
        Refused(B(Tuple(Str("storage"), Global("torch", "FloatStorage"), Str("0"), Str("cpu")), 'Q'), "malformed checkpoint: a persistent id that is not ('storage', type, key, location, size)");
        // an allowed global that is no storage type in the id's type slot
        Refused(B(Tuple(Str("storage"), Global("collections", "OrderedDict"), Str("0"), Str("cpu"), Int(1)), 'Q'), "malformed checkpoint: unknown storage type collections.OrderedDict");
        Refused(Storage("9", 1), "storage '9' is missing from the archive (truncated or incomplete file)");
        Refused(Storage("s", 3), "storage 's' holds 8 bytes, fewer than its 3 elements of Float32 need", ("s", new byte[8]));
        Refused(Storage("s", -1), "storage 's' holds 8 bytes, fewer than its -1 elements of Float32 need", ("s", new byte[8]));
        Refused(Storage("h", 3, "HalfStorage"), "storage 'h' holds 5 bytes, fewer than its 3 elements of Float16 need", ("h", new byte[5]));
        // collections.OrderedDict called with one argument: MARK 1 TUPLE REDUCE
        Refused(B(Global("collections", "OrderedDict"), Tuple(Int(1)), 'R'), "malformed checkpoint: unexpected call collections.OrderedDict(1 arguments)");
        using TorchArchive more = TorchArchive.Open(Archive(folder, Pickle(Storage("s", 2)), ("s", new byte[12]))); // more bytes than needed is fine
        Assert.Equal(new StorageRef("s", ScalarType.Float32, 2), more.Root);
    }

    [Fact]
    public void A_parameter_needs_only_its_tensor()
    {
        // torch._utils._rebuild_parameter(tensor): MARK, the tensor, TUPLE, REDUCE (torch passes requires_grad and hooks too)
        using TempFolder folder = TestData.NewFolder();
        using TorchArchive archive = TorchArchive.Open(Archive(folder, Pickle(B(Global("torch._utils", "_rebuild_parameter"), Tuple(F32(2)), 'R'))));
        Assert.Equal([2L], Assert.IsType<TensorRef>(archive.Root).Shape);
    }

    [Fact]
    public void Files_that_are_not_archives_are_named_clearly()
    {
        using TempFolder folder = TestData.NewFolder();
        string text = folder.File("text.pth.tar");
        File.WriteAllText(text, "not a zip");
        Assert.StartsWith($"{text}: not a torch.save zip archive (truncated or corrupt, or the pre-1.6 legacy format): ", Fails(text, OpenArchive).Message, StringComparison.Ordinal);
        string missing = folder.File("missing.pth.tar");
        var error = Fails(missing, OpenArchive);
        Assert.StartsWith($"{missing}: cannot open the checkpoint: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
        error = Fails(folder.Path, OpenArchive);
        Assert.StartsWith($"{folder.Path}: cannot open the checkpoint: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<UnauthorizedAccessException>(error.InnerException);
        foreach (int count in new[] { 0, 2 })
        {
            string path = WriteZip(folder, [.. Enumerable.Range(0, count).Select(i => ($"a{i}/data.pkl", Pickle(B('N')))), ("version", "3\n"u8.ToArray())]);
            Assert.Equal($"{path}: expected one ARCHIVE/data.pkl in the zip, found {count}: not a torch.save archive", Fails(path, OpenArchive).Message);
        }
    }

    [Fact]
    public void A_corrupt_central_directory_is_named_and_the_file_closed()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Archive(folder, Pickle(B('N')));
        byte[] zip = File.ReadAllBytes(path);
        int central = zip.AsSpan().IndexOf("PK\u0001\u0002"u8);
        zip[central + 3] = 9; // no longer a central directory header signature
        File.WriteAllBytes(path, zip);
        Assert.StartsWith($"{path}: corrupt zip archive: ", Fails(path, OpenArchive).Message, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            Assert.False(IsOpen(path));
        }
    }

    [Fact]
    public void A_refused_pickle_leaves_the_file_closed()
    {
        using TempFolder folder = TestData.NewFolder();
        string path = Archive(folder, Pickle(Global("os", "system")));
        Assert.Contains("refusing to unpickle: it references 'os.system'", Fails(path, OpenArchive).Message, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            Assert.False(IsOpen(path));
        }
    }

    [Fact]
    public void The_pickle_size_limit_is_256_MiB()
    {
        // A two-byte pickle whose zip entry claims to be larger: at the limit it is read (and found short), past it refused unread.
        using TempFolder folder = TestData.NewFolder();
        string at = Archive(folder, Pickle(B('N')));
        ClaimSize(at, "arch/data.pkl", 256u << 20);
        var error = Fails(at, OpenArchive);
        Assert.StartsWith($"{at}: cannot read arch/data.pkl: ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(" (truncated or corrupt file)", error.Message, StringComparison.Ordinal);
        Assert.IsType<EndOfStreamException>(error.InnerException);
        string past = Archive(folder, Pickle(B('N')));
        ClaimSize(past, "arch/data.pkl", (256u << 20) + 1);
        Assert.Equal($"{past}: data.pkl is {(256L << 20) + 1:N0} bytes, more than a checkpoint's pickle needs", Fails(past, OpenArchive).Message);
        string corrupt = Archive(folder, Pickle(B('N')));
        CorruptDeflate(corrupt, "arch/data.pkl");
        error = Fails(corrupt, OpenArchive);
        Assert.StartsWith($"{corrupt}: cannot read arch/data.pkl: ", error.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidDataException>(error.InnerException);
    }

    [Fact]
    public void Storages_that_cannot_be_read_are_named()
    {
        using TempFolder folder = TestData.NewFolder();
        void Unreadable(string path, long offset, long count, Type inner)
        {
            using TorchArchive archive = TorchArchive.Open(path);
            using Tensor destination = zeros(count);
            var error = Assert.Throws<IJepaCheckpointException>(() => archive.ReadInto(new TensorRef(new StorageRef("s", ScalarType.Float32, 10), offset, [count], [1]), destination));
            Assert.StartsWith($"{path}: cannot read storage 's': ", error.Message, StringComparison.Ordinal);
            Assert.EndsWith(" (truncated or corrupt file)", error.Message, StringComparison.Ordinal);
            Assert.IsType(inner, error.InnerException);
        }
        // The entry says 40 bytes (10 elements) but holds 8: three elements from the start run out, and so does skipping to element 5.
        string shortEntry = Archive(folder, Pickle(Storage("s", 10)), ("s", new byte[8]));
        ClaimSize(shortEntry, "arch/data/s", 40);
        Unreadable(shortEntry, 0, 3, typeof(EndOfStreamException));
        Unreadable(shortEntry, 5, 2, typeof(EndOfStreamException));
        string corrupt = Archive(folder, Pickle(Storage("s", 10)), ("s", new byte[40]));
        CorruptDeflate(corrupt, "arch/data/s");
        Unreadable(corrupt, 0, 2, typeof(InvalidDataException));
    }

    [Fact]
    public void A_destination_of_the_wrong_size_is_not_reported_as_a_corrupt_file()
    {
        // A caller's mistake (the plan checks shapes first) must not read as damage to the checkpoint.
        using TorchArchive archive = TorchArchive.Open(Data("tiny-formats.pth.tar"));
        using Tensor destination = zeros(2);
        var error = Assert.ThrowsAny<Exception>(() => archive.ReadInto((TensorRef)((Dictionary<object, object?>)archive.Root!)["strided"]!, destination));
        Assert.IsNotType<IJepaCheckpointException>(error);
    }
}
