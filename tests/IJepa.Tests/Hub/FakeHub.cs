using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IJepa.HubTesting;

/// <summary>
/// A Hugging Face hub on 127.0.0.1 that answers as the real one does (per huggingface_hub's client):
/// <c>/{repo}/resolve/{revision}/{file}</c> with <c>X-Repo-Commit</c>; small files with a quoted git
/// <c>ETag</c>; LFS files with a 302 to a "CDN" on a second port, <c>X-Linked-Etag</c> (SHA-256) and
/// <c>X-Linked-Size</c>; <c>X-Error-Code</c> on errors; <c>Range</c> on the CDN. Faults are injected
/// through <see cref="Faults"/>.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeFile> _blobs = new(StringComparer.Ordinal);

    private FakeHub(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    public Uri Cdn { get; private set; } = null!;

    public HubFaults Faults { get; } = new();

    /// <summary>Every request: "METHOD path [range] [auth]".</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    /// <summary>Body bytes the CDN sent, per SHA-256.</summary>
    public ConcurrentDictionary<string, long> BytesServed { get; } = new(StringComparer.Ordinal);

    /// <summary>The only token that opens gated and private repositories.</summary>
    public string ValidToken { get; set; } = "hf_valid_test_token";

    public static async Task<FakeHub> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Listen(IPAddress.Loopback, 0);
        });
        WebApplication app = builder.Build();
        var hub = new FakeHub(app);
        app.MapMethods("/{org}/{name}/resolve/{revision}/{**file}", ["GET", "HEAD"], hub.ResolveAsync);
        app.MapMethods("/cdn/{sha}", ["GET", "HEAD"], hub.CdnAsync);
        await app.StartAsync();
        string[] addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        hub.Endpoint = new Uri(addresses[0]);
        hub.Cdn = new Uri(addresses[1]);
        return hub;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Publishes a repository from a folder's files (safetensors as LFS files) at a random commit on "main".</summary>
    public FakeRepo AddRepo(string repoId, string folder, bool gated = false, bool isPrivate = false, Func<string, bool>? include = null)
    {
        var files = new Dictionary<string, FakeFile>(StringComparer.Ordinal);
        foreach (string path in Directory.GetFiles(folder))
        {
            string name = Path.GetFileName(path);
            if (include?.Invoke(name) ?? !name.StartsWith("expected_", StringComparison.Ordinal))
            {
                files[name] = FakeFile.FromBytes(File.ReadAllBytes(path), lfs: name.EndsWith(".safetensors", StringComparison.Ordinal));
            }
        }
        return AddRepo(repoId, files, gated, isPrivate);
    }

    public FakeRepo AddRepo(string repoId, Dictionary<string, FakeFile> files, bool gated = false, bool isPrivate = false)
    {
        var repo = new FakeRepo(repoId, gated, isPrivate);
        repo.AddCommit(files, "main");
        _repos[repoId] = repo;
        foreach (FakeFile file in files.Values.Where(f => f.Lfs))
        {
            _blobs[file.Sha256] = file;
        }
        return repo;
    }

    public void AddBlob(FakeFile file) => _blobs[file.Sha256] = file;

    private async Task ResolveAsync(HttpContext context, string org, string name, string revision, string file)
    {
        Log.Enqueue($"{context.Request.Method} {context.Request.Path}{(context.Request.Headers.Authorization.Count > 0 ? " auth" : "")}");
        HttpResponse response = context.Response;
        if (Faults.TakeResolveStatus() is { } fault)
        {
            response.StatusCode = fault.Status;
            if (fault.RetryAfter is int seconds)
            {
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }
            return;
        }
        string auth = context.Request.Headers.Authorization.ToString();
        bool tokenSent = auth.Length > 0;
        bool tokenValid = auth == "Bearer " + ValidToken;
        if (!_repos.TryGetValue($"{org}/{name}", out FakeRepo? repo) || repo.Private && !tokenValid)
        {
            // The real hub answers 401 to anonymous callers, so as not to tell private repositories from missing ones.
            Error(response, tokenSent ? 404 : 401, "RepoNotFound", "Repository not found");
            return;
        }
        if (repo.Gated && !tokenValid)
        {
            Error(response, tokenSent ? 403 : 401, "GatedRepo", "Access to model " + repo.Id + " is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return;
        }
        string? commit = repo.Resolve(Uri.UnescapeDataString(revision));
        if (commit is null)
        {
            Error(response, 404, "RevisionNotFound", "Invalid rev id: " + revision);
            return;
        }
        if (!repo.Commits[commit].TryGetValue(file, out FakeFile? entry))
        {
            Error(response, 404, "EntryNotFound", "Entry not found");
            return;
        }
        response.Headers["X-Repo-Commit"] = commit;
        if (entry.Lfs)
        {
            response.StatusCode = 302;
            response.Headers.Location = new Uri(Cdn, $"cdn/{entry.Sha256}?name={Uri.EscapeDataString(file)}").ToString();
            response.Headers["X-Linked-Etag"] = $"\"{entry.Sha256}\"";
            response.Headers["X-Linked-Size"] = entry.Size.ToString(CultureInfo.InvariantCulture);
            response.Headers.ETag = $"\"{entry.GitSha1}\"";
            return;
        }
        response.Headers.ETag = Faults.WeakEtags ? $"W/\"{entry.GitSha1}\"" : $"\"{entry.GitSha1}\"";
        response.ContentLength = entry.Size;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await response.Body.WriteAsync(entry.Data!, context.RequestAborted);
        }
    }

    private static void Error(HttpResponse response, int status, string code, string message)
    {
        response.StatusCode = status;
        response.Headers["X-Error-Code"] = code;
        response.Headers["X-Error-Message"] = message;
    }

    private async Task CdnAsync(HttpContext context, string sha)
    {
        string range = context.Request.Headers.Range.ToString();
        Log.Enqueue($"{context.Request.Method} cdn/{sha}{(range.Length > 0 ? " " + range : "")}{(context.Request.Headers.Authorization.Count > 0 ? " auth" : "")}");
        HttpResponse response = context.Response;
        if (!_blobs.TryGetValue(sha, out FakeFile? file))
        {
            response.StatusCode = 404;
            return;
        }
        if (Faults.TakeCdnStatus() is { } fault)
        {
            response.StatusCode = fault.Status;
            if (fault.RetryAfter is int seconds)
            {
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }
            return;
        }
        long start = 0, end = file.Size - 1;
        if (range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            string[] bounds = range["bytes=".Length..].Split('-');
            start = long.Parse(bounds[0], CultureInfo.InvariantCulture);
            if (bounds[1].Length > 0)
            {
                end = Math.Min(end, long.Parse(bounds[1], CultureInfo.InvariantCulture));
            }
            if (start >= file.Size)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{file.Size}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {start}-{end}/{file.Size}";
        }
        response.Headers.AcceptRanges = "bytes";
        response.ContentLength = end - start + 1;
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            return;
        }
        long? cutAfter = Faults.TakeCut();
        bool corrupt = Faults.TakeCorruption();
        int bytesPerSecond = Faults.BytesPerSecond;
        using Stream source = file.Open();
        source.Position = start;
        byte[] buffer = new byte[bytesPerSecond > 0 ? Math.Max(bytesPerSecond / 20, 1024) : 1 << 20];
        long sent = 0, length = end - start + 1;
        await response.StartAsync(context.RequestAborted);
        while (sent < length)
        {
            int count = (int)Math.Min(buffer.Length, length - sent);
            if (cutAfter is long cut)
            {
                count = (int)Math.Min(count, cut - sent);
                if (count <= 0)
                {
                    await response.Body.FlushAsync(context.RequestAborted);
                    context.Abort();
                    return;
                }
            }
            count = source.Read(buffer, 0, count);
            if (corrupt && sent == 0)
            {
                buffer[0] ^= 0xFF;
            }
            await response.Body.WriteAsync(buffer.AsMemory(0, count), context.RequestAborted);
            sent += count;
            BytesServed.AddOrUpdate(sha, count, (_, total) => total + count);
            if (bytesPerSecond > 0)
            {
                await response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(50, context.RequestAborted);
            }
        }
    }
}

