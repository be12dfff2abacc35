namespace IJepa.Hub;

/// <summary>Turns what a user passed to a Load method into a folder: a local path wins; else a hub id is fetched.</summary>
internal static class ModelSource
{
    /// <summary>The folder to load, and the hub id when it came from the hub (else null).</summary>
    public static async Task<(string Folder, string? HubId)> ResolveAsync(string folderOrId, HubOptions? options, CancellationToken cancellationToken)
    {
        if (Directory.Exists(folderOrId) || File.Exists(folderOrId) || !HubModelId.TryParse(folderOrId, out HubModelId id))
        {
            return (folderOrId, null);
        }
        try
        {
            string folder = await HuggingFaceHub.DownloadModelAsync(folderOrId, options, cancellationToken).ConfigureAwait(false);
            return (folder, id.ToString());
        }
        catch (HubException e) when (e.Kind is HubErrorKind.RepositoryNotFound or HubErrorKind.NotCached)
        {
            // "org/name" is also a relative path: the user may have meant a folder that is not there.
            throw new HubException(e.Kind, e.RepoId, e.FileName, $"{e.Message} (There is no local folder '{Path.GetFullPath(folderOrId)}' either.)", e);
        }
    }

    public static (string Folder, string? HubId) Resolve(string folderOrId, HubOptions? options) =>
        Directory.Exists(folderOrId) || File.Exists(folderOrId) || !HubModelId.TryParse(folderOrId, out _)
            ? (folderOrId, null)
            : Task.Run(() => ResolveAsync(folderOrId, options, CancellationToken.None), CancellationToken.None).GetAwaiter().GetResult();
}
