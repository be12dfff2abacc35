namespace IJepa.Hub;

/// <summary>What went wrong while resolving or downloading a model from the Hugging Face hub.</summary>
public enum HubErrorKind
{
    /// <summary>The hub has no repository of that id (or it is private and no token with access was sent).</summary>
    RepositoryNotFound,

    /// <summary>The repository exists but has no such file at that revision.</summary>
    FileNotFound,

    /// <summary>The branch, tag or commit does not exist in the repository.</summary>
    RevisionNotFound,

    /// <summary>The repository is gated or private and the token is missing or has no access.</summary>
    AccessDenied,

    /// <summary>Offline (<c>HF_HUB_OFFLINE=1</c>, or the hub unreachable) and the files are not in the cache.</summary>
    NotCached,

    /// <summary>A downloaded file's SHA-256 (or git hash) differs from the hub's; the partial file was deleted.</summary>
    HashMismatch,

    /// <summary>The cache's disk has too little free space, or filled up while writing.</summary>
    DiskFull,

    /// <summary>The hub kept answering 429 or 5xx after every retry, or answered an unexpected status.</summary>
    ServerError,

    /// <summary>The hub could not be reached, or the connection kept breaking after every retry.</summary>
    ConnectionFailed,

    /// <summary>The server's answer lacks what the hub protocol promises (commit, ETag, size): not a hub, or a proxy strips headers.</summary>
    BadResponse,
}

/// <summary>
/// A model could not be resolved or downloaded from the Hugging Face hub. The message names the
/// repository, the file where there is one, and what to do about it.
/// </summary>
public sealed class HubException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">The kind of failure.</param>
    /// <param name="repoId">The repository, as <c>org/name</c>.</param>
    /// <param name="fileName">The file concerned, or null for the repository as a whole.</param>
    /// <param name="message">The complete message.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public HubException(HubErrorKind kind, string repoId, string? fileName, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        RepoId = repoId;
        FileName = fileName;
    }

    /// <summary>The kind of failure.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>The repository, as <c>org/name</c>.</summary>
    public string RepoId { get; }

    /// <summary>The file concerned (e.g. <c>model.safetensors</c>), or null for the repository as a whole.</summary>
    public string? FileName { get; }
}
