using System.Security.Cryptography;
using IJepa.HubTesting;

namespace IJepa.Tests;

/// <summary>The samples' <c>--model ORG/NAME</c> against the fake hub, run as processes with the hub's environment variables.</summary>
public sealed class HubSampleTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private FakeHub _hub = null!;
    private readonly TempFolder _home = TestData.NewFolder();

    public async Task InitializeAsync() => _hub = await FakeHub.StartAsync();

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        _home.Dispose();
    }

    private Dictionary<string, string?> Environment(string cache) => new()
    {
        ["HF_ENDPOINT"] = _hub.Endpoint.ToString(),
        ["HF_HUB_CACHE"] = cache,
        // No token from the machine running the tests: HF_HOME holds no token file.
        ["HF_HOME"] = _home.Path,
        ["HF_TOKEN"] = "",
        ["HF_HUB_OFFLINE"] = "",
    };

    private static string Image => Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png");

    [Fact]
    public async Task Two_processes_fetching_one_model_at_once_both_succeed_with_one_verified_blob()
    {
        FakeRepo repo = _hub.AddRepo("org/tiny", TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        _hub.Faults.BytesPerSecond = 100_000; // about 4 s: long enough for the two runs to overlap
        string cache = Directory.CreateDirectory(Path.Combine(_home.Path, "hub")).FullName;
        Task<DotnetCli.Result> Run(string output) => Task.Run(() => DotnetCli.RunProgram(DotnetCli.Dotnet, _home.Path, Timeout, Environment(cache),
            DotnetCli.Sample("IJepa.FeatureDump"), "--model", "org/tiny", "--out", Path.Combine(_home.Path, output), Image));
        DotnetCli.Result[] runs = await Task.WhenAll(Run("a.safetensors"), Run("b.safetensors"));

        foreach (DotnetCli.Result run in runs)
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("model org/tiny", run.Output, StringComparison.Ordinal);
        }
        // The progress bar went to standard error (redirected here: plain lines).
        Assert.Contains(runs, run => run.Error.Contains($"download: org/tiny model.safetensors 0.4/0.4 MB", StringComparison.Ordinal));
        string blob = Path.Combine(cache, "models--org--tiny", "blobs", weights.Sha256);
        Assert.Equal(weights.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(blob))));
        Assert.Equal(weights.Size, _hub.BytesServed[weights.Sha256]); // one download: the other process waited on the lock
        Assert.Empty(Directory.GetFiles(Path.Combine(cache, "models--org--tiny", "blobs"), "*.incomplete"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_home.Path, "a.safetensors")), File.ReadAllBytes(Path.Combine(_home.Path, "b.safetensors")));
    }

    [Fact]
    public void An_unknown_model_and_offline_without_cache_are_one_line_errors()
    {
        string cache = Path.Combine(_home.Path, "hub");
        DotnetCli.Result missing = DotnetCli.RunProgram(DotnetCli.Dotnet, _home.Path, Timeout, Environment(cache),
            DotnetCli.Sample("IJepa.FeatureDump"), "--model", "org/missing", "--out", Path.Combine(_home.Path, "f.safetensors"), Image);
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("error: org/missing: no such repository on " + _hub.Endpoint, missing.Error, StringComparison.Ordinal);

        _hub.Log.Clear();
        var offline = Environment(cache);
        offline["HF_HUB_OFFLINE"] = "1";
        DotnetCli.Result notCached = DotnetCli.RunProgram(DotnetCli.Dotnet, _home.Path, Timeout, offline,
            DotnetCli.Sample("IJepa.Similarity"), "--model", "org/tiny", Path.GetDirectoryName(Image)!, Image);
        Assert.True(notCached.ExitCode == 2, notCached.ToString());
        Assert.Contains("error: org/tiny: HF_HUB_OFFLINE is set", notCached.Error, StringComparison.Ordinal);
        Assert.Empty(_hub.Log);
    }

    [LinuxMountNamespaceFact]
    public void A_cache_on_a_full_disk_is_refused_before_downloading()
    {
        _hub.AddRepo("org/tiny", TestData.Reference("ijepa_tiny_p14"));
        string disk = Directory.CreateDirectory(Path.Combine(_home.Path, "disk")).FullName;
        // A 64 KiB tmpfs in a private mount namespace: room for config.json, not for the 0.4 MB of weights.
        const string Script = """
            mount -t tmpfs -o size=64k tmpfs "$1" || exit 99
            shift
            "$@"
            """;
        DotnetCli.Result run = DotnetCli.RunProgram("unshare", _home.Path, Timeout, Environment(disk),
            "-r", "-m", "sh", "-c", Script, "sh", disk,
            DotnetCli.Dotnet, DotnetCli.Sample("IJepa.FeatureDump"), "--model", "org/tiny", "--out", Path.Combine(_home.Path, "f.safetensors"), Image);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Matches(@"error: org/tiny: model\.safetensors needs 0\.4 MB more in .*/disk/models--org--tiny/blobs, but only 0\.\d MB is free", run.Error);
        Assert.DoesNotContain(_hub.Log, line => line.Contains("cdn/", StringComparison.Ordinal));
    }
}
