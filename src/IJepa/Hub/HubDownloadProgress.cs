namespace IJepa.Hub;

/// <summary>How far the download of one file has come.</summary>
/// <param name="RepoId">The repository, as <c>org/name</c>.</param>
/// <param name="FileName">The file being downloaded.</param>
/// <param name="BytesDone">Bytes on disk so far, including those kept from an interrupted earlier download.</param>
/// <param name="TotalBytes">The file's size as the hub announced it.</param>
public sealed record HubDownloadProgress(string RepoId, string FileName, long BytesDone, long TotalBytes);
