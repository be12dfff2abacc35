namespace IJepa.Hub;

/// <summary>
/// One repository's folder in the Hugging Face cache, laid out as huggingface_hub lays it out, so
/// that either side uses what the other wrote:
/// <c>models--{org}--{name}/blobs/{etag}</c> (the files' contents, named by the hub's ETag),
/// <c>snapshots/{commit}/{file}</c> (relative links to the blobs, copies where links are refused),
/// <c>refs/{revision}</c> (the commit a branch or tag pointed at, no newline),
/// <c>.no_exist/{commit}/{file}</c> (empty markers for files the hub said are absent), and
/// <c>{cache}/.locks/models--{org}--{name}/{etag}.lock</c> (taken while a blob is written).
/// </summary>
internal sealed class HubCache
{
    public HubCache(string cacheDirectory, string repoId)
    {
        string folderName = "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);
        CacheDirectory = cacheDirectory;
        RepoFolder = Path.Combine(cacheDirectory, folderName);
        LockFolder = Path.Combine(cacheDirectory, ".locks", folderName);
    }

    public string CacheDirectory { get; }

    public string RepoFolder { get; }

    public string LockFolder { get; }

    public string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    public string LockPath(string etag) => Path.Combine(LockFolder, etag + ".lock");

    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    public string SnapshotFile(string commit, string file) => Path.Combine(SnapshotFolder(commit), file);

    private string RefPath(string revision) => Path.Combine(RepoFolder, "refs", revision);

    private string NoExistPath(string commit, string file) => Path.Combine(RepoFolder, ".no_exist", commit, file);

    /// <summary>The commit <paramref name="revision"/> resolves to from the cache alone, or null.</summary>
    public string? ResolveCommit(string revision)
    {
        if (HubModelId.IsCommitHash(revision))
        {
            return revision;
        }
        string path = RefPath(revision);
        return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } commit ? commit : null;
    }

    /// <summary>Records that <paramref name="revision"/> points at <paramref name="commit"/> (nothing for a commit hash).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit || ResolveCommit(revision) == commit)
        {
            return;
        }
        string path = RefPath(revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // huggingface_hub writes the bare hash; a temporary file and a rename keep a concurrent reader from seeing half of it.
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, commit);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Whether the snapshot holds <paramref name="file"/> and, if it is a link, its blob is there too.</summary>
    public bool HasFile(string commit, string file) => IsUsable(SnapshotFile(commit, file));

    public static bool IsUsable(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null)
        {
            return info.Exists;
        }
        return info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
    }

    public bool IsMarkedMissing(string commit, string file) => File.Exists(NoExistPath(commit, file));

    public void MarkMissing(string commit, string file)
    {
        string path = NoExistPath(commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (File.Create(path))
        {
        }
    }

    /// <summary>Puts <paramref name="file"/> into the commit's snapshot as a relative link to its blob (a copy where links are refused).</summary>
    public void Link(string commit, string file, string etag)
    {
        string pointer = SnapshotFile(commit, file);
        string folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        string blob = BlobPath(etag);
        // Relative, as huggingface_hub makes them ("../../blobs/ETAG"), so the cache folder can be moved.
        string target = Path.GetRelativePath(folder, blob);
        string temporary = $"{pointer}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.CreateSymbolicLink(temporary, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, temporary, overwrite: true);
        }
        // Renaming over the pointer is atomic, so a process racing us to the same link cannot fail or see a half-made one.
        File.Move(temporary, pointer, overwrite: true);
    }

    /// <summary>The files of a loadable model in the commit's snapshot that are missing (empty when complete).</summary>
    public IReadOnlyList<string> MissingModelFiles(string commit)
    {
        var missing = new List<string>();
        if (!HasFile(commit, "config.json"))
        {
            missing.Add("config.json");
        }
        if (HasFile(commit, "model.safetensors"))
        {
            return missing;
        }
        if (!HasFile(commit, HubFiles.Index))
        {
            missing.Add("model.safetensors (or model.safetensors.index.json and its shards)");
            return missing;
        }
        try
        {
            missing.AddRange(HubFiles.ShardsOf(SnapshotFile(commit, HubFiles.Index)).Where(shard => !HasFile(commit, shard)));
        }
        catch (HubException)
        {
            missing.Add(HubFiles.Index + " (unreadable)");
        }
        return missing;
    }
}
