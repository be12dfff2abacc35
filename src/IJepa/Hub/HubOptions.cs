namespace IJepa.Hub;

/// <summary>
/// Where and how models are fetched from the Hugging Face hub. Every property left null takes the
/// value huggingface_hub (Python) would use, from the same environment variables, so both share one
/// cache and one login.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The hub's address. Null: <c>HF_ENDPOINT</c> (a mirror), else <c>https://huggingface.co</c>.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>
    /// The access token for gated and private models. Null: <c>HF_TOKEN</c>, else the file at
    /// <c>HF_TOKEN_PATH</c> or <c>$HF_HOME/token</c> (where <c>huggingface-cli login</c> writes it).
    /// An empty string sends no token at all.
    /// </summary>
    public string? Token { get; init; }

    /// <summary>
    /// The cache folder shared with Python. Null: <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>$XDG_CACHE_HOME/huggingface/hub</c>, else <c>~/.cache/huggingface/hub</c>.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Use the cache only, never the network. Null: <c>HF_HUB_OFFLINE</c> (or <c>TRANSFORMERS_OFFLINE</c>) set to 1, true, yes or on.</summary>
    public bool? Offline { get; init; }

    /// <summary>Told about each file being downloaded, a few times a second and at its end. Not called for cached files.</summary>
    public IProgress<HubDownloadProgress>? Progress { get; init; }

    /// <summary>
    /// The HTTP handler to send requests through (a proxy, a test server). It must not follow redirects
    /// itself: the hub's metadata is on the redirect, not on the CDN's answer. Null: a new
    /// <see cref="System.Net.Http.SocketsHttpHandler"/>. The caller keeps ownership.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>How many times a request is retried after a 429, a 5xx or a broken connection (with backoff; <c>Retry-After</c> is honoured). Default 5.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>A download that receives nothing for this long counts as a broken connection (and is resumed). Default 60 s.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The first retry's wait when the server gives no <c>Retry-After</c>; it doubles on each retry, up to 30 s.</summary>
    internal TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Replaces the process environment (tests).</summary>
    internal Func<string, string?>? EnvironmentOverride { get; init; }

    /// <summary>The settings in force, from these options and the process environment.</summary>
    internal HubSettings Resolve() => Resolve(EnvironmentOverride ?? Environment.GetEnvironmentVariable);

    /// <summary>Free bytes on the cache's disk (tests replace it to simulate a full disk).</summary>
    internal Func<string, long>? FreeSpaceProbe { get; init; }

    /// <summary>The settings in force: these options with the environment's values filled in.</summary>
    internal HubSettings Resolve(Func<string, string?> environment)
    {
        string? Env(string name) => environment(name) is { Length: > 0 } value ? value : null;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string hfHome = Env("HF_HOME") ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface");
        string cache = CacheDirectory ?? Env("HF_HUB_CACHE") ?? Env("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(hfHome, "hub");
        string endpoint = Endpoint?.ToString() ?? Env("HF_ENDPOINT") ?? "https://huggingface.co";
        string? token = Token ?? Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN");
        if (Token is null && token is null)
        {
            string tokenFile = Env("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token");
            if (File.Exists(tokenFile))
            {
                token = File.ReadAllText(tokenFile).Trim() is { Length: > 0 } fromFile ? fromFile : null;
            }
        }
        bool offline = Offline ?? (IsTrue(Env("HF_HUB_OFFLINE")) || IsTrue(Env("TRANSFORMERS_OFFLINE")));
        return new HubSettings(new Uri(endpoint.TrimEnd('/') + "/"), token is { Length: > 0 } ? token : null, Path.GetFullPath(cache), offline);
    }

    private static bool IsTrue(string? value) =>
        value is not null && value.Trim().ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";
}

/// <summary>Resolved hub settings: endpoint (ending in '/'), token, absolute cache folder, offline.</summary>
internal sealed record HubSettings(Uri Endpoint, string? Token, string CacheDirectory, bool Offline);