/// <summary>One repository: commits (file sets), branches and tags.</summary>
internal sealed class FakeRepo(string id, bool gated, bool isPrivate)
{
    public string Id { get; } = id;

    public bool Gated { get; } = gated;

    public bool Private { get; } = isPrivate;

    public Dictionary<string, Dictionary<string, FakeFile>> Commits { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);

    public string Main => Refs["main"];

    public string AddCommit(Dictionary<string, FakeFile> files, string branch)
    {
        string commit = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        Commits[commit] = files;
        Refs[branch] = commit;
        return commit;
    }

    public string? Resolve(string revision) =>
        Refs.TryGetValue(revision, out string? commit) ? commit : Commits.ContainsKey(revision) ? revision : null;
}

/// <summary>A file of a repository: in memory, or on disk for large ones.</summary>
internal sealed class FakeFile
{
    private FakeFile(byte[]? data, string? path, long size, string sha256, string gitSha1, bool lfs)
    {
        Data = data;
        PathOnDisk = path;
        Size = size;
        Sha256 = sha256;
        GitSha1 = gitSha1;
        Lfs = lfs;
    }

    public byte[]? Data { get; }

    public string? PathOnDisk { get; }

    public long Size { get; }

    public string Sha256 { get; }

    public string GitSha1 { get; }

