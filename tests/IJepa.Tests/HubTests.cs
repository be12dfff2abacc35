using System.Diagnostics;
using System.Security.Cryptography;
using IJepa.Hub;
using IJepa.HubTesting;

namespace IJepa.Tests;

/// <summary>
/// Model downloads against a fake hub on 127.0.0.1 that answers as huggingface.co does (redirects for
/// LFS files, X-Linked-Etag/-Size, X-Repo-Commit, X-Error-Code, Range) and injects faults.
/// </summary>
public sealed class HubTests : IAsyncLifetime
{
    private const string Tiny = "org/tiny";
    private FakeHub _hub = null!;
    private readonly TempFolder _cache = TestData.NewFolder();

    public async Task InitializeAsync() => _hub = await FakeHub.StartAsync();

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        _cache.Dispose();
    }

    private HubOptions Options(string? token = "", bool offline = false, IProgress<HubDownloadProgress>? progress = null) => new()
    {
        Endpoint = _hub.Endpoint,
        CacheDirectory = _cache.Path,
        Token = token,
        Offline = offline,
        Progress = progress,
        MaxRetries = 3,
        BackoffBase = TimeSpan.FromMilliseconds(20),
        // The machine's own HF_* variables and token file must not leak into these tests.
        EnvironmentOverride = _ => null,
    };

    private string RepoFolder(string repoId = Tiny) => Path.Combine(_cache.Path, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static float[] Pooled(IJepaEncoder encoder) =>
        encoder.Encode(Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png")).Pooled.ToArray();

    private static bool NoFileWith(string folder, string suffix) =>
        !Directory.Exists(folder) || Directory.GetFiles(folder, "*" + suffix, SearchOption.AllDirectories).Length == 0;

    [Fact]
    public async Task A_model_is_downloaded_into_the_layout_python_uses_and_loads_like_its_folder()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());

        string root = RepoFolder();
        Assert.Equal(Path.Combine(root, "snapshots", repo.Main), snapshot);
        // refs/main holds the bare commit hash, no newline, as huggingface_hub writes it.
        Assert.Equal(repo.Main, File.ReadAllText(Path.Combine(root, "refs", "main")));
        foreach (string file in new[] { "config.json", "preprocessor_config.json", "model.safetensors" })
        {
            FakeFile published = repo.Commits[repo.Main][file];
            string etag = published.Lfs ? published.Sha256 : published.GitSha1;
            var link = new FileInfo(Path.Combine(snapshot, file));
            Assert.Equal("../../blobs/" + etag, link.LinkTarget);
            Assert.Equal(published.Data, File.ReadAllBytes(Path.Combine(root, "blobs", etag)));
        }
        Assert.Equal(3, Directory.GetFiles(Path.Combine(root, "blobs")).Length);
        Assert.True(NoFileWith(root, ".incomplete"));
        Assert.True(File.Exists(Path.Combine(_cache.Path, ".locks", "models--org--tiny", repo.Commits[repo.Main]["model.safetensors"].Sha256 + ".lock")));
        Assert.DoesNotContain(_hub.Log, line => line.Contains(" auth", StringComparison.Ordinal)); // no token configured, none sent

        using IJepaEncoder fromHub = IJepaEncoder.Load(Tiny, new IJepaEncoderOptions { Hub = Options() });
        using IJepaEncoder fromFolder = IJepaEncoder.Load(TestData.Reference("ijepa_tiny_p14"));
        Assert.Equal("org/tiny", fromHub.ModelId);
        Assert.Equal(Pooled(fromFolder), Pooled(fromHub));
        Assert.Equal(fromFolder.Preprocessor.Options.ToString(), fromHub.Preprocessor.Options.ToString());
    }

    [Fact]
    public async Task A_cached_model_costs_one_metadata_request_and_no_download()
    {
        _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        _hub.Log.Clear();
        await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.Equal(["HEAD /org/tiny/resolve/main/config.json"], _hub.Log.ToArray());
    }

    [Fact]
    public async Task A_sharded_model_fetches_its_index_and_every_shard()
    {
        FakeRepo repo = _hub.AddRepo("org/sharded", TestData.Reference("ijepa_tiny_p16_sharded"));
        string snapshot = await HuggingFaceHub.DownloadModelAsync("org/sharded", Options());
        string[] files = Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(["config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json", "preprocessor_config.json"], files);
        // The hub's 404 for model.safetensors is remembered where huggingface_hub remembers it.
        Assert.True(File.Exists(Path.Combine(RepoFolder("org/sharded"), ".no_exist", repo.Main, "model.safetensors")));
        using IJepaModel fromHub = IJepaModel.FromPretrained("org/sharded", hub: Options());
        using IJepaModel fromFolder = IJepaModel.FromPretrained(TestData.Reference("ijepa_tiny_p16_sharded"));
        foreach (((string name, var a), (_, var b)) in fromHub.named_parameters().Zip(fromFolder.named_parameters()))
        {
            Assert.True(a.eq(b).all().item<bool>(), name);
        }
    }

    [Fact]
    public async Task Revisions_resolve_by_branch_tag_and_commit_and_a_missing_one_is_named()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        string first = repo.Main;
        repo.Refs["v1.0"] = first;
        // main moves on: a commit without a preprocessor_config.json.
        repo.AddCommit(repo.Commits[first].Where(f => f.Key != "preprocessor_config.json").ToDictionary(), "main");

        string tagged = await HuggingFaceHub.DownloadModelAsync(Tiny + "@v1.0", Options());
        Assert.EndsWith(first, tagged, StringComparison.Ordinal);
        Assert.Equal(first, File.ReadAllText(Path.Combine(RepoFolder(), "refs", "v1.0")));
        string latest = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.EndsWith(repo.Main, latest, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(latest, "preprocessor_config.json")));
        // The blobs are shared between the two snapshots: nothing was downloaded twice.
        Assert.Equal(repo.Commits[first]["model.safetensors"].Size, _hub.BytesServed.Values.Sum());

        _hub.Log.Clear();
        string byCommit = await HuggingFaceHub.DownloadModelAsync($"{Tiny}@{first}", Options());
        Assert.Equal(tagged, byCommit);
        Assert.Empty(_hub.Log); // a complete commit snapshot needs no request at all

        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync(Tiny + "@no-such-branch", Options()));
        Assert.Equal(HubErrorKind.RevisionNotFound, e.Kind);
        Assert.Contains("revision 'no-such-branch' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_cut_mid_file_resumes_with_range_without_reading_again()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        _hub.Faults.Cut(afterBytes: 100_000);
        var reports = new List<HubDownloadProgress>();
        var progress = new SynchronousProgress(reports.Add);
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options(progress: progress));

        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(weights.Size, await BytesServedAsync(weights.Sha256, weights.Size)); // not one byte sent twice
        Assert.Contains(_hub.Log, line => line.EndsWith($"cdn/{weights.Sha256} bytes=100000-{weights.Size - 1}", StringComparison.Ordinal));
        List<HubDownloadProgress> ofWeights = reports.Where(r => r.FileName == "model.safetensors").ToList();
        Assert.Equal(weights.Size, ofWeights[^1].BytesDone);
        Assert.All(ofWeights, r => Assert.Equal(weights.Size, r.TotalBytes));
        Assert.Equal(ofWeights.Select(r => r.BytesDone).Order(), ofWeights.Select(r => r.BytesDone));
    }

    [Fact]
    public async Task A_partial_file_left_by_another_process_is_resumed_from_its_length()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        string blobs = Directory.CreateDirectory(Path.Combine(RepoFolder(), "blobs")).FullName;
        // As huggingface_hub leaves it when killed: blobs/ETAG.incomplete with a prefix of the file.
        File.WriteAllBytes(Path.Combine(blobs, weights.Sha256 + ".incomplete"), weights.Data![..300_000]);
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(weights.Size - 300_000, await BytesServedAsync(weights.Sha256, weights.Size - 300_000));
    }

    /// <summary>
    /// The bytes the fake hub has counted for a file, once they reach <paramref name="expected"/> or after 5 s: it counts
    /// a response's bytes when its handler ends, which can be just after the client has them all.
    /// </summary>
    private async Task<long> BytesServedAsync(string sha256, long expected)
    {
        for (int i = 0; i < 100 && _hub.BytesServed.GetValueOrDefault(sha256) < expected; i++)
        {
            await Task.Delay(50);
        }
        return _hub.BytesServed.GetValueOrDefault(sha256);
    }

    [Fact]
    public async Task A_wrong_hash_deletes_the_partial_file_and_says_so()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        _hub.Faults.Corrupt();
        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync(Tiny, Options()));
        Assert.Equal(HubErrorKind.HashMismatch, e.Kind);
        Assert.Equal("model.safetensors", e.FileName);
        Assert.Contains($"the hub says {weights.Sha256}; the partial file was deleted", e.Message, StringComparison.Ordinal);
        Assert.True(NoFileWith(RepoFolder(), ".incomplete"));
        Assert.False(File.Exists(Path.Combine(RepoFolder(), "blobs", weights.Sha256)));
        Assert.False(File.Exists(Path.Combine(RepoFolder(), "snapshots", repo.Main, "model.safetensors")));

        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
    }

    [Fact]
    public async Task Status_429_waits_for_retry_after_and_5xx_backs_off()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        _hub.Faults.ResolveStatus(429, retryAfter: 1);
        _hub.Faults.CdnStatus(503);
        _hub.Faults.CdnStatus(429, retryAfter: 1);
        var clock = Stopwatch.StartNew();
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(2), $"took {clock.Elapsed}: Retry-After not honoured");
        Assert.Equal(repo.Commits[repo.Main]["model.safetensors"].Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));

        using var other = TestData.NewFolder();
        for (int i = 0; i < 4; i++)
        {
            _hub.Faults.ResolveStatus(500);
        }
        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync(Tiny, Options() with { CacheDirectory = other.Path }));
        Assert.Equal(HubErrorKind.ServerError, e.Kind);
        Assert.Contains("answered 500", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_repository_or_a_missing_weights_file_is_a_clear_error()
    {
        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/nothing", Options()));
        Assert.Equal(HubErrorKind.RepositoryNotFound, e.Kind);
        Assert.Contains("org/nothing: no such repository", e.Message, StringComparison.Ordinal);
        Assert.Contains("HF_TOKEN", e.Message, StringComparison.Ordinal); // it may be private

        // Through Load, "org/nothing" could also have been a folder: the message says that too.
        HubException viaLoad = Assert.Throws<HubException>(() => IJepaEncoder.Load("org/nothing", new IJepaEncoderOptions { Hub = Options() }));
        Assert.Contains("There is no local folder", viaLoad.Message, StringComparison.Ordinal);

        _hub.AddRepo("org/configonly", TestData.Reference("ijepa_tiny_p14"), include: name => name == "config.json");
        HubException noWeights = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/configonly", Options()));
        Assert.Equal(HubErrorKind.FileNotFound, noWeights.Kind);
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json", noWeights.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gated_model_without_a_token_says_how_to_get_access_and_the_token_stays_off_the_cdn()
    {
        _hub.AddRepo("org/gated", TestData.Reference("ijepa_tiny_p14"), gated: true);
        HubException anonymous = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/gated", Options()));
        Assert.Equal(HubErrorKind.AccessDenied, anonymous.Kind);
        Assert.Contains("gated", anonymous.Message, StringComparison.Ordinal);
        Assert.Contains("accept its licence on " + _hub.Endpoint + "org/gated", anonymous.Message, StringComparison.Ordinal);
        Assert.Contains("set HF_TOKEN", anonymous.Message, StringComparison.Ordinal);

        HubException wrongToken = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/gated", Options(token: "hf_other")));
        Assert.Equal(HubErrorKind.AccessDenied, wrongToken.Kind);
        Assert.Contains("403", wrongToken.Message, StringComparison.Ordinal);

        _hub.AddRepo("org/private", TestData.Reference("ijepa_tiny_p14"), isPrivate: true);
        HubException hidden = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/private", Options()));
        Assert.Equal(HubErrorKind.RepositoryNotFound, hidden.Kind);
        Assert.Contains("if it is private, no token was sent: set HF_TOKEN", hidden.Message, StringComparison.Ordinal);

        _hub.Log.Clear();
        string snapshot = await HuggingFaceHub.DownloadModelAsync("org/gated", Options(token: _hub.ValidToken));
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.All(_hub.Log.Where(l => l.Contains("/resolve/", StringComparison.Ordinal)), l => Assert.EndsWith(" auth", l, StringComparison.Ordinal));
        Assert.All(_hub.Log.Where(l => l.Contains("cdn/", StringComparison.Ordinal)), l => Assert.DoesNotContain(" auth", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Offline_uses_the_cache_alone_and_names_what_is_missing()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync(Tiny, Options(offline: true)));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Contains("HF_HUB_OFFLINE is set", e.Message, StringComparison.Ordinal);
        Assert.Contains(_cache.Path, e.Message, StringComparison.Ordinal);
        Assert.Empty(_hub.Log);

        string online = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        _hub.Log.Clear();
        Assert.Equal(online, await HuggingFaceHub.DownloadModelAsync(Tiny, Options(offline: true)));
        Assert.Equal(online, await HuggingFaceHub.DownloadModelAsync($"{Tiny}@{repo.Main}", Options(offline: true)));
        Assert.Empty(_hub.Log);

        // The weights' blob gone (a user cleaning up): offline names the file, not a crash in the loader.
        File.Delete(Path.Combine(RepoFolder(), "blobs", repo.Commits[repo.Main]["model.safetensors"].Sha256));
        HubException gone = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync(Tiny, Options(offline: true)));
        Assert.Contains("lacks model.safetensors", gone.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_hub_falls_back_to_the_cache()
    {
        _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        string online = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        // A port nothing listens on (the fake hub's, once it is stopped).
        await _hub.DisposeAsync();
        Assert.Equal(online, await HuggingFaceHub.DownloadModelAsync(Tiny, Options()));
        HubException e = await Assert.ThrowsAsync<HubException>(() => HuggingFaceHub.DownloadModelAsync("org/other", Options()));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Contains("cannot reach", e.Message, StringComparison.Ordinal);
        _hub = await FakeHub.StartAsync();
    }

    [Fact]
    public async Task A_cache_written_by_huggingface_hub_loads_offline()
    {
        // Laid out by hand from huggingface_hub's documented cache layout, as Python leaves it.
        string source = TestData.Reference("ijepa_tiny_p14");
        string commit = "0123456789abcdef0123456789abcdef01234567";
        string root = Directory.CreateDirectory(RepoFolder("facebook/ijepa_tiny")).FullName;
        string snapshot = Directory.CreateDirectory(Path.Combine(root, "snapshots", commit)).FullName;
        Directory.CreateDirectory(Path.Combine(root, "blobs"));
        Directory.CreateDirectory(Path.Combine(root, "refs"));
        File.WriteAllText(Path.Combine(root, "refs", "main"), commit);
        foreach (string name in new[] { "config.json", "preprocessor_config.json", "model.safetensors" })
        {
            FakeFile file = FakeFile.FromBytes(File.ReadAllBytes(Path.Combine(source, name)), lfs: name.EndsWith(".safetensors", StringComparison.Ordinal));
            string etag = file.Lfs ? file.Sha256 : file.GitSha1;
            File.WriteAllBytes(Path.Combine(root, "blobs", etag), file.Data!);
            File.CreateSymbolicLink(Path.Combine(snapshot, name), "../../blobs/" + etag);
        }
        using IJepaEncoder cached = IJepaEncoder.Load("facebook/ijepa_tiny", new IJepaEncoderOptions { Hub = Options(offline: true) });
        using IJepaEncoder folder = IJepaEncoder.Load(source);
        Assert.Equal(Pooled(folder), Pooled(cached));
        using IJepaModel byCommit = IJepaModel.FromPretrained("facebook/ijepa_tiny@" + commit, hub: Options(offline: true));
        Assert.Empty(_hub.Log);
    }

    [Fact]
    public async Task Cancelling_a_slow_download_stops_promptly_and_the_next_call_resumes()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        _hub.Faults.BytesPerSecond = 50_000; // about 9 s for the weights
        using var cancel = new CancellationTokenSource();
        // Timed from the cancel itself, not from the call's start: on a loaded machine the requests before the first
        // chunk may take their time, and only what follows the cancel says whether it was honoured.
        Stopwatch? sinceCancel = null;
        var progress = new SynchronousProgress(p =>
        {
            if (p.FileName == "model.safetensors" && p.BytesDone > 0)
            {
                sinceCancel ??= Stopwatch.StartNew();
                cancel.Cancel();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => HuggingFaceHub.DownloadModelAsync(Tiny, Options(progress: progress), cancel.Token));
        Assert.NotNull(sinceCancel);
        Assert.True(sinceCancel.Elapsed < TimeSpan.FromSeconds(4), $"cancellation took {sinceCancel.Elapsed} (the rest of the download takes about 9 s)");
        long kept = new FileInfo(Path.Combine(RepoFolder(), "blobs", weights.Sha256 + ".incomplete")).Length;
        Assert.InRange(kept, 1, weights.Size - 1);

        _hub.Faults.BytesPerSecond = 0;
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains(_hub.Log, line => line.Contains($"bytes={kept}-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Too_little_free_space_is_refused_before_downloading()
    {
        _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        HubException e = await Assert.ThrowsAsync<HubException>(() =>
            HuggingFaceHub.DownloadModelAsync(Tiny, Options() with { FreeSpaceProbe = _ => 1000 }));
        Assert.Equal(HubErrorKind.DiskFull, e.Kind);
        Assert.Contains("needs 0.4 MB more", e.Message, StringComparison.Ordinal);
        Assert.Contains("only 0.0 MB is free", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_hub.Log, line => line.Contains("cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_downloads_of_one_blob_at_once_take_turns_on_its_lock()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        FakeFile weights = repo.Commits[repo.Main]["model.safetensors"];
        _hub.Faults.BytesPerSecond = 400_000;
        Task<string>[] both = [HuggingFaceHub.DownloadModelAsync(Tiny, Options()), HuggingFaceHub.DownloadModelAsync(Tiny, Options())];
        string[] snapshots = await Task.WhenAll(both);
        Assert.Equal(snapshots[0], snapshots[1]);
        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshots[0], "model.safetensors")));
        Assert.Equal(weights.Size, await BytesServedAsync(weights.Sha256, weights.Size));
    }

    [Fact]
    public async Task Weak_etags_are_normalised_and_small_files_are_checked_against_their_git_hash()
    {
        FakeRepo repo = _hub.AddRepo(Tiny, TestData.Reference("ijepa_tiny_p14"));
        _hub.Faults.WeakEtags = true;
        string snapshot = await HuggingFaceHub.DownloadModelAsync(Tiny, Options());
        Assert.Equal("../../blobs/" + repo.Commits[repo.Main]["config.json"].GitSha1, new FileInfo(Path.Combine(snapshot, "config.json")).LinkTarget);
        Assert.Equal("abc", HubSession.NormalizeEtag("W/\"abc\""));
        Assert.Equal("abc", HubSession.NormalizeEtag("\"abc\""));
    }

    [Theory]
    [InlineData("facebook/ijepa_vith14_1k", true)]
    [InlineData("facebook/ijepa_vith14_1k@main", true)]
    [InlineData("facebook/ijepa_vith14_1k@0123456789abcdef0123456789abcdef01234567", true)]
    [InlineData("facebook/ijepa_vith14_1k@refs/pr/1", true)]
    [InlineData("ijepa_vith14_1k", false)]
    [InlineData("/models/ijepa", false)]
    [InlineData("./models/ijepa", false)]
    [InlineData("a/b/c", false)]
    [InlineData("org/name@", false)]
    [InlineData("org/name@../../x", false)]
    [InlineData("org--x/name", false)]
    public void Hub_ids_are_told_from_paths(string text, bool isId) => Assert.Equal(isId, HuggingFaceHub.IsModelId(text));

    [Fact]
    public void A_local_folder_wins_over_a_hub_id_of_the_same_spelling()
    {
        // "reference/ijepa_tiny_p14" has the shape of an id, and exists relative to the test's working directory.
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, TestData.Reference("ijepa_tiny_p14"));
        Assert.True(Directory.Exists(relative));
        using IJepaEncoder encoder = IJepaEncoder.Load(relative, new IJepaEncoderOptions { Hub = Options(offline: true) });
        Assert.Equal("ijepa_tiny_p14", encoder.ModelId);
    }

    [Fact]
    public void Settings_come_from_the_same_variables_as_huggingface_hub()
    {
        using TempFolder home = TestData.NewFolder();
        File.WriteAllText(home.File("token"), "hf_from_file\n");
        var env = new Dictionary<string, string> { ["HF_HOME"] = home.Path, ["HF_ENDPOINT"] = "http://127.0.0.1:9/", ["HF_HUB_OFFLINE"] = "1" };
        HubSettings settings = new HubOptions().Resolve(name => env.GetValueOrDefault(name));
        Assert.Equal(Path.Combine(home.Path, "hub"), settings.CacheDirectory);
        Assert.Equal("hf_from_file", settings.Token);
        Assert.Equal(new Uri("http://127.0.0.1:9/"), settings.Endpoint);
        Assert.True(settings.Offline);

        env["HF_HUB_CACHE"] = home.File("elsewhere");
        env["HF_TOKEN"] = "hf_from_env";
        env["HF_HUB_OFFLINE"] = "0";
        settings = new HubOptions().Resolve(name => env.GetValueOrDefault(name));
        Assert.Equal(home.File("elsewhere"), settings.CacheDirectory);
        Assert.Equal("hf_from_env", settings.Token);
        Assert.False(settings.Offline);
        Assert.Null(new HubOptions { Token = "" }.Resolve(name => env.GetValueOrDefault(name)).Token);

        env.Clear();
        env["XDG_CACHE_HOME"] = home.File("xdg");
        Assert.Equal(Path.Combine(home.Path, "xdg", "huggingface", "hub"), new HubOptions().Resolve(name => env.GetValueOrDefault(name)).CacheDirectory);
        env.Clear();
        string user = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        settings = new HubOptions().Resolve(name => env.GetValueOrDefault(name));
        Assert.Equal(Path.Combine(user, ".cache", "huggingface", "hub"), settings.CacheDirectory);
        Assert.Equal(new Uri("https://huggingface.co/"), settings.Endpoint);
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress(Action<HubDownloadProgress> report) : IProgress<HubDownloadProgress>
    {
        public void Report(HubDownloadProgress value)
        {
            lock (this)
            {
                report(value);
            }
        }
    }
}
