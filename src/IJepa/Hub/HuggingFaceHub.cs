namespace IJepa.Hub;

/// <summary>
/// Fetches I-JEPA models from the Hugging Face hub by id (<c>facebook/ijepa_vith14_1k</c>, optionally
/// <c>@branch</c>, <c>@tag</c> or <c>@commit</c>) into the cache Python's huggingface_hub uses, and
/// returns the snapshot folder that <see cref="IJepaEncoder.Load(string, IJepaEncoderOptions?)"/> reads.
/// Only the files a model needs are fetched: <c>config.json</c>, <c>preprocessor_config.json</c>, and
/// <c>model.safetensors</c> or <c>model.safetensors.index.json</c> with its shards.
/// </summary>
public static class HuggingFaceHub
{
    private static readonly string[] OptionalFiles = ["preprocessor_config.json"];

    /// <summary>Whether <paramref name="text"/> has the shape of a hub model id, <c>org/name[@revision]</c>.</summary>
    public static bool IsModelId(string text) => text is not null && HubModelId.TryParse(text, out _);

    /// <summary>The cache folder in force for <paramref name="options"/> (see <see cref="HubOptions.CacheDirectory"/>).</summary>
    public static string CacheDirectory(HubOptions? options = null) =>
        (options ?? new HubOptions()).Resolve().CacheDirectory;

    /// <summary>Downloads the model's files (those not cached yet) and returns its snapshot folder.</summary>
    /// <param name="modelId"><c>org/name</c>, optionally followed by <c>@revision</c> (default <c>main</c>).</param>
    /// <param name="options">Endpoint, token, cache, offline mode, progress; null: from the environment.</param>
    /// <param name="cancellationToken">Stops the download; what was downloaded is kept and resumed next time.</param>
    /// <returns>The folder <c>{cache}/models--org--name/snapshots/{commit}</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> is not of the form <c>org/name[@revision]</c>.</exception>
    /// <exception cref="HubException">Not found, no access, offline and not cached, a corrupt download, a full disk, or the hub unreachable; <see cref="HubException.Kind"/> says which.</exception>
    public static async Task<string> DownloadModelAsync(string modelId, HubOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelId);
        if (!HubModelId.TryParse(modelId, out HubModelId id))
        {
            throw new ArgumentException($"'{modelId}' is not a hub model id (org/name, optionally @revision).", nameof(modelId));
        }
        options ??= new HubOptions();
        HubSettings settings = options.Resolve();
        var cache = new HubCache(settings.CacheDirectory, id.RepoId);
        if (settings.Offline)
        {
            return FromCache(cache, id, "HF_HUB_OFFLINE is set (or HubOptions.Offline)", null);
        }
        // A commit is immutable: when its snapshot is complete there is nothing to ask the hub.
        if (HubModelId.IsCommitHash(id.Revision) && cache.MissingModelFiles(id.Revision).Count == 0)
        {
            return cache.SnapshotFolder(id.Revision);
        }
        using var session = new HubSession(options, settings);
        HubFileMetadata config;
        try
        {
            config = await session.GetMetadataAsync(id.RepoId, id.Revision, "config.json", cancellationToken).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.ConnectionFailed)
        {
            // As huggingface_hub: an unreachable hub is not an error when the cache already has the model.
            return FromCache(cache, id, $"the hub cannot be reached ({e.Message})", e);
        }
        string commit = config.Commit;
        cache.WriteRef(id.Revision, commit);
        var model = new ModelDownload(session, cache, id.RepoId, commit, cancellationToken);
        await model.EnsureAsync("config.json", config).ConfigureAwait(false);
        foreach (string optional in OptionalFiles)
        {
            await model.TryEnsureAsync(optional).ConfigureAwait(false);
        }
        if (!await model.TryEnsureAsync("model.safetensors").ConfigureAwait(false))
        {
            if (!await model.TryEnsureAsync(HubFiles.Index).ConfigureAwait(false))
            {
                throw new HubException(HubErrorKind.FileNotFound, id.RepoId, "model.safetensors",
                    $"{id}: the repository (commit {commit}) has neither model.safetensors nor {HubFiles.Index}; it is not a safetensors model.");
            }
            IReadOnlyList<string> shards;
            try
            {
                shards = HubFiles.ShardsOf(cache.SnapshotFile(commit, HubFiles.Index));
            }
            catch (HubException e)
            {
                throw new HubException(e.Kind, id.RepoId, HubFiles.Index, e.Message, e);
            }
            foreach (string shard in shards)
            {
                await model.EnsureAsync(shard, null).ConfigureAwait(false);
            }
        }
        return cache.SnapshotFolder(commit);
    }

    /// <summary>Blocking form of <see cref="DownloadModelAsync"/>.</summary>
    /// <inheritdoc cref="DownloadModelAsync"/>
    public static string DownloadModel(string modelId, HubOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => DownloadModelAsync(modelId, options, cancellationToken), CancellationToken.None).GetAwaiter().GetResult();

    private static string FromCache(HubCache cache, HubModelId id, string why, Exception? inner)
    {
        string? commit = cache.ResolveCommit(id.Revision);
        if (commit is null)
        {
            throw new HubException(HubErrorKind.NotCached, id.RepoId, null,
                $"{id}: {why}, and the cache {cache.CacheDirectory} has no copy of revision '{id.Revision}' ({Path.Combine(cache.RepoFolder, "refs", id.Revision)} is missing). Run once with network access, or give a local folder.", inner);
        }
        IReadOnlyList<string> missing = cache.MissingModelFiles(commit);
        if (missing.Count > 0)
        {
            throw new HubException(HubErrorKind.NotCached, id.RepoId, missing[0],
                $"{id}: {why}, and the cached snapshot {cache.SnapshotFolder(commit)} lacks {string.Join(", ", missing)}. Run once with network access, or give a local folder.", inner);
        }
        return cache.SnapshotFolder(commit);
    }

    /// <summary>One model's files at one commit.</summary>
    private sealed class ModelDownload(HubSession session, HubCache cache, string repoId, string commit, CancellationToken cancellationToken)
    {
        /// <summary>Fetches <paramref name="file"/> unless absent from the repository; returns whether it is there.</summary>
        public async Task<bool> TryEnsureAsync(string file)
        {
            if (cache.HasFile(commit, file))
            {
                return true;
            }
            if (cache.IsMarkedMissing(commit, file))
            {
                return false;
            }
            try
            {
                await EnsureAsync(file, null).ConfigureAwait(false);
                return true;
            }
            catch (HubException e) when (e.Kind == HubErrorKind.FileNotFound)
            {
                cache.MarkMissing(commit, file);
                return false;
            }
        }

        public async Task EnsureAsync(string file, HubFileMetadata? metadata)
        {
            if (cache.HasFile(commit, file))
            {
                return;
            }
            // By commit, not by branch: every file comes from the commit config.json resolved to.
            metadata ??= await session.GetMetadataAsync(repoId, commit, file, cancellationToken).ConfigureAwait(false);
            if (!File.Exists(cache.BlobPath(metadata.Etag)))
            {
                await session.DownloadBlobAsync(cache, repoId, file, metadata, cancellationToken).ConfigureAwait(false);
            }
            cache.Link(commit, file, metadata.Etag);
        }
    }
}
