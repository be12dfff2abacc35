using System.Text.RegularExpressions;

namespace IJepa.Hub;

/// <summary>A hub model id, <c>org/name</c>, with the revision after an optional <c>@</c> (default <c>main</c>).</summary>
internal sealed partial record HubModelId(string RepoId, string Revision)
{
    // huggingface_hub's validate_repo_id, with the namespace required: a bare name is far more likely
    // to be a mistyped local folder than one of the few legacy ids without an organisation.
    [GeneratedRegex(@"^[A-Za-z0-9][\w.\-]{0,95}/[\w.\-]{1,96}$")]
    private static partial Regex RepoPattern();

    [GeneratedRegex(@"^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>Whether <paramref name="revision"/> is a full commit hash (then the cache alone can answer).</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    public override string ToString() => Revision == "main" ? RepoId : $"{RepoId}@{Revision}";

    public static bool TryParse(string text, out HubModelId id)
    {
        id = null!;
        int at = text.IndexOf('@', StringComparison.Ordinal);
        string repo = at < 0 ? text : text[..at];
        string revision = at < 0 ? "main" : text[(at + 1)..];
        if (!RepoPattern().IsMatch(repo) || repo.Contains("--", StringComparison.Ordinal) || repo.Contains("..", StringComparison.Ordinal)
            || repo.EndsWith(".git", StringComparison.Ordinal))
        {
            return false;
        }
        // Revisions name a ref file under refs/, so they must not climb out of it.
        if (revision.Length == 0 || revision.Any(char.IsWhiteSpace) || revision.Contains('\\', StringComparison.Ordinal)
            || revision.Split('/').Any(part => part is "" or "." or ".."))
        {
            return false;
        }
        id = new HubModelId(repo, revision);
        return true;
    }
}
