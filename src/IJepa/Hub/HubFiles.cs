using System.Text.Json;

namespace IJepa.Hub;

/// <summary>The files of an I-JEPA model repository and the rules for names taken from the hub.</summary>
internal static class HubFiles
{
    public const string Index = "model.safetensors.index.json";

    /// <summary>The distinct shard files an index's <c>weight_map</c> names, in first-seen order.</summary>
    /// <exception cref="HubException">The index is unreadable or names a file outside the repository.</exception>
    public static IReadOnlyList<string> ShardsOf(string indexPath)
    {
        var shards = new List<string>();
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            foreach (JsonProperty entry in document.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                string shard = entry.Value.GetString() ?? throw new FormatException($"tensor {entry.Name} maps to null");
                if (!shards.Contains(shard))
                {
                    shards.Add(shard);
                }
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new HubException(HubErrorKind.BadResponse, "", Index, $"{indexPath}: not a safetensors index ({e.Message}).", e);
        }
        foreach (string shard in shards)
        {
            // The index comes from the network: a name that climbs out of the snapshot would write anywhere.
            if (!IsSafeName(shard))
            {
                throw new HubException(HubErrorKind.BadResponse, "", Index, $"{indexPath}: shard name '{shard}' is not a plain file name inside the repository.");
            }
        }
        return shards;
    }

    public static bool IsSafeName(string name) =>
        name.Length > 0 && !Path.IsPathRooted(name) && !name.Contains('\\', StringComparison.Ordinal)
        && name.Split('/').All(part => part is not ("" or "." or ".."));
}
