namespace IJepa.Tests;

/// <summary>
/// Where libtorch comes from and what a device request says when it cannot be met: the managed-only build
/// with libtorch loaded from a folder (the way to an installed PyTorch's CUDA libtorch), and CUDA errors on
/// this machine, which has no GPU and a CPU-only libtorch.
/// </summary>
public class RuntimeTests : IClassFixture<RuntimeTests.ManagedOnlyBuild>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly ManagedOnlyBuild _build;

    public RuntimeTests(ManagedOnlyBuild build) => _build = build;

    private static string Image(string name) => Path.Combine(AppContext.BaseDirectory, "images", "input", name);

    private static string Model => TestData.Reference("ijepa_tiny_p14");

    /// <summary>The restored libtorch-cpu package's native folder: what a user's PyTorch torch/lib stands in for here.</summary>
    private static string PackageLibTorch
    {
        get
        {
            string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
                ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            string package = Path.Combine(packages, "libtorch-cpu-linux-x64");
            string version = Directory.GetDirectories(package).Select(Path.GetFileName).Single(v => v!.StartsWith("2.10.", StringComparison.Ordinal))!;
            return Path.Combine(package, version, "runtimes", "linux-x64", "native");
        }
    }

    private static DotnetCli.Result Run(string app, string workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] arguments) =>
        DotnetCli.RunProgram(DotnetCli.Dotnet, workingDirectory, Timeout, environment, [app, .. arguments]);

    [Fact]
    public void A_managed_only_build_with_a_libtorch_folder_gives_the_normal_builds_features()
    {
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_build.App)!, "runtimes", "linux-x64", "native", "libtorch_cpu.so")),
            "the managed-only build must not carry libtorch");
        using TempFolder outDir = TestData.NewFolder();
        string[] images = [Image("photo_flower.png"), Image("photo_ladybird.jpg"), Image("checker_97x61.png")];

        DotnetCli.Result normal = Run(DotnetCli.Sample("IJepa.FeatureDump"), outDir.Path, null, ["--model", Model, "--out", "normal.npy", .. images]);
        Assert.True(normal.ExitCode == 0, normal.ToString());
        DotnetCli.Result viaOption = Run(_build.App, outDir.Path, null, ["--libtorch", PackageLibTorch, "--model", Model, "--out", "option.npy", .. images]);
        Assert.True(viaOption.ExitCode == 0, viaOption.ToString());
        Assert.Contains($"libtorch from {PackageLibTorch}", viaOption.Output, StringComparison.Ordinal);
        DotnetCli.Result viaEnvironment = Run(_build.App, outDir.Path, new Dictionary<string, string?> { [IJepaRuntime.LibTorchEnvironmentVariable] = PackageLibTorch },
            ["--model", Model, "--out", "environment.npy", .. images]);
        Assert.True(viaEnvironment.ExitCode == 0, viaEnvironment.ToString());

        byte[] expected = File.ReadAllBytes(outDir.File("normal.npy"));
        Assert.Equal(expected, File.ReadAllBytes(outDir.File("option.npy")));
        Assert.Equal(expected, File.ReadAllBytes(outDir.File("environment.npy")));
    }

    [Fact]
    public void Passive_thread_waits_are_refused_once_libtorch_is_loaded()
    {
        // Before the load it is checked in the samples' processes (SampleTests, ServerTests: OpenMP's own report).
        // An empty environment here, so that only the load can refuse it.
        using TorchSharp.torch.Tensor loaded = TorchSharp.torch.zeros(1);
        Assert.False(IJepaRuntime.PreferPassiveThreadWaits(_ => null));
    }

    [Theory]
    [InlineData(null, null, null, false)]
    [InlineData("", "", "", false)]
    [InlineData("ACTIVE", null, null, true)]
    [InlineData(null, "300000", null, true)]
    [InlineData(null, null, "200", true)]
    public void A_wait_setting_already_in_the_environment_wins(string? policy, string? spinCount, string? blockTime, bool chosen)
    {
        var environment = new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = policy, ["GOMP_SPINCOUNT"] = spinCount, ["KMP_BLOCKTIME"] = blockTime };
        Assert.Equal(chosen, OpenMpWaits.EnvironmentChose(name => environment.GetValueOrDefault(name)));
    }

    [Fact]
    public void A_managed_only_build_without_libtorch_says_how_to_get_one()
    {
        using TempFolder outDir = TestData.NewFolder();
        DotnetCli.Result run = Run(_build.App, outDir.Path, null, "--model", Model, Image("photo_flower.png"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error: libtorch cannot be loaded", run.Error, StringComparison.Ordinal);
        Assert.Contains("--libtorch", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("does-not-exist", "does not exist")]
    [InlineData("empty", "holds no libtorch_cpu.so")]
    public void A_bad_libtorch_folder_is_named_in_one_line(string folder, string expected)
    {
        using TempFolder outDir = TestData.NewFolder();
        Directory.CreateDirectory(outDir.File("empty"));
        DotnetCli.Result run = Run(_build.App, outDir.Path, null, "--libtorch", outDir.File(folder), "--model", Model, Image("photo_flower.png"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains(expected, run.Error, StringComparison.Ordinal);
        Assert.Contains(outDir.File(folder), run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Cuda_from_a_cpu_only_libtorch_is_one_clear_error_with_exit_code_2()
    {
        using TempFolder outDir = TestData.NewFolder();
        foreach (string app in new[] { DotnetCli.Sample("IJepa.FeatureDump"), DotnetCli.Sample("IJepa.Similarity") })
        {
            string[] arguments = app.Contains("Similarity", StringComparison.Ordinal)
                ? ["--device", "cuda", "--model", Model, Path.GetDirectoryName(Image("photo_flower.png"))!, Image("photo_flower.png")]
                : ["--device", "cuda", "--model", Model, Image("photo_flower.png")];
            DotnetCli.Result run = Run(app, outDir.Path, null, arguments);
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Contains("error: Device 'cuda' was requested, but the libtorch in use", run.Error, StringComparison.Ordinal);
            Assert.Contains("is a CPU-only build", run.Error, StringComparison.Ordinal);
            Assert.Contains("--libtorch", run.Error, StringComparison.Ordinal);
            Assert.Contains("TorchSharp-cuda-linux", run.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_cuda_libtorch_that_cannot_load_leaves_the_cpu_working_and_says_why_cuda_fails()
    {
        // A libtorch folder whose libtorch_cuda.so is broken, as when the CUDA libraries or the driver are missing.
        using TempFolder libtorch = TestData.NewFolder();
        foreach (string file in Directory.GetFiles(PackageLibTorch))
        {
            File.CreateSymbolicLink(Path.Combine(libtorch.Path, Path.GetFileName(file)), file);
        }
        File.WriteAllText(libtorch.File("libc10_cuda.so"), "not a shared library");
        File.WriteAllText(libtorch.File("libtorch_cuda.so"), "not a shared library");
        using TempFolder outDir = TestData.NewFolder();

        DotnetCli.Result cpu = Run(_build.App, outDir.Path, null, "--libtorch", libtorch.Path, "--model", Model, "--out", "f.npy", Image("photo_flower.png"));
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        DotnetCli.Result cuda = Run(_build.App, outDir.Path, null, "--libtorch", libtorch.Path, "--device", "cuda:0", "--model", Model, Image("photo_flower.png"));
        Assert.Equal(2, cuda.ExitCode);
        Assert.Contains($"the CUDA part of the libtorch in {libtorch.Path} cannot be loaded", cuda.Error, StringComparison.Ordinal);
        Assert.Contains($"{libtorch.Path}/libc10_cuda.so: ", cuda.Error, StringComparison.Ordinal); // dlerror: the path, then the loader's reason
        Assert.Contains("nvidia-smi", cuda.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Device_requests_resolve_or_fail_with_typed_exceptions()
    {
        Assert.Equal(TorchSharp.DeviceType.CPU, IJepaRuntime.ResolveDevice("cpu").type);
        Assert.Equal(TorchSharp.DeviceType.CPU, IJepaRuntime.ResolveDevice(" CPU ").type);
        Assert.Contains("Unknown device 'gpu'", Assert.Throws<ArgumentException>(() => IJepaRuntime.ResolveDevice("gpu")).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => IJepaRuntime.ResolveDevice("cuda:x"));
        Assert.Throws<ArgumentException>(() => IJepaRuntime.ResolveDevice("cuda:-1"));
        var cuda = Assert.Throws<IJepaRuntimeException>(() => IJepaRuntime.ResolveDevice("cuda:1"));
        Assert.Contains("CPU-only build", cuda.Message, StringComparison.Ordinal);
        var load = Assert.Throws<IJepaRuntimeException>(() => IJepaEncoder.Load(Model, new IJepaEncoderOptions { Device = "cuda" }));
        Assert.Contains("Device 'cuda' was requested", load.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_libtorch_in_the_same_process_is_refused()
    {
        using (Tensor warm = ones(1))
        {
        }
        using TempFolder other = TestData.NewFolder();
        File.WriteAllText(other.File("libtorch_cpu.so"), "");
        var e = Assert.Throws<IJepaRuntimeException>(() => IJepaRuntime.UseLibTorch(other.Path));
        Assert.Contains("libtorch is already loaded from", e.Message, StringComparison.Ordinal);
        Assert.Null(IJepaRuntime.LibTorchDirectory);
    }

    /// <summary>FeatureDump built once with <c>-p:IJepaTorchPackage=none</c> (managed TorchSharp only) into its own artifacts folder.</summary>
    public sealed class ManagedOnlyBuild : IDisposable
    {
        private readonly TempFolder _artifacts = TestData.NewFolder();

        public ManagedOnlyBuild()
        {
            string project = Path.Combine(DotnetCli.RepositoryRoot, "samples", "IJepa.FeatureDump");
            DotnetCli.Result build = DotnetCli.Run(DotnetCli.RepositoryRoot, TimeSpan.FromMinutes(5),
                "build", project, "-c", DotnetCli.Configuration, "-p:IJepaTorchPackage=none", "--artifacts-path", _artifacts.Path);
            if (build.ExitCode != 0)
            {
                throw new InvalidOperationException("managed-only build failed: " + build);
            }
            App = Path.Combine(_artifacts.Path, "bin", "IJepa.FeatureDump", DotnetCli.Configuration.ToLowerInvariant(), "IJepa.FeatureDump.dll");
        }

        public string App { get; }

        public void Dispose() => _artifacts.Dispose();
    }
}