    public bool Lfs { get; }

    public static FakeFile FromBytes(byte[] data, bool lfs)
    {
        byte[] header = Encoding.ASCII.GetBytes($"blob {data.Length}\0");
        return new FakeFile(data, null, data.Length, Convert.ToHexStringLower(SHA256.HashData(data)),
            Convert.ToHexStringLower(SHA1.HashData([.. header, .. data])), lfs);
    }

    /// <summary>A large LFS file on disk whose SHA-256 the caller already knows.</summary>
    public static FakeFile FromDisk(string path, string sha256) =>
        new(null, path, new FileInfo(path).Length, sha256, new string('0', 40), lfs: true);

    public Stream Open() => Data is not null ? new MemoryStream(Data, writable: false) : new FileStream(PathOnDisk!, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
}

/// <summary>Faults for the next requests; each is used up as it fires.</summary>
internal sealed class HubFaults
{
    private readonly ConcurrentQueue<(int Status, int? RetryAfter)> _resolveStatuses = new();
    private readonly ConcurrentQueue<(int Status, int? RetryAfter)> _cdnStatuses = new();
    private readonly ConcurrentQueue<long> _cuts = new();
    private int _corruptions;

    /// <summary>Throttles every CDN body to about this rate (0: full speed).</summary>
    public int BytesPerSecond { get; set; }

    /// <summary>Small files' ETags as weak validators (W/"...").</summary>
    public bool WeakEtags { get; set; }

    public void ResolveStatus(int status, int? retryAfter = null) => _resolveStatuses.Enqueue((status, retryAfter));

    public void CdnStatus(int status, int? retryAfter = null) => _cdnStatuses.Enqueue((status, retryAfter));

    /// <summary>The next CDN body is cut (connection aborted) after this many bytes.</summary>
    public void Cut(long afterBytes) => _cuts.Enqueue(afterBytes);

    /// <summary>The next CDN body has its first byte flipped.</summary>
    public void Corrupt() => Interlocked.Increment(ref _corruptions);

    public (int Status, int? RetryAfter)? TakeResolveStatus() => _resolveStatuses.TryDequeue(out var s) ? s : null;

    public (int Status, int? RetryAfter)? TakeCdnStatus() => _cdnStatuses.TryDequeue(out var s) ? s : null;

    public long? TakeCut() => _cuts.TryDequeue(out long c) ? c : null;

    public bool TakeCorruption()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _corruptions);
            if (current == 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _corruptions, current - 1, current) != current);
        return true;
    }
}
