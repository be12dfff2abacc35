using System.Globalization;
using System.Text.Json;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>The samples run as a user runs them: as processes, checked by exit code, output files and messages.</summary>
public class SampleTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static string Model => TestData.Reference("ijepa_tiny_p14");

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static DotnetCli.Result FeatureDump(string workingDirectory, params string[] arguments) =>
        DotnetCli.RunProgram(DotnetCli.Dotnet, workingDirectory, Timeout, [DotnetCli.Sample("IJepa.FeatureDump"), .. arguments]);

    private static DotnetCli.Result Similarity(string workingDirectory, params string[] arguments) =>
        DotnetCli.RunProgram(DotnetCli.Dotnet, workingDirectory, Timeout, [DotnetCli.Sample("IJepa.Similarity"), .. arguments]);

    /// <summary>A folder of three images whose ordinal order differs from a case-insensitive one, plus a broken one when asked.</summary>
    private static TempFolder ImageFolder(bool withBrokenImage = false)
    {
        TempFolder folder = TestData.NewFolder();
        Directory.CreateDirectory(folder.File("b"));
        File.Copy(Image("photo_flower.png"), folder.File("a.png"));
        File.Copy(Image("checker_97x61.png"), folder.File("B.png"));
        File.Copy(Image("small_17x23.png"), Path.Combine(folder.File("b"), "1.png"));
        File.WriteAllText(folder.File("notes.txt"), "not an image, and not an image extension either");
        if (withBrokenImage)
        {
            File.WriteAllBytes(folder.File("Broken.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, (byte)'J', (byte)'F']);
        }
        return folder;
    }

    private static string[] Ordered(TempFolder folder) =>
        [folder.File("B.png"), folder.File("a.png"), Path.Combine(folder.File("b"), "1.png")];

    [Fact]
    public void FeatureDump_writes_pooled_and_patches_with_the_inputs_in_ordinal_order()
    {
        using TempFolder images = ImageFolder();
        using TempFolder outDir = TestData.NewFolder();
        string output = outDir.File("features.safetensors");
        DotnetCli.Result run = FeatureDump(outDir.Path, "--model", Model, "--patches", "--batch", "2", "--out", output, images.Path);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("done: 3 images encoded, 0 failed", run.Output, StringComparison.Ordinal);

        using Tensor pooled = TestData.ReadTensor(output, "pooled");
        using Tensor patches = TestData.ReadTensor(output, "patches");
        Assert.Equal([3L, 48L], pooled.shape);
        Assert.Equal([3L, 25L, 48L], patches.shape);
        using (SafetensorsFile file = SafetensorsFile.Open(output))
        {
            Assert.Equal("ijepa_tiny_p14", file.Metadata["model"]);
            Assert.Equal(Ordered(images), JsonSerializer.Deserialize<string[]>(file.Metadata["inputs"]));
        }
        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 2 });
        IReadOnlyList<ImageEmbedding> expected = encoder.EncodeBatch(Ordered(images).Select(ImageInput.FromFile));
        for (int i = 0; i < 3; i++)
        {
            using Tensor row = pooled[i];
            using Tensor patchRow = patches[i].flatten();
            AssertClose(expected[i].Pooled, row.data<float>().ToArray());
            AssertClose(expected[i].Patches!, patchRow.data<float>().ToArray());
        }
    }

    [Fact]
    public void FeatureDump_backend_pil_gives_the_pil_processors_features()
    {
        using TempFolder outDir = TestData.NewFolder();
        string[] photos = [Image("photo_flower.png"), Image("photo_ladybird.jpg")];
        DotnetCli.Result run = FeatureDump(outDir.Path, ["--model", Model, "--backend", "pil", "--out", "pil.npy", .. photos]);
        Assert.True(run.ExitCode == 0, run.ToString());
        byte[] npy = File.ReadAllBytes(outDir.File("pil.npy"));
        int start = 10 + BitConverter.ToUInt16(npy, 8);
        float[] dumped = new float[2 * 48];
        Buffer.BlockCopy(npy, start, dumped, 0, dumped.Length * 4);

        using IJepaEncoder pil = IJepaEncoder.Load(Model, new IJepaEncoderOptions { Backend = PreprocessingBackend.Pil });
        using IJepaEncoder torchvision = IJepaEncoder.Load(Model);
        for (int i = 0; i < 2; i++)
        {
            float[] row = dumped[(i * 48)..((i + 1) * 48)];
            AssertClose(pil.Encode(photos[i]).Pooled, row);
            // The two processors resize a few pixels differently, so the features must differ too.
            Assert.NotEqual(torchvision.Encode(photos[i]).Pooled, row);
        }
    }

    [Fact]
    public void FeatureDump_lets_OpenMP_threads_sleep_unless_the_environment_says_how_they_wait()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the report below is GNU OpenMP's, the libtorch of Linux packages
        }
        using TempFolder images = ImageFolder();
        using TempFolder outDir = TestData.NewFolder();
        // OMP_DISPLAY_ENV=verbose makes OpenMP print the settings it took, when libtorch loads.
        DotnetCli.Result Run(string? policy, string? spinCount, string? blockTime = null) => DotnetCli.RunProgram(DotnetCli.Dotnet, outDir.Path, Timeout,
            new Dictionary<string, string?> { ["OMP_DISPLAY_ENV"] = "verbose", ["OMP_WAIT_POLICY"] = policy, ["GOMP_SPINCOUNT"] = spinCount, ["KMP_BLOCKTIME"] = blockTime },
            DotnetCli.Sample("IJepa.FeatureDump"), "--model", Model, "--out", "f.npy", images.Path);

        DotnetCli.Result unset = Run(null, null);
        Assert.True(unset.ExitCode == 0, unset.ToString());
        Assert.Contains("GOMP_SPINCOUNT = '0'", unset.Error, StringComparison.Ordinal); // passive: no spinning at all

        DotnetCli.Result active = Run("ACTIVE", null);
        Assert.True(active.ExitCode == 0, active.ToString());
        Assert.Contains("OMP_WAIT_POLICY = 'ACTIVE'", active.Error, StringComparison.Ordinal);

        DotnetCli.Result spinning = Run(null, "300000"); // GNU OpenMP's own default, asked for
        Assert.True(spinning.ExitCode == 0, spinning.ToString());
        Assert.Contains("GOMP_SPINCOUNT = '300000'", spinning.Error, StringComparison.Ordinal);

        // Intel's and LLVM's variable, which GNU OpenMP ignores: the sample leaves the policy alone, so GNU's default shows.
        DotnetCli.Result otherRuntime = Run(null, null, "0");
        Assert.True(otherRuntime.ExitCode == 0, otherRuntime.ToString());
        Assert.Contains("GOMP_SPINCOUNT = '300000'", otherRuntime.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void FeatureDump_writes_npy_and_jsonl()
    {
        using TempFolder images = ImageFolder();
        using TempFolder outDir = TestData.NewFolder();
        Assert.Equal(0, FeatureDump(outDir.Path, "--model", Model, "--out", "f.npy", images.Path).ExitCode);
        Assert.Equal(0, FeatureDump(outDir.Path, "--model", Model, "--out", "f.jsonl", images.Path).ExitCode);

        byte[] npy = File.ReadAllBytes(outDir.File("f.npy"));
        int headerLength = BitConverter.ToUInt16(npy, 8);
        string header = System.Text.Encoding.ASCII.GetString(npy, 10, headerLength);
        Assert.Contains("'descr': '<f4'", header, StringComparison.Ordinal);
        Assert.Contains("'shape': (3, 48)", header, StringComparison.Ordinal);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal(10 + headerLength + (3 * 48 * 4), npy.Length);

        string[] lines = File.ReadAllLines(outDir.File("f.jsonl"));
        Assert.Equal(3, lines.Length);
        float[] fromNpy = new float[48];
        Buffer.BlockCopy(npy, 10 + headerLength, fromNpy, 0, 48 * 4);
        using JsonDocument first = JsonDocument.Parse(lines[0]);
        Assert.Equal(Ordered(images)[0], first.RootElement.GetProperty("path").GetString());
        Assert.Equal(fromNpy, first.RootElement.GetProperty("pooled").EnumerateArray().Select(v => v.GetSingle()).ToArray());

        // Not only the layout: the values are the encoder's, for every row of both files.
        using IJepaEncoder encoder = IJepaEncoder.Load(Model);
        for (int i = 0; i < 3; i++)
        {
            float[] expected = encoder.Encode(Ordered(images)[i]).Pooled;
            float[] row = new float[48];
            Buffer.BlockCopy(npy, 10 + headerLength + (i * 48 * 4), row, 0, 48 * 4);
            AssertClose(expected, row);
            using JsonDocument line = JsonDocument.Parse(lines[i]);
            AssertClose(expected, line.RootElement.GetProperty("pooled").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        }
    }

    [Fact]
    public void FeatureDump_reports_a_bad_image_keeps_the_others_and_strict_stops()
    {
        using TempFolder images = ImageFolder(withBrokenImage: true);
        using TempFolder outDir = TestData.NewFolder();
        DotnetCli.Result run = FeatureDump(outDir.Path, "--model", Model, "--out", "f.safetensors", images.Path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Broken.jpg", run.Error, StringComparison.Ordinal);
        Assert.Contains("3 images encoded, 1 failed", run.Output, StringComparison.Ordinal);
        using (SafetensorsFile file = SafetensorsFile.Open(outDir.File("f.safetensors")))
        {
            Assert.Equal(3, JsonSerializer.Deserialize<string[]>(file.Metadata["inputs"])!.Length);
        }

        DotnetCli.Result strict = FeatureDump(outDir.Path, "--model", Model, "--strict", "--out", "g.safetensors", images.Path);
        Assert.Equal(1, strict.ExitCode);
        Assert.Contains("--strict", strict.Error, StringComparison.Ordinal);
        Assert.Equal(["f.safetensors"], Directory.GetFiles(outDir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FeatureDump_runs_on_its_default_model_and_says_what_it_is()
    {
        using TempFolder outDir = TestData.NewFolder();
        DotnetCli.Result run = FeatureDump(outDir.Path, Image("photo_flower.png"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("trained in .NET on Fashion-MNIST", run.Output, StringComparison.Ordinal);
        using Tensor pooled = TestData.ReadTensor(outDir.File("features.safetensors"), "pooled");
        int width = IJepa.Model.IJepaConfig.Load(Path.Combine(DotnetCli.RepositoryRoot, "samples", "models", "fashion-mnist", "config.json")).HiddenSize;
        Assert.Equal([1L, width], pooled.shape);
    }

    [Fact]
    public void FeatureDump_refuses_a_model_whose_sha256_differs()
    {
        using TempFolder outDir = TestData.NewFolder();
        string wrong = new('0', 64);
        DotnetCli.Result run = FeatureDump(outDir.Path, "--model", Model, "--sha256", wrong, Image("photo_flower.png"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("SHA-256 mismatch", run.Error, StringComparison.Ordinal);
        string right = CheckpointIntegrity.ComputeSha256(Path.Combine(Model, "model.safetensors"));
        Assert.Equal(0, FeatureDump(outDir.Path, "--model", Model, "--sha256", right, Image("photo_flower.png")).ExitCode);
    }

    [Fact]
    public void FeatureDump_rejects_bad_arguments_with_usage()
    {
        using TempFolder outDir = TestData.NewFolder();
        foreach (string[] arguments in new[]
        {
            Array.Empty<string>(),
            ["--bogus", "x.png"],
            ["--out", "f.csv", Image("photo_flower.png")],
            ["--dtype", "int8", Image("photo_flower.png")],
            ["--backend", "opencv", Image("photo_flower.png")],
            [outDir.File("missing.png")],
        })
        {
            DotnetCli.Result run = FeatureDump(outDir.Path, arguments);
            Assert.True(run.ExitCode == 2, $"{string.Join(' ', arguments)}: {run}");
            Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
        }
        DotnetCli.Result badModel = FeatureDump(outDir.Path, "--model", outDir.Path, Image("photo_flower.png"));
        Assert.Equal(2, badModel.ExitCode);
        Assert.Contains("config.json", badModel.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(outDir.Path));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void FeatureDump_into_a_read_only_folder_fails_before_encoding_and_leaves_nothing()
    {
        using TempFolder outDir = TestData.NewFolder();
        string readOnly = Directory.CreateDirectory(outDir.File("read-only")).FullName;
        File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            string[] arguments = [DotnetCli.Sample("IJepa.FeatureDump"), "--model", Model, "--out", Path.Combine(readOnly, "f.safetensors"), Image("photo_flower.png")];
            // Permissions do not bind root, so a privileged test run drops to 'nobody' for this one process.
            DotnetCli.Result run = Environment.IsPrivilegedProcess
                ? DotnetCli.RunProgram("setpriv", outDir.Path, Timeout, ["--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", DotnetCli.Dotnet, .. arguments])
                : DotnetCli.RunProgram(DotnetCli.Dotnet, outDir.Path, Timeout, arguments);
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Contains($"cannot write {Path.Combine(readOnly, "f.safetensors")}", run.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("done:", run.Output, StringComparison.Ordinal); // refused before encoding
            Assert.Empty(Directory.GetFileSystemEntries(readOnly));
        }
        finally
        {
            File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    [Fact]
    public void Original_converts_a_training_checkpoint_and_predicts_hidden_blocks()
    {
        using TempFolder work = TestData.NewFolder();
        string checkpoint = Path.Combine(AppContext.BaseDirectory, "original", "tiny-ijepa.pth.tar");
        string sample = DotnetCli.Sample("IJepa.Original");
        DotnetCli.Result convert = DotnetCli.RunProgram(DotnetCli.Dotnet, work.Path, Timeout, sample, "convert", checkpoint, "hf", "--heads", "4", "--part", "encoder");
        Assert.True(convert.ExitCode == 0, convert.ToString());
        using (IJepaModel model = IJepaModel.FromPretrained(work.File("hf")))
        {
            Assert.Equal(32, model.Config.HiddenSize);
        }

        DotnetCli.Result predict = DotnetCli.RunProgram(DotnetCli.Dotnet, work.Path, Timeout, sample, "predict", checkpoint, Image("photo_flower.png"), "--heads", "4", "--min-keep", "2", "--seed", "5", "--out", "p.safetensors");
        Assert.True(predict.ExitCode == 0, predict.ToString());
        Assert.Contains("mean over all hidden patches", predict.Output, StringComparison.Ordinal);
        using Tensor predicted = TestData.ReadTensor(work.File("p.safetensors"), "predicted");
        using Tensor actual = TestData.ReadTensor(work.File("p.safetensors"), "actual");
        using Tensor cosine = TestData.ReadTensor(work.File("p.safetensors"), "cosine");
        Assert.Equal(predicted.shape, actual.shape);
        Assert.Equal(4, predicted.shape[0]);
        Assert.Equal(32, predicted.shape[2]);
        Assert.Equal(new[] { predicted.shape[0], predicted.shape[1] }, cosine.shape);

        DotnetCli.Result bad = DotnetCli.RunProgram(DotnetCli.Dotnet, work.Path, Timeout, sample, "convert", Image("photo_flower.png"), "out");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("photo_flower.png", bad.Error, StringComparison.Ordinal);
    }

    [LinuxMountNamespaceFact]
    public void FeatureDump_on_a_full_disk_fails_clearly_and_leaves_no_partial_file()
    {
        using TempFolder images = ImageFolder();
        using TempFolder outDir = TestData.NewFolder();
        string disk = Directory.CreateDirectory(outDir.File("disk")).FullName;
        // A 64 KiB tmpfs in a private mount namespace: big enough for the writability probe, too small for the patches.
        const string Script = """
            mount -t tmpfs -o size=64k tmpfs "$1" || exit 99
            disk="$1"; shift
            "$@"; rc=$?
            echo "left: [$(ls -A "$disk")]"
            exit $rc
            """;
        DotnetCli.Result run = DotnetCli.RunProgram("unshare", outDir.Path, Timeout,
            "-r", "-m", "sh", "-c", Script, "sh", disk,
            DotnetCli.Dotnet, DotnetCli.Sample("IJepa.FeatureDump"), "--model", Model, "--patches", "--out", Path.Combine(disk, "f.safetensors"),
            images.Path, images.Path, images.Path, images.Path, images.Path, images.Path, images.Path, images.Path, images.Path, images.Path);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("cannot write", run.Error, StringComparison.Ordinal);
        Assert.Contains("No space left on device", run.Error, StringComparison.Ordinal);
        Assert.Contains("left: []", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Similarity_ranks_an_image_first_for_itself_and_reuses_its_index()
    {
        using TempFolder images = ImageFolder(withBrokenImage: true);
        using TempFolder work = TestData.NewFolder();
        DotnetCli.Result first = Similarity(work.Path, "--model", Model, "-k", "2", "--index", "index.json", images.Path, images.File("a.png"));
        Assert.Equal(1, first.ExitCode); // the broken image was skipped, and said so
        Assert.Contains("Broken.jpg", first.Error, StringComparison.Ordinal);
        Assert.Contains("index: 3 images (3 encoded, 0 reused, 1 skipped)", first.Output, StringComparison.Ordinal);
        string[] lines = first.Output.Split('\n').Select(l => l.TrimEnd()).ToArray();
        int query = Array.FindIndex(lines, l => l.StartsWith("query ", StringComparison.Ordinal));
        Assert.Matches(@"^\s+1\.\s+1\.0000\s+.*a\.png$", lines[query + 1]);
        Assert.Matches(@"^\s+2\.\s+0\.\d{4}\s+", lines[query + 2]);
        Assert.False(lines[query + 3].StartsWith("   3.", StringComparison.Ordinal));
        // The query (given as an absolute path) and its matches print the same way: relative to the working directory.
        string queryPath = lines[query]["query ".Length..];
        Assert.False(Path.IsPathRooted(queryPath), lines[query]);
        Assert.EndsWith("  " + queryPath, lines[query + 1], StringComparison.Ordinal);

        using IJepaEncoder encoder = IJepaEncoder.Load(Model, new IJepaEncoderOptions { BatchSize = 8 });
        float[] a = encoder.Encode(images.File("a.png")).Pooled;
        float score = new[] { images.File("B.png"), Path.Combine(images.File("b"), "1.png") }
            .Max(f => EmbeddingMath.CosineSimilarity(a, encoder.Encode(f).Pooled));
        Assert.Contains(score.ToString("F4", CultureInfo.InvariantCulture), lines[query + 2], StringComparison.Ordinal);

        DotnetCli.Result second = Similarity(work.Path, "--model", Model, "-k", "2", "--index", "index.json", images.Path, images.File("a.png"));
        Assert.Contains("index: 3 images (0 encoded, 3 reused, 1 skipped)", second.Output, StringComparison.Ordinal);

        // Another Python pipeline gives other embeddings: the index is not reused across backends.
        DotnetCli.Result pil = Similarity(work.Path, "--model", Model, "-k", "2", "--backend", "pil", "--index", "index.json", images.Path, images.File("a.png"));
        Assert.Contains("index: 3 images (3 encoded, 0 reused, 1 skipped)", pil.Output, StringComparison.Ordinal);
        Assert.Equal(2, Similarity(work.Path, "--backend", "opencv", images.Path, images.File("a.png")).ExitCode);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = expected.Max(Math.Abs);
        float error = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(error <= 1e-5f * scale, $"max |Δ| {error} > 1e-5 × {scale}");
    }
}

/// <summary>A fact that needs a private user + mount namespace (unshare -r -m), as Linux CI machines allow.</summary>
public sealed class LinuxMountNamespaceFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            return "needs Linux mount namespaces";
        }
        try
        {
            DotnetCli.Result probe = DotnetCli.RunProgram("unshare", Path.GetTempPath(), TimeSpan.FromSeconds(20), "-r", "-m", "true");
            return probe.ExitCode == 0 ? null : $"unshare -r -m is not permitted here: {probe.Error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"unshare is not installed: {e.Message}";
        }
    });

    public LinuxMountNamespaceFactAttribute()
    {
        if (Unavailable.Value is string reason)
        {
            Skip = reason;
        }
    }
}
